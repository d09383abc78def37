// PostgresStore's upload-side methods against the throwaway server of the "ferry_pg" fixture
// (each case on a database of its own): tus uploads (the quoted "offset" column), idempotency
// keys (one winner among concurrent claims from two stores, i.e. two nodes), an upload session's
// job, and the resource monitor's samples. Ports of SqliteStore's behaviour, so the same
// statuses and error codes.

#include "pgtestsupport.h"
#include "store/databaseconfig.h"
#include "store/postgresstore.h"

#include <QTest>
#include <QThread>

#include <atomic>

using namespace Ferry;

namespace {

constexpr qint64 Now = 1'700'000'000'000;
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

TusUploadRecord tusRecord(const QString &id, qint64 userId, qint64 updatedAt)
{
    TusUploadRecord upload;
    upload.id = id;
    upload.userId = userId;
    upload.length = 1000;
    upload.offset = 0;
    upload.metadata = QJsonObject{{QStringLiteral("dataset"), QStringLiteral("people")},
                                  {QStringLiteral("filename"), QStringLiteral("p.csv")}};
    upload.quota = QJsonObject{{QStringLiteral("reservation"), 7}};
    upload.createdAt = updatedAt;
    upload.updatedAt = updatedAt;
    return upload;
}

ResourceSample sampleAt(qint64 ts, qint64 rss)
{
    ResourceSample s;
    s.timestampMs = ts;
    s.rssBytes = rss;
    s.cpuPercent = 12.5;
    s.systemMemTotalBytes = 8LL << 30;
    s.systemMemAvailableBytes = 4LL << 30;
    s.freeDiskBytes = 100LL << 30;
    s.activeJobs = 2;
    s.concurrencyLimit = 3;
    s.configuredMax = 4;
    s.queueDepth = 5'000'000'000LL; // past 32 bits: the column is BIGINT
    s.jobsCompletedPerMin = 60.5;
    s.httpRequestsPerSec = 1.25;
    s.http429PerSec = 0.5;
    return s;
}

} // namespace

