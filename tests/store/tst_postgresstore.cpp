// PostgresStore against the throwaway server of the "ferry_pg" fixture: each test case gets a
// database of its own. The queue's core on PostgreSQL; the other areas have suites of their own
// (tst_postgres*), and the generic suites run here too as their _pg twins.

#include "pgtestsupport.h"
#include "store/databaseconfig.h"
#include "store/postgresstore.h"
#include "store/storefactory.h"

#include <QJsonArray>
#include <QJsonObject>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QTest>

using namespace Ferry;

namespace {

constexpr qint64 Now = 1'700'000'000'000;

NewJob newJob(qint64 userId, const QString &type, int priority = 0)
{
    NewJob job;
    job.userId = userId;
    job.type = type;
    job.payload = QJsonObject{{QStringLiteral("dataset"), QStringLiteral("people")}};
    job.priority = priority;
    job.maxAttempts = 3;
    job.timeoutMs = 60'000;
    return job;
}

ClaimRequest claimRequest(int limit)
{
    return ClaimRequest{QStringLiteral("node-a"), limit, Now + 10, 30'000, 0};
}

// The claimed job's attempt, ended completed at Now + 20.
SettledAttempt completedAttempt(const ClaimedJob &job)
{
    SettledAttempt done;
    done.jobId = job.id;
    done.userId = job.userId;
    done.leaseToken = job.leaseToken;
    done.attempt = job.attempt;
    done.startedAt = job.startedAt;
    done.finishedAt = Now + 20;
    done.newStatus = JobStatus::Completed;
    done.outcome = QStringLiteral("completed");
    return done;
}

} // namespace

class TestPostgresStore : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init()
    {
        if (Test::postgresTestUrl().isEmpty())
            QSKIP("no PostgreSQL test server (run through ctest, or set FERRY_TEST_PG_URL)");
        QString error;
        m_url = Test::createPostgresTestDatabase(QStringLiteral("pgstore"), &error);
        QVERIFY2(!m_url.isEmpty(), qPrintable(error));
        auto config = DatabaseConfig::fromUrl(m_url);
        QVERIFY(config.ok());
        m_config = *config;
        auto store = PostgresStore::open(m_config);
        QVERIFY2(store.ok(), store ? "" : qPrintable(store.error().message));
        m_store = std::move(*store);
    }

    void cleanup() { m_store.reset(); }

    void migratesToTheNewestSchemaOnce()
    {
        QCOMPARE(m_store->backendName(), QStringLiteral("postgresql"));
        const int newest = 22; // 0022_fair_clock_slots: claims advance a slot of the clock each
        QCOMPARE(m_store->schemaVersion(), newest);
        m_store.reset();
        // Opening again finds the schema current and applies nothing twice.
        auto again = PostgresStore::open(m_config);
        QVERIFY2(again.ok(), again ? "" : qPrintable(again.error().message));
        QCOMPARE((*again)->schemaVersion(), newest);
    }

    void storeFactoryOpensPostgresUrls()
    {
        auto config = DatabaseConfig::fromUrl(m_url);
        QVERIFY(config.ok());
        auto store = openStore(*config);
        QVERIFY2(store.ok(), store ? "" : qPrintable(store.error().message));
        QCOMPARE((*store)->backendName(), QStringLiteral("postgresql"));
    }

    void usersRoundTrip()
    {
        const QByteArray hash = QByteArray::fromHex("00ff10deadbeef");
        auto alice =
            m_store->createUser(QStringLiteral("alice"), QStringLiteral("standard"), hash, Now);
        QVERIFY2(alice.ok(), alice ? "" : qPrintable(alice.error().message));
        QVERIFY(alice->id > 0);
        auto duplicate =
            m_store->createUser(QStringLiteral("alice"), QStringLiteral("standard"), "x", Now);
        QVERIFY(!duplicate.ok());
        QCOMPARE(duplicate.error().code, ErrorCode::Conflict);

        auto byHash = m_store->userByTokenHash(hash);
        QVERIFY(byHash.ok() && byHash->has_value());
        QCOMPARE((*byHash)->name, QStringLiteral("alice"));
        QVERIFY(m_store->setUserDisabled(alice->id, true).ok());
        auto byName = m_store->userByName(QStringLiteral("alice"));
        QVERIFY(byName.ok() && byName->has_value());
        QVERIFY((*byName)->disabled);
        QCOMPARE((*byName)->createdAt, Now);
        QCOMPARE(m_store->setUserDisabled(alice->id + 1000, true).error().code,
                 ErrorCode::NotFound);
    }

