#include "testsupport.h"

#include <QScopeGuard>
#include <QSet>
#include <QTest>
#include <QThread>

#include <atomic>
#include <memory>
#include <mutex>

using namespace Ferry;
using namespace Ferry::Test;

namespace {

NewJob noop(qint64 userId, int priority = 0)
{
    NewJob job;
    job.userId = userId;
    job.type = QStringLiteral("noop");
    job.priority = priority;
    job.maxAttempts = 3;
    job.timeoutMs = 0;
    return job;
}

SettledAttempt finish(const ClaimedJob &job, JobStatus status, qint64 now)
{
    SettledAttempt s;
    s.jobId = job.id;
    s.userId = job.userId;
    s.leaseToken = job.leaseToken;
    s.attempt = job.attempt;
    s.startedAt = job.startedAt;
    s.finishedAt = now;
    s.newStatus = status;
    s.outcome = jobStatusName(status);
    return s;
}

} // namespace

class tst_SqliteStore : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void claimAndComplete()
    {
        TempStore t;
        const qint64 user = t.addUser(QStringLiteral("alice"));
        auto enqueued = t.store->enqueue({noop(user)}, 1000);
        QVERIFY(enqueued.ok());
        const qint64 id = enqueued->first().id;

        auto claimed = t.store->settleAndClaim({}, {QStringLiteral("n1"), 5, 2000, 30'000});
        QVERIFY(claimed.ok());
        QCOMPARE(claimed->size(), 1);
        const ClaimedJob job = claimed->first();
        QCOMPARE(job.id, id);
        QCOMPARE(job.attempt, 1);
        auto running = t.store->job(id, std::nullopt);
        QCOMPARE((*running)->status, JobStatus::Running);
        QCOMPARE((*running)->leaseOwner, QStringLiteral("n1"));
        QCOMPARE((*running)->leaseExpiresAt, 32'000);
        QCOMPARE((*running)->startedAt, 2000);

        // Claimed once: a second claim finds nothing.
        QCOMPARE(t.store->settleAndClaim({}, {QStringLiteral("n2"), 5, 2000, 30'000})->size(), 0);

        SettledAttempt done = finish(job, JobStatus::Completed, 2500);
        done.result = {{QStringLiteral("rows"), 3}};
        QVERIFY(t.store->settleAndClaim({done}, {QStringLiteral("n1"), 0, 2500, 0}).ok());
        auto completed = t.store->job(id, std::nullopt);
        QCOMPARE((*completed)->status, JobStatus::Completed);
        QCOMPARE((*completed)->finishedAt, 2500);
        QCOMPARE((*completed)->result.value(u"rows").toInt(), 3);
        QVERIFY((*completed)->leaseOwner.isEmpty());
        auto attempts = t.store->attempts(id);
        QCOMPARE(attempts->size(), 1);
        QCOMPARE(attempts->first().outcome, QStringLiteral("completed"));
        QCOMPARE(attempts->first().node, QStringLiteral("n1"));
    }

    void transientFailureReturnsToPendingThenDies()
    {
        TempStore t;
        const qint64 user = t.addUser(QStringLiteral("alice"));
        NewJob job = noop(user);
        job.maxAttempts = 2;
        const qint64 id = t.store->enqueue({job}, 0)->first().id;

        auto first = t.store->settleAndClaim({}, {QStringLiteral("n"), 1, 100, 1000})->first();
        SettledAttempt retry = finish(first, JobStatus::Pending, 200);
        retry.outcome = QStringLiteral("error");
        retry.error = QStringLiteral("flaky");
        retry.retryAt = 5000;
        auto none = t.store->settleAndClaim({retry}, {QStringLiteral("n"), 1, 4999, 1000});
        QVERIFY(none.ok());
        QCOMPARE(none->size(), 0); // not before its run-at
        auto pending = t.store->job(id, std::nullopt);
        QCOMPARE((*pending)->status, JobStatus::Pending);
        QCOMPARE((*pending)->error, QStringLiteral("flaky"));
        QCOMPARE((*pending)->attempts, 1);

        auto second = t.store->settleAndClaim({}, {QStringLiteral("n"), 1, 5000, 1000});
        QCOMPARE(second->size(), 1);
        QCOMPARE(second->first().attempt, 2);
        SettledAttempt dead = finish(second->first(), JobStatus::Dead, 5100);
        dead.error = QStringLiteral("flaky again");
        QVERIFY(t.store->settleAndClaim({dead}, {QStringLiteral("n"), 0, 5100, 0}).ok());
        QCOMPARE((*t.store->job(id, std::nullopt))->status, JobStatus::Dead);
        QCOMPARE(t.store->attempts(id)->size(), 2);
    }

    void permanentFailureAndCancel_data()
    {
        QTest::addColumn<int>("status");
        QTest::newRow("failed") << int(JobStatus::Failed);
        QTest::newRow("cancelled") << int(JobStatus::Cancelled);
    }
    void permanentFailureAndCancel()
    {
        QFETCH(int, status);
        TempStore t;
        const qint64 user = t.addUser(QStringLiteral("alice"));
        const qint64 id = t.store->enqueue({noop(user)}, 0)->first().id;
        auto job = t.store->settleAndClaim({}, {QStringLiteral("n"), 1, 0, 1000})->first();
        QVERIFY(t.store
                    ->settleAndClaim({finish(job, JobStatus(status), 10)},
                                     {QStringLiteral("n"), 0, 10, 0})
                    .ok());
        QCOMPARE(int((*t.store->job(id, std::nullopt))->status), status);
    }

    void settleIsFencedByLeaseToken()
    {
        TempStore t;
        const qint64 user = t.addUser(QStringLiteral("alice"));
        const qint64 id = t.store->enqueue({noop(user)}, 0)->first().id;
        auto stale = t.store->settleAndClaim({}, {QStringLiteral("old"), 1, 0, 1000})->first();
        // The old node's lease expires; another node rescues and claims the job.
        auto rescued =
            t.store->rescueLeases(RescueScope::ExpiredLeases, QStringLiteral("new"), 5000);
        QCOMPARE(rescued->size(), 1);
        auto fresh = t.store->settleAndClaim({}, {QStringLiteral("new"), 1, 5000, 1000})->first();
        QVERIFY(fresh.leaseToken != stale.leaseToken);
        // The old node's late completion must not land.
        QVERIFY(t.store
                    ->settleAndClaim({finish(stale, JobStatus::Completed, 5100)},
                                     {QStringLiteral("old"), 0, 5100, 0})
                    .ok());
        auto job = t.store->job(id, std::nullopt);
        QCOMPARE((*job)->status, JobStatus::Running);
        QCOMPARE((*job)->leaseOwner, QStringLiteral("new"));
        // The holder's completion does.
        QVERIFY(t.store
                    ->settleAndClaim({finish(fresh, JobStatus::Completed, 5200)},
                                     {QStringLiteral("new"), 0, 5200, 0})
                    .ok());
        QCOMPARE((*t.store->job(id, std::nullopt))->status, JobStatus::Completed);
        const auto attempts = *t.store->attempts(id);
        QCOMPARE(attempts.size(), 2);
        QCOMPARE(attempts.at(0).outcome, QStringLiteral("lost"));
        QCOMPARE(attempts.at(1).outcome, QStringLiteral("completed"));
    }

    void rescueScopes()
    {
        TempStore t;
        const qint64 user = t.addUser(QStringLiteral("alice"));
        QVERIFY(t.store->enqueue({noop(user), noop(user), noop(user)}, 0).ok());
        QVERIFY(t.store->settleAndClaim({}, {QStringLiteral("me"), 1, 0, 10'000}).ok());
        QVERIFY(t.store->settleAndClaim({}, {QStringLiteral("other"), 1, 0, 10'000}).ok());
        NewJob last = noop(user);
        // Expired leases only: nothing yet, and never this node's own.
        QCOMPARE(
            t.store->rescueLeases(RescueScope::ExpiredLeases, QStringLiteral("me"), 5000)->size(),
            0);
        QCOMPARE(
            t.store->rescueLeases(RescueScope::ExpiredLeases, QStringLiteral("me"), 20'000)->size(),
            1);
        // Start-up of a single node: everything not its own, expired or not.
        QVERIFY(t.store->settleAndClaim({}, {QStringLiteral("other"), 1, 20'000, 10'000}).ok());
        auto all = t.store->rescueLeases(RescueScope::AllButThisNode, QStringLiteral("me"), 21'000);
        QCOMPARE(all->size(), 1);
        QCOMPARE(all->first().newStatus, JobStatus::Pending);
    }

    void rescueRespectsMaxAttemptsAndCancellation()
    {
        TempStore t;
        const qint64 user = t.addUser(QStringLiteral("alice"));
        NewJob once = noop(user);
        once.maxAttempts = 1;
        const qint64 a = t.store->enqueue({once}, 0)->first().id;
        const qint64 b = t.store->enqueue({noop(user)}, 0)->first().id;
        QVERIFY(t.store->settleAndClaim({}, {QStringLiteral("n"), 2, 0, 100}).ok());
        QCOMPARE(*t.store->cancelJob(b, std::nullopt, 50), JobStatus::Running); // requested
        auto rescued = t.store->rescueLeases(RescueScope::ExpiredLeases, QStringLiteral("x"), 1000);
        QCOMPARE(rescued->size(), 2);
        QCOMPARE((*t.store->job(a, std::nullopt))->status, JobStatus::Dead);
        QCOMPARE((*t.store->job(b, std::nullopt))->status, JobStatus::Cancelled);
    }

    void priorityThenFairRankThenAge()
    {
        TempStore t;
        const qint64 alice = t.addUser(QStringLiteral("alice"));
        const qint64 bob = t.addUser(QStringLiteral("bob"));
        // Alice queues four normal jobs, then Bob one normal and one urgent.
        QVERIFY(t.store->enqueue({noop(alice), noop(alice), noop(alice), noop(alice)}, 0).ok());
        const qint64 bobNormal = t.store->enqueue({noop(bob)}, 1)->first().id;
        const qint64 bobUrgent = t.store->enqueue({noop(bob, 10)}, 2)->first().id;
        QList<qint64> order;
        for (int i = 0; i < 6; ++i) {
            auto claimed = t.store->settleAndClaim({}, {QStringLiteral("n"), 1, 10, 1000});
            QCOMPARE(claimed->size(), 1);
            order.append(claimed->first().id);
        }
        QCOMPARE(order.at(0), bobUrgent); // priority first
        QCOMPARE(order.at(2), bobNormal); // then turns between users: alice, bob, alice, ...
        QCOMPARE(order.at(1), 1);
        QCOMPARE(order.mid(3), (QList<qint64>{2, 3, 4}));
    }

    void uniqueKeyDeduplicatesWhilePendingOrRunning()
    {
        TempStore t;
        const qint64 alice = t.addUser(QStringLiteral("alice"));
        const qint64 bob = t.addUser(QStringLiteral("bob"));
        NewJob keyed = noop(alice);
        keyed.uniqueKey = QStringLiteral("report-2026-11");
        auto first = t.store->enqueue({keyed}, 0);
        auto second = t.store->enqueue({keyed}, 0);
        QCOMPARE(second->first().id, first->first().id);
        QVERIFY(second->first().deduplicated);
        NewJob bobs = keyed;
        bobs.userId = bob; // keys are per user
        QVERIFY(!t.store->enqueue({bobs}, 0)->first().deduplicated);

        auto job = t.store->settleAndClaim({}, {QStringLiteral("n"), 1, 0, 1000})->first();
        QVERIFY(t.store->enqueue({keyed}, 0)->first().deduplicated); // still running
        QVERIFY(t.store
                    ->settleAndClaim({finish(job, JobStatus::Completed, 5)},
                                     {QStringLiteral("n"), 0, 5, 0})
                    .ok());
        QVERIFY(!t.store->enqueue({keyed}, 0)->first().deduplicated); // finished: a new one
    }

    void bulkEnqueueIsAllOrNothing()
    {
        TempStore t;
        const qint64 alice = t.addUser(QStringLiteral("alice"));
        QList<NewJob> batch(100, noop(alice));
        batch[57].userId = 999'999; // no such user: a foreign-key violation mid-batch
        auto result = t.store->enqueue(batch, 0);
        QVERIFY(!result.ok());
        QCOMPARE(result.error().code, ErrorCode::Storage);
        QCOMPARE(t.store->countByStatus()->value(JobStatus::Pending), 0);
        batch[57].userId = alice;
        QCOMPARE(t.store->enqueue(batch, 0)->size(), 100);
        QCOMPARE(t.store->countByStatus()->value(JobStatus::Pending), 100);
    }

    void cancelAndRetryRules()
    {
        TempStore t;
        const qint64 alice = t.addUser(QStringLiteral("alice"));
        const qint64 bob = t.addUser(QStringLiteral("bob"));
        const qint64 id = t.store->enqueue({noop(alice)}, 0)->first().id;
        // Another user's job does not exist for bob.
        QCOMPARE(t.store->cancelJob(id, bob, 1).error().code, ErrorCode::NotFound);
        QCOMPARE(t.store->retryJob(id, bob, 1).error().code, ErrorCode::NotFound);
        QCOMPARE(t.store->retryJob(id, alice, 1).error().code, ErrorCode::Conflict); // pending
        QCOMPARE(*t.store->cancelJob(id, alice, 1), JobStatus::Cancelled);
        QCOMPARE(t.store->cancelJob(id, alice, 2).error().code, ErrorCode::Conflict);
        QVERIFY(t.store->retryJob(id, alice, 3).ok());
        auto job = t.store->job(id, alice);
        QCOMPARE((*job)->status, JobStatus::Pending);
        QCOMPARE((*job)->attempts, 0);
        QCOMPARE((*job)->finishedAt, 0);
        QVERIFY(!t.store->job(id, bob)->has_value());
        QCOMPARE(t.store->setPriority(id, bob, 5).error().code, ErrorCode::NotFound);
        QVERIFY(t.store->setPriority(id, alice, 5).ok());
        QCOMPARE((*t.store->job(id, alice))->priority, 5);
    }

    void pruneDeletesOnlyOldFinishedJobsInBatches()
    {
        TempStore t;
        const qint64 alice = t.addUser(QStringLiteral("alice"));
        QVERIFY(t.store->enqueue(QList<NewJob>(30, noop(alice)), 0).ok());
        auto claimed = *t.store->settleAndClaim({}, {QStringLiteral("n"), 25, 0, 1000});
        QList<SettledAttempt> done;
        for (const ClaimedJob &job : std::as_const(claimed))
            done.append(finish(job, JobStatus::Completed, job.id <= 20 ? 100 : 900));
        QVERIFY(t.store->settleAndClaim(done, {QStringLiteral("n"), 0, 900, 0}).ok());
        QCOMPARE(*t.store->pruneFinished(500, 15), 15);
        QCOMPARE(*t.store->pruneFinished(500, 15), 5);
        QCOMPARE(*t.store->pruneFinished(500, 15), 0);
        const auto counts = *t.store->countByStatus();
        QCOMPARE(counts.value(JobStatus::Completed), 5);
        QCOMPARE(counts.value(JobStatus::Pending), 5);
        QVERIFY(t.store->attempts(1)->isEmpty()); // history went with the job
        // ... all of it, and only that of the pruned jobs (on PostgreSQL a trigger does this,
        // migration 0020; on SQLite the foreign key's cascade).
        QString error;
        const auto left = readRows(t.location(),
                                   QStringLiteral("SELECT count(*), count(DISTINCT job_id), "
                                                  "min(job_id) FROM job_attempts"),
                                   &error);
        QVERIFY2(error.isEmpty(), qPrintable(error));
        QCOMPARE(left.first().at(0).toInt(), 5);
        QCOMPARE(left.first().at(1).toInt(), 5);
        QVERIFY(left.first().at(2).toLongLong() > 20);
    }

    // The concurrency test: 8 threads claim from 10,000 jobs at once, each with its own
    // connection; every job is completed exactly once. On PostgreSQL 2,000 jobs: each settle is
    // a round trip to the server there (10,000 took about a minute on a loaded machine), and the
    // race is the same with fewer rows.
    void concurrentClaimsHandOutEachJobOnce()
    {
        TempStore t;
        const qint64 alice = t.addUser(QStringLiteral("alice"));
        const qint64 bob = t.addUser(QStringLiteral("bob"));
        const int total = onPostgres() ? 2'000 : 10'000;
        QList<NewJob> jobs;
        for (int i = 0; i < total; ++i)
            jobs.append(noop(i % 3 ? alice : bob, i % 5));
        QVERIFY(t.store->enqueue(jobs, 0).ok());

        std::mutex mutex;
        QList<qint64> seen;
        std::atomic<int> errors{0};
        QString firstError; // guarded by mutex
        QList<QThread *> threads;
        for (int w = 0; w < 8; ++w) {
            threads.append(QThread::create([&, w] {
                const QString node = QStringLiteral("worker-%1").arg(w);
                QList<SettledAttempt> done;
                while (true) {
                    auto claimed = t.store->settleAndClaim(done, {node, 7, 1, 60'000});
                    if (!claimed) {
                        ++errors;
                        std::lock_guard lock(mutex);
                        if (firstError.isEmpty())
                            firstError = claimed.error().toString();
                        return;
                    }
                    done.clear();
                    if (claimed->isEmpty())
                        return;
                    std::lock_guard lock(mutex);
                    for (const ClaimedJob &job : std::as_const(*claimed)) {
                        seen.append(job.id);
                        done.append(finish(job, JobStatus::Completed, 2));
                    }
                }
            }));
            threads.last()->start();
        }
        for (QThread *thread : std::as_const(threads)) {
            QVERIFY(thread->wait(120'000));
            delete thread;
        }
        QVERIFY2(errors.load() == 0, qPrintable(firstError));
        QCOMPARE(seen.size(), total);
        QCOMPARE(QSet<qint64>(seen.cbegin(), seen.cend()).size(), total);
        // The last batch of each thread was settled by its final (empty) claim.
        const auto counts = *t.store->countByStatus();
        QCOMPARE(counts.value(JobStatus::Completed), total);
        QCOMPARE(counts.size(), 1);
    }

    // jobLists reads its lists from one snapshot: while another thread (its own connection)
    // moves jobs from pending to running to completed, a job is in the running list or the
    // pending list exactly when the list of all jobs, read in the same call, says it is running
    // or pending. Read one after the other, the lists disagreed (the event streams lost the end
    // of a job that started between two of their reads).
    void jobListsAreReadFromOneSnapshot()
    {
        TempStore t;
        const qint64 alice = t.addUser(QStringLiteral("alice"));
        const int total = 1'000;
        QList<NewJob> jobs;
        for (int i = 0; i < total; ++i)
            jobs.append(noop(alice));
        QVERIFY(t.store->enqueue(jobs, 0).ok());

        std::atomic<bool> done{false};
        std::atomic<bool> stop{false}; // a failed check returns early: the writer ends first
        std::atomic<int> reads{0};
        QString writerError;
        std::unique_ptr<QThread> writer(QThread::create([&] {
            QList<SettledAttempt> finished;
            for (int cycle = 1; !stop; ++cycle) {
                // Every 50 cycles the writer lets a read in (SQLite runs the 500 cycles in a few
                // ms, and a busy machine may not schedule the reader meanwhile); in between, it
                // writes while the reads run.
                if (cycle % 50 == 0) {
                    const int seen = reads.load();
                    while (!stop && reads.load() == seen)
                        QThread::yieldCurrentThread();
                }
                auto claimed =
                    t.store->settleAndClaim(finished, {QStringLiteral("n1"), 2, 1, 60'000});
                if (!claimed) {
                    writerError = claimed.error().toString();
                    break;
                }
                finished.clear();
                if (claimed->isEmpty())
                    break;
                for (const ClaimedJob &job : std::as_const(*claimed))
                    finished.append(finish(job, JobStatus::Completed, 2));
            }
            done = true;
        }));
        writer->start();
        const auto joinWriter = qScopeGuard([&] {
            stop = true;
            writer->wait();
        });

        JobFilter all;
        all.userId = alice;
        all.limit = total;
        JobFilter running = all;
        running.status = JobStatus::Running;
        JobFilter pending = all;
        pending.status = JobStatus::Pending;
        int midway = 0; // reads that saw some jobs completed and some still pending
        while (!done) {
            auto lists = t.store->jobLists({all, running, pending});
            QVERIFY2(lists.ok(), qPrintable(lists.error().toString()));
            QCOMPARE(lists->size(), 3);
            QCOMPARE(lists->at(0).size(), total);
            QHash<qint64, JobStatus> listed;
            for (qsizetype i = 1; i < 3; ++i) {
                for (const Job &job : lists->at(i))
                    listed.insert(job.id, job.status);
            }
            int completed = 0;
            for (const Job &job : lists->at(0)) {
                if (job.status == JobStatus::Completed) {
                    ++completed;
                    QVERIFY2(!listed.contains(job.id), "a completed job in an active list");
                } else {
                    QVERIFY2(listed.value(job.id) == job.status,
                             qPrintable(QStringLiteral("job %1 is %2 but not in that list")
                                            .arg(job.id)
                                            .arg(jobStatusName(job.status))));
                }
            }
            if (completed > 0 && !lists->at(2).isEmpty())
                ++midway;
            ++reads;
        }
        QVERIFY(writer->wait(120'000));
        QVERIFY2(writerError.isEmpty(), qPrintable(writerError));
        QVERIFY2(midway > 0,
                 qPrintable(QStringLiteral("%1 reads, none while jobs moved").arg(reads.load())));
        QCOMPARE(t.store->countByStatus()->value(JobStatus::Completed), total);
    }
};

QTEST_GUILESS_MAIN(tst_SqliteStore)
#include "tst_sqlitestore.moc"