class TestPostgresUploads : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init()
    {
        if (Test::postgresTestUrl().isEmpty())
            QSKIP("no PostgreSQL test server (run through ctest, or set FERRY_TEST_PG_URL)");
        QString error;
        const QString url = Test::createPostgresTestDatabase(QStringLiteral("pguploads"), &error);
        QVERIFY2(!url.isEmpty(), qPrintable(error));
        auto config = DatabaseConfig::fromUrl(url);
        QVERIFY(config.ok());
        m_config = *config;
        auto store = PostgresStore::open(m_config);
        QVERIFY2(store.ok(), store ? "" : qPrintable(store.error().message));
        m_store = std::move(*store);
    }

    void cleanup() { m_store.reset(); }

    void tusUploadLifecycle()
    {
        const qint64 alice = addUser(QStringLiteral("alice"));
        const qint64 bob = addUser(QStringLiteral("bob"));
        const QString id = QStringLiteral("0123456789abcdef0123456789abcdef");
        auto inserted = m_store->insertTusUpload(tusRecord(id, alice, Now));
        QVERIFY2(inserted.ok(), qPrintable(inserted.error().message));

        auto read = m_store->tusUpload(id, alice);
        QVERIFY2(read.ok(), qPrintable(read.error().message));
        QVERIFY(read->has_value());
        QCOMPARE((*read)->length, 1000);
        QCOMPARE((*read)->offset, 0);
        QCOMPARE((*read)->metadata.value(u"filename").toString(), QStringLiteral("p.csv"));
        QCOMPARE((*read)->quota.value(u"reservation").toInt(), 7);
        QVERIFY(!(*read)->complete());
        // Another user's upload is not found; without a user scope it is.
        QVERIFY(!m_store->tusUpload(id, bob)->has_value());
        QVERIFY(m_store->tusUpload(id, std::nullopt)->has_value());
        QVERIFY(!m_store->tusUpload(QStringLiteral("missing"), std::nullopt)->has_value());

        QVERIFY(m_store->setTusOffset(id, 400, Now + 5).ok());
        read = m_store->tusUpload(id, alice);
        QCOMPARE((*read)->offset, 400);
        QCOMPARE((*read)->updatedAt, Now + 5);

        // Completing sets the offset to the length and drops the quota reservation.
        QVERIFY(m_store->completeTusUpload(id, QStringLiteral("sess-1"), 42, Now + 9).ok());
        read = m_store->tusUpload(id, alice);
        QCOMPARE((*read)->offset, 1000);
        QCOMPARE((*read)->sessionId, QStringLiteral("sess-1"));
        QCOMPARE((*read)->jobId, 42);
        QVERIFY((*read)->quota.isEmpty());
        QVERIFY((*read)->complete());

        QVERIFY(m_store->deleteTusUpload(id).ok());
        QVERIFY(!m_store->tusUpload(id, std::nullopt)->has_value());
    }

    void tusDuplicateIdIsAConflictAndStaleUploadsAreListedOldestFirst()
    {
        const qint64 alice = addUser(QStringLiteral("alice"));
        QVERIFY(m_store->insertTusUpload(tusRecord(QStringLiteral("b"), alice, Now + 2)).ok());
        QVERIFY(m_store->insertTusUpload(tusRecord(QStringLiteral("a"), alice, Now + 1)).ok());
        QVERIFY(m_store->insertTusUpload(tusRecord(QStringLiteral("c"), alice, Now + 9)).ok());
        // SQLSTATE 23505 (unique_violation) maps to Conflict.
        auto duplicate = m_store->insertTusUpload(tusRecord(QStringLiteral("a"), alice, Now));
        QVERIFY(!duplicate.ok());
        QCOMPARE(duplicate.error().code, ErrorCode::Conflict);
        QVERIFY(duplicate.error().message.contains(u"creating upload a"));
        // An unknown user violates the foreign key: a storage error.
        auto orphan = m_store->insertTusUpload(tusRecord(QStringLiteral("d"), 9999, Now));
        QVERIFY(!orphan.ok());
        QCOMPARE(orphan.error().code, ErrorCode::Storage);

        auto stale = m_store->staleTusUploads(Now + 5, 10);
        QVERIFY2(stale.ok(), qPrintable(stale.error().message));
        QCOMPARE(stale->size(), 2);
        QCOMPARE(stale->at(0).id, QStringLiteral("a"));
        QCOMPARE(stale->at(1).id, QStringLiteral("b"));
        QCOMPARE(m_store->staleTusUploads(Now + 100, 1)->size(), 1);
    }

    void idempotencyClaimCompleteAndFind()
    {
        const qint64 alice = addUser(QStringLiteral("alice"));
        const qint64 bob = addUser(QStringLiteral("bob"));
        const qint64 now = 1'000 * Hour;
        auto first = m_store->claimIdempotencyKey(claimOf(alice, QStringLiteral("k"), now));
        QVERIFY2(first.ok(), qPrintable(first.error().toString()));
        QVERIFY(!first->has_value()); // alice holds it now

        // A second claim sees the first, in progress.
        auto second = m_store->claimIdempotencyKey(claimOf(alice, QStringLiteral("k"), now, "h2"));
        QVERIFY2(second.ok(), qPrintable(second.error().toString()));
        QVERIFY(second->has_value());
        QVERIFY((*second)->inProgress());
        QCOMPARE((*second)->requestHash, QByteArray("h1"));
        QCOMPARE((*second)->blobId, QStringLiteral("blob-h1"));

        QVERIFY(m_store
                    ->completeIdempotencyKey(alice, QStringLiteral("k"), QStringLiteral("s1"), 7,
                                             "{\"ok\":1}")
                    .ok());
        auto found = m_store->idempotencyKey(alice, QStringLiteral("k"), now - 24 * Hour);
        QVERIFY(found.ok() && found->has_value());
        QVERIFY(!(*found)->inProgress());
        QCOMPARE((*found)->sessionId, QStringLiteral("s1"));
        QCOMPARE((*found)->jobId, 7);
        QCOMPARE((*found)->response, QByteArray("{\"ok\":1}"));
        // Keys are per user; too old is not found.
        QVERIFY(!m_store->idempotencyKey(bob, QStringLiteral("k"), 0)->has_value());
        QVERIFY(!m_store->idempotencyKey(alice, QStringLiteral("k"), now + 1)->has_value());
        // Release only drops a key still in progress.
        QVERIFY(m_store->releaseIdempotencyKey(alice, QStringLiteral("k")).ok());
        QVERIFY(m_store->idempotencyKey(alice, QStringLiteral("k"), 0)->has_value());
    }

    void idempotencyReleasedExpiredAndAbandonedKeysMakeWay()
    {
        const qint64 alice = addUser(QStringLiteral("alice"));
        QVERIFY(!m_store->claimIdempotencyKey(claimOf(alice, QStringLiteral("r"), 0))->has_value());
        QVERIFY(m_store->releaseIdempotencyKey(alice, QStringLiteral("r")).ok());
        QVERIFY(!m_store->claimIdempotencyKey(claimOf(alice, QStringLiteral("r"), 0))->has_value());

        const qint64 start = 1'000 * Hour;
        QVERIFY(!m_store->claimIdempotencyKey(claimOf(alice, QStringLiteral("done"), start))
                     ->has_value());
        QVERIFY(m_store
                    ->completeIdempotencyKey(alice, QStringLiteral("done"), QStringLiteral("s"), 1,
                                             "{}")
                    .ok());
        QVERIFY(!m_store->claimIdempotencyKey(claimOf(alice, QStringLiteral("stuck"), start))
                     ->has_value());
        // 15 minutes later: the finished key holds, the in-progress one was abandoned.
        const qint64 later = start + Hour / 4;
        QVERIFY(m_store->claimIdempotencyKey(claimOf(alice, QStringLiteral("done"), later, "h2"))
                    ->has_value());
        QVERIFY(!m_store->claimIdempotencyKey(claimOf(alice, QStringLiteral("stuck"), later, "h2"))
                     ->has_value());
        // A day later the finished key is gone (pruned as a new key came in) and claimable.
        const qint64 dayLater = start + 24 * Hour + 1;
        QVERIFY(!m_store->claimIdempotencyKey(claimOf(alice, QStringLiteral("other"), dayLater))
                     ->has_value());
        QVERIFY(!m_store->idempotencyKey(alice, QStringLiteral("done"), 0)->has_value());
        QVERIFY(m_store->idempotencyKey(alice, QStringLiteral("stuck"), 0)->has_value());
    }

    void idempotencyClaimOfAnUnknownUserFails()
    {
        auto claimed = m_store->claimIdempotencyKey(claimOf(9999, QStringLiteral("k"), Now));
        QVERIFY(!claimed.ok());
        QCOMPARE(claimed.error().code, ErrorCode::Storage);
        QVERIFY(claimed.error().message.contains(u"claiming an idempotency key"));
    }

    void concurrentClaimsFromTwoNodesHaveOneWinner()
    {
        const qint64 alice = addUser(QStringLiteral("alice"));
        auto other = PostgresStore::open(m_config); // a second node: its own connection pool
        QVERIFY2(other.ok(), other ? "" : qPrintable(other.error().message));
        QList<Store *> nodes{m_store.get(), other->get()};
        for (int round = 0; round < 10; ++round) {
            const QString key = QStringLiteral("race-%1").arg(round);
            std::atomic<int> winners = 0, losers = 0, failures = 0;
            QList<QThread *> threads;
            for (int i = 0; i < 4; ++i) {
                Store *node = nodes.at(i % 2);
                threads.append(QThread::create([&, node] {
                    auto claimed = node->claimIdempotencyKey(claimOf(alice, key, Now));
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

    void sessionJobIsTheNewestJobOfTheSession()
    {
        const qint64 alice = addUser(QStringLiteral("alice"));
        QVERIFY(!m_store->sessionJob(QStringLiteral("sess"))->has_value());
        NewJob job;
        job.userId = alice;
        job.type = QStringLiteral("noop");
        job.maxAttempts = 3;
        job.session = UploadSession{
            QStringLiteral("sess"), alice, QStringLiteral("f.csv"), QStringLiteral("text/csv"), 10,
            QStringLiteral("00"),   Now};
        auto first = m_store->enqueue({job}, Now);
        QVERIFY2(first.ok(), qPrintable(first.error().message));
        auto found = m_store->sessionJob(QStringLiteral("sess"));
        QVERIFY2(found.ok(), qPrintable(found.error().message));
        QVERIFY(found->has_value());
        QCOMPARE((*found)->jobId, first->at(0).id);
        QCOMPARE((*found)->status, JobStatus::Pending);
        QCOMPARE(*m_store->cancelJob(first->at(0).id, alice, Now + 1), JobStatus::Cancelled);
        found = m_store->sessionJob(QStringLiteral("sess"));
        QCOMPARE((*found)->status, JobStatus::Cancelled);
    }

    void metricSamplesReplacePruneAndReadInOrder()
    {
        const auto second = MetricResolution::Second;
        auto saved = m_store->saveMetricSamples(
            second, {sampleAt(Now + 2000, 3), sampleAt(Now, 1), sampleAt(Now + 1000, 2)}, 0);
        QVERIFY2(saved.ok(), qPrintable(saved.error().message));
        // The same second again replaces its row (SQLite's INSERT OR REPLACE); older rows of
        // this resolution are pruned, the minute rows are not.
        QVERIFY(m_store->saveMetricSamples(MetricResolution::Minute, {sampleAt(Now, 9)}, 0).ok());
        QVERIFY(m_store->saveMetricSamples(second, {sampleAt(Now + 1000, 20)}, Now + 500).ok());
        auto samples = m_store->metricSamples(second, 0);
        QVERIFY2(samples.ok(), qPrintable(samples.error().message));
        QCOMPARE(samples->size(), 2);
        QCOMPARE(samples->at(0).timestampMs, Now + 1000);
        QCOMPARE(samples->at(0).rssBytes, 20);
        QCOMPARE(samples->at(1).rssBytes, 3);
        const ResourceSample &s = samples->at(1);
        QCOMPARE(s.cpuPercent, 12.5);
        QCOMPARE(s.queueDepth, 5'000'000'000LL);
        QCOMPARE(s.activeJobs, 2);
        QCOMPARE(s.concurrencyLimit, 3);
        QCOMPARE(s.configuredMax, 4);
        QCOMPARE(s.jobsCompletedPerMin, 60.5);
        QCOMPARE(s.httpRequestsPerSec, 1.25);
        QCOMPARE(s.http429PerSec, 0.5);
        QCOMPARE(m_store->metricSamples(second, Now + 1500)->size(), 1);
        QCOMPARE(m_store->metricSamples(MetricResolution::Minute, 0)->size(), 1);
    }

private:
    qint64 addUser(const QString &name)
    {
        auto user = m_store->createUser(name, QStringLiteral("standard"), name.toUtf8(), Now);
        if (!user)
            qFatal("creating user %s: %s", qPrintable(name), qPrintable(user.error().message));
        return user->id;
    }

    DatabaseConfig m_config;
    std::unique_ptr<PostgresStore> m_store;
};

QTEST_GUILESS_MAIN(TestPostgresUploads)
#include "tst_postgresuploads.moc"