    void settingsRoundTrip()
    {
        QVERIFY(!m_store->setting(QStringLiteral("k"))->has_value());
        QVERIFY(m_store->setSetting(QStringLiteral("k"), QStringLiteral("one")).ok());
        QVERIFY(m_store->setSetting(QStringLiteral("k"), QStringLiteral("two")).ok());
        QCOMPARE(m_store->setting(QStringLiteral("k"))->value(), QStringLiteral("two"));
    }

    void enqueueClaimComplete()
    {
        const qint64 user = addUser(QStringLiteral("bob"));
        NewJob unique = newJob(user, QStringLiteral("echo"));
        unique.uniqueKey = QStringLiteral("once");
        auto enqueued =
            m_store->enqueue({unique, newJob(user, QStringLiteral("echo"), 5), unique}, Now);
        QVERIFY2(enqueued.ok(), enqueued ? "" : qPrintable(enqueued.error().message));
        QCOMPARE(enqueued->size(), 3);
        QVERIFY(!enqueued->at(0).deduplicated);
        QVERIFY(!enqueued->at(1).deduplicated);
        QVERIFY(enqueued->at(2).deduplicated);
        QCOMPARE(enqueued->at(2).id, enqueued->at(0).id);
        QCOMPARE(*m_store->pendingJobCount(), 2);

        // Priority first: the priority 5 job, then the other.
        auto claimed = m_store->settleAndClaim({}, claimRequest(10));
        QVERIFY2(claimed.ok(), claimed ? "" : qPrintable(claimed.error().message));
        QCOMPARE(claimed->size(), 2);
        QCOMPARE(claimed->at(0).id, enqueued->at(1).id);
        QCOMPARE(claimed->at(0).attempt, 1);
        QCOMPARE(claimed->at(0).payload.value(QStringLiteral("dataset")).toString(),
                 QStringLiteral("people"));
        const ClaimedJob first = claimed->at(0);

        auto running = m_store->job(first.id, user);
        QVERIFY(running.ok() && running->has_value());
        QCOMPARE((*running)->status, JobStatus::Running);
        QCOMPARE((*running)->leaseOwner, QStringLiteral("node-a"));
        QCOMPARE((*running)->leaseExpiresAt, Now + 10 + 30'000);

        SettledAttempt done = completedAttempt(first);
        done.result = QJsonObject{{QStringLiteral("ok"), true}};
        SettledAttempt stale = done; // an old lease token: fenced, changes nothing
        stale.jobId = claimed->at(1).id;
        stale.leaseToken = claimed->at(1).leaseToken - 1;
        auto settled = m_store->settleAndClaim({done, stale}, claimRequest(0));
        QVERIFY2(settled.ok(), settled ? "" : qPrintable(settled.error().message));
        QVERIFY(settled->isEmpty());

        auto completed = m_store->job(first.id, user);
        QVERIFY(completed.ok() && completed->has_value());
        QCOMPARE((*completed)->status, JobStatus::Completed);
        QCOMPARE((*completed)->finishedAt, Now + 20);
        QVERIFY((*completed)->leaseOwner.isEmpty());
        QCOMPARE((*completed)->result.value(QStringLiteral("ok")).toBool(), true);
        QCOMPARE(m_store->job(claimed->at(1).id, user)->value().status, JobStatus::Running);
        // Another user's job is not found.
        QVERIFY(!m_store->job(first.id, user + 1000)->has_value());
        // A session still referenced by a job is not pruned.
        QVERIFY(m_store->pruneSessions(Now + 1'000'000, 10)->isEmpty());

        auto attempts = m_store->attempts(first.id);
        QVERIFY(attempts.ok());
        QCOMPARE(attempts->size(), 1);
        QCOMPARE(attempts->at(0).outcome, QStringLiteral("completed"));
        QCOMPARE(attempts->at(0).node, QStringLiteral("node-a"));

        auto counts = m_store->countByStatus();
        QVERIFY(counts.ok());
        QCOMPARE(counts->value(JobStatus::Completed), 1);
        QCOMPARE(counts->value(JobStatus::Running), 1);

        JobFilter filter;
        filter.userId = user;
        filter.dataset = QStringLiteral("people");
        filter.limit = 10;
        auto listed = m_store->jobs(filter);
        QVERIFY2(listed.ok(), listed ? "" : qPrintable(listed.error().message));
        QCOMPARE(listed->size(), 2);
    }

    void claimSkipsRowsAnotherTransactionHolds()
    {
        const qint64 user = addUser(QStringLiteral("carol"));
        auto enqueued = m_store->enqueue(
            {newJob(user, QStringLiteral("a")), newJob(user, QStringLiteral("b"))}, Now);
        QVERIFY(enqueued.ok());
        const qint64 held = enqueued->at(0).id;

        // Another node's claim in progress: it holds the first job's row lock.
        const QString name = QStringLiteral("other-node");
        {
            QSqlDatabase other = session(name);
            QVERIFY2(other.open(), qPrintable(other.lastError().text()));
            QSqlQuery lock(other);
            QVERIFY(lock.exec(QStringLiteral("BEGIN")));
            QVERIFY(lock.exec(
                QStringLiteral("SELECT id FROM jobs WHERE id = %1 FOR UPDATE").arg(held)));

            // This claim neither waits for that lock nor takes the held job.
            auto claimed = m_store->settleAndClaim({}, claimRequest(10));
            QVERIFY2(claimed.ok(), claimed ? "" : qPrintable(claimed.error().message));
            QCOMPARE(claimed->size(), 1);
            QCOMPARE(claimed->at(0).id, enqueued->at(1).id);

            QVERIFY(lock.exec(QStringLiteral("ROLLBACK")));
            other.close();
        }
        QSqlDatabase::removeDatabase(name);
        auto rest = m_store->settleAndClaim({}, claimRequest(10));
        QVERIFY(rest.ok());
        QCOMPARE(rest->size(), 1);
        QCOMPARE(rest->at(0).id, held);
    }

    void claimRespectsThePerUserCap()
    {
        const qint64 dan = addUser(QStringLiteral("dan"));
        const qint64 eve = addUser(QStringLiteral("eve"));
        QList<NewJob> jobs;
        for (int i = 0; i < 3; ++i)
            jobs << newJob(dan, QStringLiteral("d"), 1);
        jobs << newJob(eve, QStringLiteral("e"));
        QVERIFY(m_store->enqueue(jobs, Now).ok());
        ClaimRequest request = claimRequest(10);
        request.maxPerUser = 2;
        auto claimed = m_store->settleAndClaim({}, request);
        QVERIFY2(claimed.ok(), claimed ? "" : qPrintable(claimed.error().message));
        QCOMPARE(claimed->size(), 3); // two of dan's, eve's one
        int dans = 0;
        for (const ClaimedJob &job : *claimed)
            dans += job.userId == dan ? 1 : 0;
        QCOMPARE(dans, 2);
        // dan already runs two: nothing more for him.
        auto more = m_store->settleAndClaim({}, request);
        QVERIFY(more.ok());
        QVERIFY(more->isEmpty());
    }

    void cancelRetryAndPriority()
    {
        const qint64 user = addUser(QStringLiteral("fay"));
        auto enqueued = m_store->enqueue(
            {newJob(user, QStringLiteral("a")), newJob(user, QStringLiteral("b"))}, Now);
        QVERIFY(enqueued.ok());
        const qint64 waiting = enqueued->at(0).id;
        const qint64 later = enqueued->at(1).id;

        // Another user's job is not found, and nothing changes.
        QCOMPARE(m_store->cancelJob(waiting, user + 1000, Now).error().code, ErrorCode::NotFound);
        QCOMPARE(m_store->setPriority(waiting, user + 1000, 9).error().code, ErrorCode::NotFound);

        auto cancelled = m_store->cancelJob(waiting, user, Now + 1);
        QVERIFY2(cancelled.ok(), qPrintable(cancelled.error().message));
        QCOMPARE(*cancelled, JobStatus::Cancelled);
        QCOMPARE(m_store->cancelJob(waiting, user, Now + 2).error().code, ErrorCode::Conflict);
        QVERIFY(m_store->retryJob(waiting, user, Now + 3).ok());
        QCOMPARE(m_store->job(waiting, user)->value().status, JobStatus::Pending);
        QCOMPARE(m_store->retryJob(waiting, user, Now + 3).error().code, ErrorCode::Conflict);

        // Raising the later job's priority makes it the next claimed.
        QVERIFY(m_store->setPriority(later, user, 9).ok());
        auto claimed = m_store->settleAndClaim({}, claimRequest(1));
        QVERIFY(claimed.ok());
        QCOMPARE(claimed->size(), 1);
        QCOMPARE(claimed->at(0).id, later);

        // Cancelling a running job asks its node to stop it.
        auto asked = m_store->cancelJob(later, std::nullopt, Now + 4);
        QVERIFY(asked.ok());
        QCOMPARE(*asked, JobStatus::Running);
        auto toStop = m_store->cancelRequested(QStringLiteral("node-a"));
        QVERIFY(toStop.ok());
        QCOMPARE(*toStop, QList<qint64>{later});
    }

    void rescuesLeasesOfAStoppedNode()
    {
        const qint64 user = addUser(QStringLiteral("gus"));
        NewJob once = newJob(user, QStringLiteral("a"));
        once.maxAttempts = 1;
        auto enqueued = m_store->enqueue({newJob(user, QStringLiteral("a")), once}, Now);
        QVERIFY(enqueued.ok());
        auto claimed = m_store->settleAndClaim({}, claimRequest(10));
        QVERIFY(claimed.ok());
        QCOMPARE(claimed->size(), 2);
        QList<HeldLease> leases;
        for (const ClaimedJob &job : *claimed)
            leases.append({job.id, job.leaseToken});
        QCOMPARE(m_store->renewLeases(QStringLiteral("node-a"), leases, Now + 40'000)->size(), 2);
        // By token: a lease under another token (an earlier attempt) is not renewed.
        QVERIFY(m_store
                    ->renewLeases(QStringLiteral("node-a"),
                                  {{claimed->first().id, claimed->first().leaseToken - 1}},
                                  Now + 40'000)
                    ->isEmpty());

        // Not expired yet: nothing to rescue; the owner never rescues its own leases.
        QVERIFY(
            m_store
                ->rescueLeases(RescueScope::ExpiredLeases, QStringLiteral("node-b"), Now + 39'000)
                ->isEmpty());
        QVERIFY(m_store->rescueLeases(RescueScope::AllButThisNode, QStringLiteral("node-a"), Now)
                    ->isEmpty());

        auto rescued = m_store->rescueLeases(RescueScope::ExpiredLeases, QStringLiteral("node-b"),
                                             Now + 41'000);
        QVERIFY2(rescued.ok(), qPrintable(rescued.error().message));
        QCOMPARE(rescued->size(), 2);
        QHash<qint64, JobStatus> statuses;
        for (const RescuedJob &job : *rescued)
            statuses.insert(job.id, job.newStatus);
        QCOMPARE(statuses.value(enqueued->at(0).id), JobStatus::Pending);
        QCOMPARE(statuses.value(enqueued->at(1).id), JobStatus::Dead);
        auto attempts = m_store->attempts(enqueued->at(1).id);
        QVERIFY(attempts.ok());
        QCOMPARE(attempts->size(), 1);
        QCOMPARE(attempts->at(0).outcome, QStringLiteral("lost"));
        QCOMPARE(attempts->at(0).node, QStringLiteral("node-a"));
    }

    void quotasReserveSettleAndRefund()
    {
        const qint64 user = addUser(QStringLiteral("hal"));
        const QString period = QStringLiteral("2026-11");
        QVERIFY(m_store->setQuotaLimits(user, {std::optional<qint64>(2), std::nullopt}).ok());
        auto limits = m_store->quotaLimits(user);
        QVERIFY2(limits.ok(), qPrintable(limits.error().message));
        QCOMPARE(limits->uploads, std::optional<qint64>(2));
        QVERIFY(!limits->bytes.has_value());

        auto first = m_store->reserveQuota(user, period, 100, 2, 1000, Now);
        QVERIFY2(first.ok(), qPrintable(first.error().message));
        QCOMPARE(first->outcome, QuotaOutcome::Granted);
        QCOMPARE(m_store->reserveQuota(user, period, 950, 2, 1000, Now)->outcome,
                 QuotaOutcome::BytesExceeded);
        auto settled = m_store->settleQuota(first->reservationId, 120, 1000);
        QVERIFY2(settled.ok(), qPrintable(settled.error().message));
        QCOMPARE(*settled, QuotaOutcome::Granted);
        auto usage = m_store->quotaUsage(user, period);
        QVERIFY(usage.ok());
        QCOMPARE(usage->uploads, 1);
        QCOMPARE(usage->bytes, 120);

        auto second = m_store->reserveQuota(user, period, 10, 2, 1000, Now);
        QVERIFY(second.ok());
        QCOMPARE(m_store->reserveQuota(user, period, 10, 2, 1000, Now)->outcome,
                 QuotaOutcome::UploadsExceeded);
        QCOMPARE(*m_store->releaseAllQuotaReservations(), 1);
        QCOMPARE(m_store->settleQuota(second->reservationId, 10, 1000).error().code,
                 ErrorCode::NotFound);

        QVERIFY(m_store->refundQuota(user, period, 500).ok());
        QCOMPARE(m_store->quotaUsage(user, period)->bytes, 0);
        QCOMPARE(m_store->quotaUsage(user, period)->uploads, 0);
        QVERIFY(m_store->resetQuotaUsage(user, period).ok());
    }

    void sessionsArePrunedAfterTheirJobs()
    {
        const qint64 user = addUser(QStringLiteral("ida"));
        NewJob job = newJob(user, QStringLiteral("import"));
        job.session = UploadSession{
            QStringLiteral("s-1"),    user, QStringLiteral("a.csv"), QStringLiteral("text/csv"), 42,
            QStringLiteral("blob-1"), Now};
        auto enqueued = m_store->enqueue({job}, Now);
        QVERIFY2(enqueued.ok(), qPrintable(enqueued.error().message));
        auto session = m_store->session(QStringLiteral("s-1"), user);
        QVERIFY(session.ok() && session->has_value());
        QCOMPARE((*session)->sizeBytes, 42);
        QVERIFY(!m_store->session(QStringLiteral("s-1"), user + 1000)->has_value());
        QVERIFY(*m_store->blobReferenced(QStringLiteral("blob-1")));

        // Still referenced by its job: kept.
        QVERIFY(m_store->pruneSessions(Now + 1, 10)->isEmpty());
        QCOMPARE(*m_store->cancelJob(enqueued->at(0).id, user, Now + 2), JobStatus::Cancelled);
        QCOMPARE(*m_store->pruneFinished(Now + 3, 10), 1);
        auto pruned = m_store->pruneSessions(Now + 1, 10);
        QVERIFY2(pruned.ok(), qPrintable(pruned.error().message));
        QCOMPARE(*pruned, QStringList{QStringLiteral("blob-1")});
        QVERIFY(!*m_store->blobReferenced(QStringLiteral("blob-1")));
    }

    // Bulk enqueue (no sessions, no unique keys: one INSERT from arrays): ids in input order,
    // fair ranks per user as the row-by-row path gives them.
    void bulkEnqueueKeepsOrderAndFairRanks()
    {
        const qint64 ann = addUser(QStringLiteral("ann"));
        const qint64 bob = addUser(QStringLiteral("bob"));
        NewJob quoted = newJob(ann, QStringLiteral("a1"));
        quoted.payload = QJsonObject{{QStringLiteral("text"), QStringLiteral("a \"b\" \\ {c,d}")}};
        auto enqueued = m_store->enqueue(
            {quoted, newJob(ann, QStringLiteral("a2")), newJob(bob, QStringLiteral("b1"))}, Now);
        QVERIFY2(enqueued.ok(), qPrintable(enqueued.error().message));
        QCOMPARE(enqueued->size(), 3);
        QVERIFY(enqueued->at(0).id < enqueued->at(1).id && enqueued->at(1).id < enqueued->at(2).id);
        QCOMPARE((*m_store->job(enqueued->at(0).id, ann))->payload, quoted.payload);
        QCOMPARE((*m_store->job(enqueued->at(2).id, bob))->type, QStringLiteral("b1"));
        // Ranks ann 1, 2 and bob 1: a claim of two takes ann's first and bob's, not ann's second.
        auto claimed = m_store->settleAndClaim({}, claimRequest(2));
        QVERIFY2(claimed.ok(), qPrintable(claimed.error().message));
        QStringList types;
        for (const ClaimedJob &job : *claimed)
            types.append(job.type);
        types.sort();
        QCOMPARE(types, (QStringList{QStringLiteral("a1"), QStringLiteral("b1")}));
        auto next = m_store->enqueue(
            {newJob(bob, QStringLiteral("b2")), newJob(ann, QStringLiteral("a3"))}, Now + 1);
        QVERIFY2(next.ok(), qPrintable(next.error().message));
        QCOMPARE(next->size(), 2);
    }

    // Once PostgreSQL caches a generic plan for the prepared claim, it guesses the LIMIT at a
    // tenth of the ready rows its statistics last counted. The claim must still find its rows by
    // key: the UPDATE joined with the chosen ids became a hash of a sequential scan of jobs,
    // every cycle (38 ms a claim at 100,000 jobs, in one bench round of ten, when the statistics
    // were taken while the jobs waited). Counted by the server's statistics: no scan of jobs.
    void claimReadsJobsByKeyUnderAGenericPlan()
    {
        const qint64 user = addUser(QStringLiteral("dora"));
        const QList<NewJob> waiting(50'000, newJob(user, QStringLiteral("done")));
        QVERIFY(m_store->enqueue(waiting, Now).ok());
        QVERIFY(adminExec(
            {QStringLiteral("ANALYZE jobs"),
             QStringLiteral("UPDATE jobs SET status = 'completed', finished_at = %1").arg(Now),
             QStringLiteral("DO $$BEGIN EXECUTE format('ALTER DATABASE %I SET plan_cache_mode = "
                            "force_generic_plan', current_database()); END$$")}));
        m_store.reset(); // new sessions take the setting
        const qint64 before = jobsSeqScans();
        QVERIFY(before >= 1); // the UPDATE above: the count is read

        auto store = PostgresStore::open(m_config);
        QVERIFY2(store.ok(), store ? "" : qPrintable(store.error().message));
        m_store = std::move(*store);
        auto enqueued = m_store->enqueue({newJob(user, QStringLiteral("next"))}, Now);
        QVERIFY(enqueued.ok());
        for (int i = 0; i < 3; ++i) { // the job, then nothing
            auto claimed = m_store->settleAndClaim({}, claimRequest(1));
            QVERIFY2(claimed.ok(), claimed ? "" : qPrintable(claimed.error().message));
            QCOMPARE(claimed->size(), i == 0 ? 1 : 0);
        }
        m_store.reset();
        QCOMPARE(jobsSeqScans(), before);
    }

    // After a large enqueue, ANALYZE (autovacuum's, at any moment) counts no running job. The
    // dispatch cycle that then settles a batch must still do work linear in it: the settle used
    // to take the partial index of running jobs for empty and read all of its attempts again for
    // every running job (2,000 of each: 1.1 s instead of 30 ms, bench/queue --db --analyze).
    // PostgreSQL's own count of the rows each plan node produced, over all its loops, says so
    // without a clock: 48,002 for this cycle, against 8,056,002 with the settle before the fix.
    // (The table needs its 20,000 jobs: with 4,000, PostgreSQL chose a linear plan anyway.)
    void aCycleStaysLinearWhenTheStatisticsCountNoRunningJob()
    {
        const qint64 user = addUser(QStringLiteral("kim"));
        constexpr int Batch = 2'000;
        QVERIFY(m_store->enqueue(QList<NewJob>(10 * Batch, newJob(user, QStringLiteral("n"))), Now)
                    .ok());
        QVERIFY(adminExec({QStringLiteral("ANALYZE jobs")}));
        auto claimed = m_store->settleAndClaim({}, claimRequest(Batch));
        QVERIFY2(claimed.ok(), claimed ? "" : qPrintable(claimed.error().message));
        QCOMPARE(claimed->size(), Batch);

        QList<SettledAttempt> settled;
        for (const ClaimedJob &job : *claimed)
            settled.append(completedAttempt(job));
        auto plan = m_store->explainSettleAndClaim(settled, claimRequest(Batch));
        QVERIFY2(plan.ok(), plan ? "" : qPrintable(plan.error().message));
        QVERIFY(!plan->isEmpty());
        const qint64 rows = rowsProduced(plan->at(0).toObject().value(QStringLiteral("Plan")));
        QVERIFY2(rows > 0, "the plan has no row counts");
        QVERIFY2(rows < 100 * Batch, qPrintable(QStringLiteral("the cycle's plan produced %1 rows "
                                                               "for %2 settled and %2 claimed jobs")
                                                    .arg(rows)
                                                    .arg(Batch)));

        // And it did its work: the batch settled, with its history, and the next one claimed.
        auto counts = m_store->countByStatus();
        QVERIFY(counts.ok());
        QCOMPARE(counts->value(JobStatus::Completed), Batch);
        QCOMPARE(counts->value(JobStatus::Running), Batch);
        auto attempts = m_store->attempts(claimed->first().id);
        QVERIFY(attempts.ok());
        QCOMPARE(attempts->size(), 1);
        QCOMPARE(attempts->first().outcome, QStringLiteral("completed"));
    }

private:
    qint64 addUser(const QString &name)
    {
        auto user = m_store->createUser(name, QStringLiteral("standard"), name.toUtf8(), Now);
        if (!user)
            qFatal("creating user %s: %s", qPrintable(name), qPrintable(user.error().message));
        return user->id;
    }

    // The rows an EXPLAIN ANALYZE plan node and everything under it produced, over all loops.
    static qint64 rowsProduced(const QJsonValue &node)
    {
        const QJsonObject object = node.toObject();
        qint64 rows = qint64(object.value(QStringLiteral("Actual Rows")).toDouble() *
                             object.value(QStringLiteral("Actual Loops")).toDouble());
        for (const QJsonValue &child : object.value(QStringLiteral("Plans")).toArray())
            rows += rowsProduced(child);
        return rows;
    }

    // A connection of the test's own to the test database (not opened), named `name`.
    QSqlDatabase session(const QString &name) const
    {
        QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QPSQL"), name);
        db.setHostName(m_config.host);
        db.setPort(m_config.port);
        db.setUserName(m_config.user);
        db.setDatabaseName(m_config.database);
        return db;
    }

    // Statements on a session of their own, closed after.
    bool adminExec(const QStringList &statements)
    {
        const QString name = QStringLiteral("admin");
        bool ok = true;
        {
            QSqlDatabase admin = session(name);
            ok = admin.open();
            QSqlQuery query(admin);
            for (const QString &statement : statements) {
                if (ok && !query.exec(statement)) {
                    qWarning() << statement << query.lastError().text();
                    ok = false;
                }
            }
        }
        QSqlDatabase::removeDatabase(name);
        return ok;
    }

    // Sequential scans of jobs so far, once every other session has ended (a backend writes its
    // statistics when it exits).
    qint64 jobsSeqScans()
    {
        const QString name = QStringLiteral("stats");
        qint64 scans = -1;
        {
            QSqlDatabase stats = session(name);
            if (stats.open()) {
                QSqlQuery query(stats);
                const bool alone = QTest::qWaitFor(
                    [&] {
                        return query.exec(QStringLiteral(
                                   "SELECT count(*) FROM pg_stat_activity WHERE datname = "
                                   "current_database() AND pid <> pg_backend_pid()")) &&
                               query.next() && query.value(0).toInt() == 0;
                    },
                    30'000);
                if (alone &&
                    query.exec(QStringLiteral(
                        "SELECT seq_scan FROM pg_stat_user_tables WHERE relname = 'jobs'")) &&
                    query.next())
                    scans = query.value(0).toLongLong();
            }
        }
        QSqlDatabase::removeDatabase(name);
        return scans;
    }

    QString m_url;
    DatabaseConfig m_config;
    std::unique_ptr<PostgresStore> m_store;
};

QTEST_GUILESS_MAIN(TestPostgresStore)
#include "tst_postgresstore.moc"
