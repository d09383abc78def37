// The store side of the upload API's idempotency keys (migration 0007), as a contract run on
// SQLite and PostgreSQL; claims racing from two nodes are PostgreSQL only.
#include "testsupport.h"

#include <QTest>
#include <QThread>

#include <atomic>

using namespace Ferry;
using namespace Ferry::Test;

namespace {

constexpr qint64 Hour = 3600 * 1000;

IdempotencyClaim claimOf(qint64 user, const QString &key, qint64 now, const QByteArray &hash = "h1")
{
    IdempotencyClaim claim;
    claim.userId = user;
    claim.key = key;
    claim.requestHash = hash;
    claim.blobId = QStringLiteral("blob-") + QString::fromLatin1(hash);
    claim.now = now;
    claim.expiredBefore = now - 24 * Hour;
    claim.staleBefore = now - Hour / 6;
    return claim;
}

} // namespace

class tst_IdempotencyKeys : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void claimCompleteAndFind()
    {
        TempStore t;
        const qint64 alice = t.addUser(QStringLiteral("alice"));
        const qint64 bob = t.addUser(QStringLiteral("bob"));
        const qint64 now = 1'000 * Hour;
        auto first = t.store->claimIdempotencyKey(claimOf(alice, QStringLiteral("k"), now));
        QVERIFY2(first.ok(), qPrintable(first.error().toString()));
        QVERIFY(!first->has_value()); // alice holds it now

        // A second claim sees the first, in progress.
        auto second = t.store->claimIdempotencyKey(claimOf(alice, QStringLiteral("k"), now, "h2"));
        QVERIFY(second.ok() && second->has_value());
        QVERIFY((*second)->inProgress());
        QCOMPARE((*second)->requestHash, QByteArray("h1"));
        QCOMPARE((*second)->blobId, QStringLiteral("blob-h1"));

        QVERIFY(t.store
                    ->completeIdempotencyKey(alice, QStringLiteral("k"), QStringLiteral("s1"), 7,
                                             "{\"ok\":1}")
                    .ok());
        auto found = t.store->idempotencyKey(alice, QStringLiteral("k"), now - 24 * Hour);
        QVERIFY(found.ok() && found->has_value());
        QVERIFY(!(*found)->inProgress());
        QCOMPARE((*found)->sessionId, QStringLiteral("s1"));
        QCOMPARE((*found)->jobId, 7);
        QCOMPARE((*found)->response, QByteArray("{\"ok\":1}"));
        QCOMPARE((*found)->createdAt, now);
        // Older than the cut-off given: not found.
        QVERIFY(!t.store->idempotencyKey(alice, QStringLiteral("k"), now + 1)->has_value());
        // A finished key is not released by a failing request.
        QVERIFY(t.store->releaseIdempotencyKey(alice, QStringLiteral("k")).ok());
        QVERIFY(t.store->idempotencyKey(alice, QStringLiteral("k"), 0)->has_value());

        // Keys are per user.
        QVERIFY(!t.store->idempotencyKey(bob, QStringLiteral("k"), 0)->has_value());
        QVERIFY(!t.store->claimIdempotencyKey(claimOf(bob, QStringLiteral("k"), now))->has_value());
    }

    void releasedClaimCanBeClaimedAgain()
    {
        TempStore t;
        const qint64 alice = t.addUser(QStringLiteral("alice"));
        QVERIFY(!t.store->claimIdempotencyKey(claimOf(alice, QStringLiteral("k"), 0))->has_value());
        QVERIFY(t.store->releaseIdempotencyKey(alice, QStringLiteral("k")).ok());
        QVERIFY(!t.store->claimIdempotencyKey(claimOf(alice, QStringLiteral("k"), 0))->has_value());
    }

    void expiredAndAbandonedKeysMakeWay()
    {
        TempStore t;
        const qint64 alice = t.addUser(QStringLiteral("alice"));
        const qint64 start = 1'000 * Hour;
        QVERIFY(!t.store->claimIdempotencyKey(claimOf(alice, QStringLiteral("done"), start))
                     ->has_value());
        QVERIFY(t.store
                    ->completeIdempotencyKey(alice, QStringLiteral("done"), QStringLiteral("s"), 1,
                                             "{}")
                    .ok());
        QVERIFY(!t.store->claimIdempotencyKey(claimOf(alice, QStringLiteral("stuck"), start))
                     ->has_value());

        // 15 minutes later: the finished key holds, the in-progress one was abandoned.
        const qint64 later = start + Hour / 4;
        QVERIFY(t.store->claimIdempotencyKey(claimOf(alice, QStringLiteral("done"), later, "h2"))
                    ->has_value());
        QVERIFY(!t.store->claimIdempotencyKey(claimOf(alice, QStringLiteral("stuck"), later, "h2"))
                     ->has_value());

        // A day later the finished key is gone: not found, and claimable.
        const qint64 dayLater = start + 24 * Hour + 1;
        QVERIFY(!t.store->idempotencyKey(alice, QStringLiteral("done"), dayLater - 24 * Hour)
                     ->has_value());
        QVERIFY(!t.store->claimIdempotencyKey(claimOf(alice, QStringLiteral("other"), dayLater))
                     ->has_value());
        QString error;
        const auto rows = readRows(
            t.location(), QStringLiteral("SELECT key FROM idempotency_keys ORDER BY key"), &error);
        QVERIFY2(error.isEmpty(), qPrintable(error));
        // Pruned as the new key came in: only "other" and the 15-minutes-later "stuck" remain.
        QCOMPARE(rows.size(), 2);
        QCOMPARE(rows[0][0].toString(), QStringLiteral("other"));
        QCOMPARE(rows[1][0].toString(), QStringLiteral("stuck"));
    }

    void concurrentClaimsHaveOneWinner()
    {
        TempStore t;
        const qint64 alice = t.addUser(QStringLiteral("alice"));
        for (int round = 0; round < 20; ++round) {
            const QString key = QStringLiteral("race-%1").arg(round);
            std::atomic<int> winners = 0, losers = 0, failures = 0;
            QList<QThread *> threads;
            for (int i = 0; i < 4; ++i) {
                threads.append(QThread::create([&] {
                    auto claimed = t.store->claimIdempotencyKey(claimOf(alice, key, 0));
                    if (!claimed)
                        ++failures;
                    else if (claimed->has_value())
                        ++losers;
                    else
                        ++winners;
                }));
            }
            for (QThread *thread : threads)
                thread->start();
            for (QThread *thread : threads) {
                thread->wait();
                delete thread;
            }
            QCOMPARE(failures.load(), 0);
            QCOMPARE(winners.load(), 1);
            QCOMPARE(losers.load(), 3);
        }
    }

    void claimOfAnUnknownUserFails()
    {
        TempStore t;
        auto claimed = t.store->claimIdempotencyKey(claimOf(9999, QStringLiteral("k"), 0));
        QVERIFY(!claimed.ok());
        QCOMPARE(claimed.error().code, ErrorCode::Storage);
        QVERIFY(claimed.error().message.contains(u"claiming an idempotency key"));
    }

    void concurrentClaimsFromTwoNodesHaveOneWinner()
    {
        // Several nodes share one database only on PostgreSQL (a SQLite file has one engine).
        if (!onPostgres())
            QSKIP("PostgreSQL only: several nodes on one database");
        TempStore t;
        const qint64 alice = t.addUser(QStringLiteral("alice"));
        // A second node: its own store and connection pool on the same database.
        const std::unique_ptr<Store> other = openTestStore(t.location());
        QList<Store *> nodes{t.store.get(), other.get()};
        for (int round = 0; round < 10; ++round) {
            const QString key = QStringLiteral("race-%1").arg(round);
            std::atomic<int> winners = 0, losers = 0, failures = 0;
            QList<QThread *> threads;
            for (int i = 0; i < 4; ++i) {
                Store *node = nodes.at(i % 2);
                threads.append(QThread::create([&, node] {
                    auto claimed = node->claimIdempotencyKey(claimOf(alice, key, 0));
                    if (!claimed)
                        ++failures;
                    else if (claimed->has_value())
                        ++losers;
                    else
                        ++winners;
                }));
            }
            for (QThread *thread : threads)
                thread->start();
            for (QThread *thread : threads) {
                thread->wait();
                delete thread;
            }
            QCOMPARE(failures.load(), 0);
            QCOMPARE(winners.load(), 1);
            QCOMPARE(losers.load(), 3);
        }
    }
};

QTEST_GUILESS_MAIN(tst_IdempotencyKeys)
#include "tst_idempotencykeys.moc"
