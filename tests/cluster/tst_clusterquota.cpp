// Per-user quotas hold across nodes: two PostgresStores (two connection pools, as two nodes on one
// database have) reserving uploads for one user at once grant exactly the limit. reserveQuota
// locks the user's row before it reads the usage, so the nodes take turns.
#include "pgtestsupport.h"
#include "store/databaseconfig.h"
#include "store/postgresstore.h"

#include <QTest>

#include <atomic>
#include <thread>
#include <vector>

using namespace Ferry;

namespace {

constexpr qint64 Now = 1'700'000'000'000;
const QString Period = QStringLiteral("2023-11");

} // namespace

class tst_ClusterQuota : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void twoNodesReservingAtTheLimitGrantExactlyTheLimit_data();
    void twoNodesReservingAtTheLimitGrantExactlyTheLimit();
};

void tst_ClusterQuota::twoNodesReservingAtTheLimitGrantExactlyTheLimit_data()
{
    QTest::addColumn<bool>("byBytes");
    QTest::newRow("uploads limit") << false;
    QTest::newRow("bytes limit") << true;
}

void tst_ClusterQuota::twoNodesReservingAtTheLimitGrantExactlyTheLimit()
{
    QFETCH(bool, byBytes);
    if (Test::postgresTestUrl().isEmpty())
        QSKIP("no PostgreSQL test server (run through ctest, or set FERRY_TEST_PG_URL)");
    QString error;
    const QString url = Test::createPostgresTestDatabase(QStringLiteral("clusterquota"), &error);
    QVERIFY2(!url.isEmpty(), qPrintable(error));
    auto config = DatabaseConfig::fromUrl(url);
    QVERIFY(config.ok());
    auto nodeA = PostgresStore::open(*config);
    QVERIFY2(nodeA.ok(), nodeA ? "" : qPrintable(nodeA.error().toString()));
    auto nodeB = PostgresStore::open(*config);
    QVERIFY2(nodeB.ok(), nodeB ? "" : qPrintable(nodeB.error().toString()));
    auto user =
        (*nodeA)->createUser(QStringLiteral("alice"), QStringLiteral("free"), "hash-a", Now);
    QVERIFY(user.ok());

    constexpr qint64 Limit = 12;
    constexpr qint64 Bytes = 1000;
    const qint64 uploadsLimit = byBytes ? -1 : Limit;
    const qint64 bytesLimit = byBytes ? Limit * Bytes : -1;
    constexpr int ThreadsPerNode = 4;
    constexpr int AttemptsPerThread = 8; // 64 attempts for 12 places
    std::atomic<int> granted{0};
    std::atomic<int> refused{0};
    std::atomic<int> failed{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 2 * ThreadsPerNode; ++t) {
        PostgresStore *store = (t % 2 ? *nodeB : *nodeA).get();
        threads.emplace_back([&, store] {
            for (int i = 0; i < AttemptsPerThread; ++i) {
                auto reserved =
                    store->reserveQuota(user->id, Period, Bytes, uploadsLimit, bytesLimit, Now);
                if (!reserved)
                    failed.fetch_add(1);
                else if (reserved->outcome == QuotaOutcome::Granted)
                    granted.fetch_add(1);
                else
                    refused.fetch_add(1);
            }
        });
    }
    for (std::thread &thread : threads)
        thread.join();
    QCOMPARE(failed.load(), 0);
    QCOMPARE(granted.load(), int(Limit));
    QCOMPARE(refused.load(), 2 * ThreadsPerNode * AttemptsPerThread - int(Limit));
    // Both nodes read the same usage: the reservations, exactly the limit.
    for (PostgresStore *store : {nodeA->get(), nodeB->get()}) {
        auto usage = store->quotaUsage(user->id, Period);
        QVERIFY(usage.ok());
        QCOMPARE(usage->reservedUploads, Limit);
        QCOMPARE(usage->uploads, Limit);
        QCOMPARE(usage->bytes, Limit * Bytes);
    }
}

QTEST_GUILESS_MAIN(tst_ClusterQuota)
#include "tst_clusterquota.moc"
