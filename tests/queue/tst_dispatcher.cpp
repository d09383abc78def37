#include "dispatchharness.h"
#include "pgtestsupport.h"
#include "testbackend.h"

#include <QScopeGuard>
#include <QSqlQuery>
#include <QTest>

#include <map>

using namespace Ferry;
using namespace Ferry::Test;

class tst_Dispatcher : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void runsJobsAndSignals()
    {
        Harness h;
        // The signals come from the dispatch thread; count them here, queued to this thread
        // (a QSignalSpy would append from the dispatch thread while the test reads it).
        QObject receiver;
        QList<qint64> started;
        QList<std::pair<qint64, int>> finished;
        connect(h.dispatcher.get(), &Dispatcher::jobStarted, &receiver,
                [&](qint64 id) { started.append(id); });
        connect(h.dispatcher.get(), &Dispatcher::jobFinished, &receiver,
                [&](qint64 id, int status) {
                    finished.append({id, status});
                });
        QVERIFY(h.dispatcher->start().ok());
        const qint64 id =
            h.enqueue(h.job(h.alice, QStringLiteral("sleep"), {{QStringLiteral("ms"), 20}}));
        QVERIFY(h.waitStatus(id, JobStatus::Completed));
        QTRY_COMPARE(finished.size(), 1);
        QCOMPARE(started, QList<qint64>{id});
        QCOMPARE(finished.first().first, id);
        QCOMPARE(finished.first().second, int(JobStatus::Completed));
        const Job job = h.get(id);
        QCOMPARE(job.result.value(u"sleptMs").toInt(), 20);
        QCOMPARE(job.progress.value(u"unit").toString(), QStringLiteral("ms"));
        QCOMPARE(h.t.store->attempts(id)->size(), 1);
    }

    void priorityOrder()
    {
        QueueConfig config = Harness::defaults();
        config.maxConcurrency = 1;
        Harness h(config);
        QVERIFY(h.queue->setPaused(true).ok());
        QVERIFY(h.dispatcher->start().ok());
        QList<qint64> ids;
        for (int priority : {0, 5, -3, 10, 5})
            ids.append(h.enqueue(h.job(h.alice, QStringLiteral("record"), {}, priority)));
        QVERIFY(h.queue->setPaused(false).ok());
        QVERIFY(waitFor([&] { return h.recorder->started().size() == 5; }));
        QList<qint64> order;
        for (const auto &[job, user] : h.recorder->started())
            order.append(job);
        QCOMPARE(order, (QList<qint64>{ids[3], ids[1], ids[4], ids[0], ids[2]}));
    }

    // One user's 1,000 queued jobs do not hold back another user's single job by more than one
    // job's run time: at most one job per slot starts between its enqueue and its start. Jobs of
    // 50 ms: the dispatcher claims ahead as many as run in 2 ms plus one cycle, and at 5 ms a
    // slow cycle (PostgreSQL under TSan) made that a third job for two slots.
    void fairBetweenUsers()
    {
        Harness h;
        QVERIFY(h.dispatcher->start().ok());
        QList<NewJob> flood(1000,
                            h.job(h.alice, QStringLiteral("record"), {{QStringLiteral("ms"), 50}}));
        QVERIFY(h.queue->enqueueBatch(flood).ok());
        QVERIFY(waitFor([&] { return h.recorder->started().size() >= 20; }));
        const qint64 bobs = h.enqueue(h.job(h.bob, QStringLiteral("record")));
        // Counted from when Bob's job is in: Alice's jobs that started while the enqueue ran
        // were claimed before it (counting from before the enqueue made this test flaky). What
        // starts after may still have been claimed before it: at most one per slot.
        const int before = int(h.recorder->started().size());
        QVERIFY(waitFor([&] {
            const auto started = h.recorder->started();
            return std::any_of(started.cbegin(), started.cend(),
                               [&](const auto &s) { return s.first == bobs; });
        }));
        const auto started = h.recorder->started();
        int position = 0;
        while (started.at(position).first != bobs)
            ++position;
        const int aliceJobsInBetween = position - before;
        QVERIFY2(
            aliceJobsInBetween <= h.config.maxConcurrency,
            qPrintable(QStringLiteral("%1 of alice's jobs started first").arg(aliceJobsInBetween)));
        QVERIFY(h.queue->setPaused(true).ok());
    }

    void loneUserUsesEverySlot()
    {
        QueueConfig config = Harness::defaults();
        config.maxConcurrency = 4;
        Harness h(config);
        QVERIFY(h.dispatcher->start().ok());
        QList<NewJob> jobs(12,
                           h.job(h.alice, QStringLiteral("record"), {{QStringLiteral("ms"), 50}}));
        QVERIFY(h.queue->enqueueBatch(jobs).ok());
        QVERIFY(
            waitFor([&] { return h.t.store->countByStatus()->value(JobStatus::Completed) == 12; }));
        QCOMPARE(h.recorder->maxActive(), 4);
    }

    void transientFailuresBackOffThenDie()
    {
        QueueConfig config = Harness::defaults();
        config.backoffBaseMs = 1000;
        config.backoffCapMs = 3000;
        Harness h(config);
        h.dispatcher->setBackoffRandom([] { return 0.5; });
        QVERIFY(h.dispatcher->start().ok());
        NewJob flaky = h.job(h.alice, QStringLiteral("fail"),
                             {{QStringLiteral("kind"), QStringLiteral("transient")}});
        flaky.maxAttempts = 4;
        const qint64 id = h.enqueue(flaky);
        // Expected waits: half of 1000, 2000, then the 3000 cap. The attempt number is counted
        // here, not read back: the first attempt may already have failed before the loop starts.
        int attempt = 0;
        for (const qint64 wait : {500, 1000, 1500}) {
            ++attempt;
            QVERIFY(waitFor([&] {
                return h.get(id).attempts == attempt && h.status(id) == JobStatus::Pending;
            }));
            const qint64 failedAt = h.t.clock.nowMs();
            QCOMPARE(h.get(id).runAt, failedAt + wait);
            QCOMPARE(h.get(id).error, QStringLiteral("try later"));
            h.t.clock.advance(wait - 1);
            QTest::qWait(100); // a few polls: still too early
            QCOMPARE(h.get(id).attempts, attempt);
            h.t.clock.advance(1);
        }
        QVERIFY(h.waitStatus(id, JobStatus::Dead));
        QCOMPARE(h.get(id).attempts, 4);
        QVERIFY(h.get(id).error.contains(u"gave up after 4 attempts"));
        const auto attempts = *h.t.store->attempts(id);
        QCOMPARE(attempts.size(), 4);
        for (const JobAttempt &a : attempts)
            QCOMPARE(a.outcome, QStringLiteral("error"));
    }

    void permanentFailureAndThrowingHandler()
    {
        Harness h;
        QVERIFY(h.dispatcher->start().ok());
        const qint64 bad =
            h.enqueue(h.job(h.alice, QStringLiteral("fail"),
                            {{QStringLiteral("kind"), QStringLiteral("permanent")}}));
        QVERIFY(h.waitStatus(bad, JobStatus::Failed));
        QCOMPARE(h.get(bad).attempts, 1);
        QCOMPARE(h.get(bad).error, QStringLiteral("bad input"));
        NewJob thrower = h.job(h.alice, QStringLiteral("fail"),
                               {{QStringLiteral("kind"), QStringLiteral("throw")}});
        thrower.maxAttempts = 1;
        const qint64 threw = h.enqueue(thrower);
        QVERIFY(h.waitStatus(threw, JobStatus::Dead));
        QVERIFY(h.get(threw).error.contains(u"boom"));
    }

    // A job's error keeps its type up to jobFinished; the store keeps its text, as before.
    void finishedSignalCarriesTheTypedError()
    {
        Harness h;
        QObject receiver;
        std::map<qint64, std::pair<int, std::optional<Error>>> finished;
        connect(h.dispatcher.get(), &Dispatcher::jobFinished, &receiver,
                [&](qint64 id, int status, const std::optional<Error> &error) {
                    finished[id] = {status, error};
                });
        QVERIFY(h.dispatcher->start().ok());
        const qint64 bad =
            h.enqueue(h.job(h.alice, QStringLiteral("fail"),
                            {{QStringLiteral("kind"), QStringLiteral("permanent")}}));
        NewJob broken = h.job(h.alice, QStringLiteral("fail"),
                              {{QStringLiteral("kind"), QStringLiteral("storage")}});
        broken.maxAttempts = 1;
        const qint64 storage = h.enqueue(broken);
        const qint64 fine =
            h.enqueue(h.job(h.alice, QStringLiteral("sleep"), {{QStringLiteral("ms"), 1}}));
        QTRY_VERIFY(finished.contains(bad) && finished.contains(storage) &&
                    finished.contains(fine));

        QCOMPARE(finished[bad].first, int(JobStatus::Failed));
        QVERIFY(finished[bad].second.has_value());
        QCOMPARE(finished[bad].second->code, ErrorCode::InvalidArgument);
        QCOMPARE(finished[bad].second->message, QStringLiteral("bad input"));
        QCOMPARE(h.get(bad).error, QStringLiteral("bad input"));

        QCOMPARE(finished[storage].first, int(JobStatus::Dead));
        QVERIFY(finished[storage].second.has_value());
        QCOMPARE(finished[storage].second->code, ErrorCode::Storage);
        QCOMPARE(finished[storage].second->hint, QStringLiteral("Check the disk."));
        QCOMPARE(h.get(storage).error,
                 QStringLiteral("disk I/O error Check the disk. (gave up after 1 attempts)"));

        QCOMPARE(finished[fine].first, int(JobStatus::Completed));
        QVERIFY(!finished[fine].second.has_value());
    }

    void timeoutCancelsAndRetriesByPolicy()
    {
        Harness h;
        h.dispatcher->setBackoffRandom([] { return 0.0; });
        QVERIFY(h.dispatcher->start().ok());
        NewJob slow = h.job(h.alice, QStringLiteral("block"));
        slow.timeoutMs = 10'000;
        slow.maxAttempts = 2;
        const qint64 id = h.enqueue(slow);
        QVERIFY(h.waitStatus(id, JobStatus::Running));
        QTRY_COMPARE(h.blocker->running.load(), 1);
        h.t.clock.advance(10'000);
        // Retried at once (backoff pinned to 0), timed out again, then dead.
        QVERIFY(waitFor([&] { return h.get(id).attempts == 2 && h.blocker->running.load() == 1; }));
        h.t.clock.advance(10'000);
        QVERIFY(h.waitStatus(id, JobStatus::Dead));
        const auto attempts = *h.t.store->attempts(id);
        QCOMPARE(attempts.size(), 2);
        QCOMPARE(attempts.at(0).outcome, QStringLiteral("timeout"));
        QVERIFY(h.get(id).error.contains(u"Timed out"));
    }

    void cancelRunningJob()
    {
        Harness h;
        QVERIFY(h.dispatcher->start().ok());
        const qint64 id = h.enqueue(h.job(h.alice, QStringLiteral("block")));
        QVERIFY(h.waitStatus(id, JobStatus::Running));
        QCOMPARE(*h.queue->cancel(id), JobStatus::Running);
        QVERIFY(h.waitStatus(id, JobStatus::Cancelled));
        QCOMPARE(h.t.store->attempts(id)->first().outcome, QStringLiteral("cancelled"));
        QCOMPARE(h.queue->cancel(id).error().code, ErrorCode::Conflict);
    }

    void cancelFromAnotherProcessIsObserved()
    {
        Harness h;
        QVERIFY(h.dispatcher->start().ok());
        const qint64 id = h.enqueue(h.job(h.alice, QStringLiteral("block")));
        QVERIFY(h.waitStatus(id, JobStatus::Running));
        // Straight to the store, as `ferry` in another process would: no in-process wake-up.
        QCOMPARE(*h.t.store->cancelJob(id, h.alice, h.t.clock.nowMs()), JobStatus::Running);
        QVERIFY(h.waitStatus(id, JobStatus::Cancelled));
    }

    void expiredLeaseIsRescued()
    {
        QueueConfig config = Harness::defaults();
        config.exclusiveStore = false; // another node might be alive: wait for its lease
        Harness h(config);
        const qint64 id = h.enqueue(h.job(h.alice, QStringLiteral("noop")));
        // A node that dies right after claiming.
        QVERIFY(
            h.t.store->settleAndClaim({}, {QStringLiteral("ghost"), 1, h.t.clock.nowMs(), 30'000})
                .ok());
        QVERIFY(h.dispatcher->start().ok());
        QTest::qWait(150); // several rescue rounds: the lease still holds
        QCOMPARE(h.status(id), JobStatus::Running);
        h.t.clock.advance(30'001);
        QVERIFY(h.waitStatus(id, JobStatus::Completed));
        const auto attempts = *h.t.store->attempts(id);
        QCOMPARE(attempts.size(), 2);
        QCOMPARE(attempts.at(0).outcome, QStringLiteral("lost"));
        QCOMPARE(attempts.at(0).node, QStringLiteral("ghost"));
        QCOMPARE(attempts.at(1).node, QStringLiteral("node-a"));
        QCOMPARE(h.get(id).attempts, 2);
    }

    void jobWhoseLeaseWasTakenOverStopsHere()
    {
        QueueConfig config = Harness::defaults();
        config.exclusiveStore = false;
        config.leaseMs = 600; // renewed every 200 ms
        Harness h(config);
        QVERIFY(h.dispatcher->start().ok());
        const qint64 id = h.enqueue(h.job(h.alice, QStringLiteral("block")));
        QTRY_COMPARE(h.blocker->running.load(), 1);
        // node-a must not claim it back (its own claiming pause: the queue's pause, persisted,
        // would stop ghost's claim too).
        h.dispatcher->setClaimingPaused(true);
        // node-a stops renewing in time (cut off, or frozen); "ghost" rescues the job and runs it.
        h.t.clock.advance(10'000);
        auto rescued = h.t.store->rescueLeases(RescueScope::ExpiredLeases, QStringLiteral("ghost"),
                                               h.t.clock.nowMs());
        QVERIFY2(rescued.ok(), qPrintable(rescued.error().toString()));
        QCOMPARE(rescued->size(), 1);
        auto claimed =
            h.t.store->settleAndClaim({}, {QStringLiteral("ghost"), 1, h.t.clock.nowMs(), 30'000});
        QVERIFY(claimed.ok());
        QCOMPARE(claimed->size(), 1);
        // node-a's next renewal does not find it: the attempt stops here, and what it settles
        // is refused (the job stays ghost's, with node-a's attempt recorded once, as lost).
        QTRY_COMPARE(h.blocker->running.load(), 0);
        QTRY_COMPARE(h.dispatcher->runningCount(), 0);
        const Job job = h.get(id);
        QCOMPARE(job.status, JobStatus::Running);
        QCOMPARE(job.leaseOwner, QStringLiteral("ghost"));
        const auto attempts = *h.t.store->attempts(id);
        QCOMPARE(attempts.size(), 1);
        QCOMPARE(attempts.at(0).outcome, QStringLiteral("lost"));
        QCOMPARE(attempts.at(0).node, QStringLiteral("node-a"));
    }

    void singleNodeStartRescuesAtOnce()
    {
        Harness h; // exclusiveStore: this engine is the only one on the file
        const qint64 id = h.enqueue(h.job(h.alice, QStringLiteral("noop")));
        QVERIFY(
            h.t.store->settleAndClaim({}, {QStringLiteral("crashed"), 1, h.t.clock.nowMs(), 30'000})
                .ok());
        QVERIFY(h.dispatcher->start().ok()); // no clock advance needed
        QVERIFY(h.waitStatus(id, JobStatus::Completed));
    }

    void pauseAndResume()
    {
        Harness h;
        QVERIFY(h.dispatcher->start().ok());
        const qint64 running = h.enqueue(h.job(h.alice, QStringLiteral("block")));
        QTRY_COMPARE(h.blocker->running.load(), 1); // started, not just claimed
        QVERIFY(h.queue->setPaused(true).ok());
        const qint64 waiting = h.enqueue(h.job(h.alice, QStringLiteral("noop")));
        QTest::qWait(200);
        QCOMPARE(h.status(waiting), JobStatus::Pending); // nothing new starts
        h.blocker->release = true;
        QVERIFY(h.waitStatus(running, JobStatus::Completed)); // running ones finish
        QCOMPARE(h.status(waiting), JobStatus::Pending);
        QVERIFY(h.queue->setPaused(false).ok());
        QVERIFY(h.waitStatus(waiting, JobStatus::Completed));
    }

    void concurrencyLimitAppliesLive()
    {
        QueueConfig config = Harness::defaults();
        config.maxConcurrency = 1;
        Harness h(config);
        QCOMPARE(h.dispatcher->setMaxConcurrency(0).error().code, ErrorCode::InvalidArgument);
        QCOMPARE(h.dispatcher->setMaxConcurrency(65).error().code, ErrorCode::InvalidArgument);
        QVERIFY(h.dispatcher->start().ok());
        QVERIFY(
            h.queue->enqueueBatch(QList<NewJob>(5, h.job(h.alice, QStringLiteral("block")))).ok());
        QTRY_COMPARE(h.blocker->running.load(), 1);
        QTest::qWait(100);
        QCOMPARE(h.blocker->running.load(), 1);
        QVERIFY(h.dispatcher->setMaxConcurrency(3).ok());
        QTRY_COMPARE(h.blocker->running.load(), 3);
        QCOMPARE(h.dispatcher->runningCount(), 3);
    }

    void shutdownReleasesWhatDidNotFinish()
    {
        QueueConfig config = Harness::defaults();
        config.shutdownGraceMs = 200;
        Harness h(config);
        QVERIFY(h.dispatcher->start().ok());
        const qint64 polite = h.enqueue(h.job(h.alice, QStringLiteral("block")));
        const qint64 stubborn = h.enqueue(
            h.job(h.alice, QStringLiteral("block"), {{QStringLiteral("ignoreCancel"), 1500}}));
        QTRY_COMPARE(h.blocker->running.load(), 2);
        h.dispatcher->stop();
        for (const qint64 id : {polite, stubborn}) {
            const Job job = h.get(id);
            QCOMPARE(job.status, JobStatus::Pending); // back in the queue, not lost
            QCOMPARE(job.attempts, 0);                // a shutdown does not use up an attempt
            QVERIFY(job.leaseOwner.isEmpty());
            QCOMPARE(h.t.store->attempts(id)->first().outcome, QStringLiteral("released"));
        }
        QTRY_COMPARE_WITH_TIMEOUT(h.blocker->running.load(), 0, 5000); // let the stubborn one end
    }

    // --- Resource monitor: the governor's cap and claiming pause, apart from the operator's ---
    void resourceLimitCapsBelowTheMaximum()
    {
        QueueConfig config = Harness::defaults();
        config.maxConcurrency = 4;
        Harness h(config);
        h.dispatcher->setResourceLimit(2);
        QCOMPARE(h.dispatcher->effectiveConcurrency(), 2);
        QCOMPARE(h.dispatcher->maxConcurrency(), 4); // the operator's maximum is kept
        QVERIFY(h.dispatcher->start().ok());
        QVERIFY(
            h.queue->enqueueBatch(QList<NewJob>(6, h.job(h.alice, QStringLiteral("block")))).ok());
        QTRY_COMPARE(h.blocker->running.load(), 2);
        QTest::qWait(100);
        QCOMPARE(h.blocker->running.load(), 2);
        QVERIFY(h.dispatcher->setMaxConcurrency(1).ok()); // the lower of the two applies
        QCOMPARE(h.dispatcher->effectiveConcurrency(), 1);
        QVERIFY(h.dispatcher->setMaxConcurrency(4).ok());
        QCOMPARE(h.dispatcher->effectiveConcurrency(), 2);
        h.dispatcher->setResourceLimit(0); // cap lifted: the operator's maximum again
        QTRY_COMPARE(h.blocker->running.load(), 4);
        QCOMPARE(h.dispatcher->effectiveConcurrency(), 4);
        QCOMPARE(h.dispatcher->resourceLimit(), 0);
    }

    void claimingPauseStopsOnlyNewClaims()
    {
        Harness h;
        QVERIFY(h.dispatcher->start().ok());
        const qint64 running = h.enqueue(h.job(h.alice, QStringLiteral("block")));
        QTRY_COMPARE(h.blocker->running.load(), 1);
        h.dispatcher->setClaimingPaused(true);
        QVERIFY(h.dispatcher->claimingPaused());
        const qint64 waiting = h.enqueue(h.job(h.alice, QStringLiteral("record")));
        QTest::qWait(200); // ten poll intervals
        QCOMPARE(h.status(waiting), JobStatus::Pending);
        h.blocker->release = true;
        QVERIFY(h.waitStatus(running, JobStatus::Completed)); // what runs finishes and settles
        QCOMPARE(h.status(waiting), JobStatus::Pending);
        QVERIFY(!h.queue->isPaused()); // not the operator's pause
        h.dispatcher->setClaimingPaused(false);
        QVERIFY(h.waitStatus(waiting, JobStatus::Completed));
    }
    // Jobs claimed ahead of the slots that have not started go back when claiming pauses (the
    // disk floor: this node should not start more, and other nodes may run them), those of a
    // claim that was in flight at the pause too. What runs goes on.
    void claimingPauseHandsBackJobsNotStarted()
    {
        QueueConfig config = Harness::defaults();
        config.maxConcurrency = 1;
        Harness h(config);
        QVERIFY(h.dispatcher->start().ok());
        // Short jobs first: the dispatcher learns they are short and claims ahead of its slot.
        constexpr int Short = 200;
        QVERIFY(
            h.queue->enqueueBatch(QList<NewJob>(Short, h.job(h.alice, QStringLiteral("record"))))
                .ok());
        QTRY_COMPARE_WITH_TIMEOUT(h.recorder->started().size(), Short, 60'000);
        const qint64 running = h.enqueue(h.job(h.alice, QStringLiteral("block")));
        QTRY_COMPARE(h.blocker->running.load(), 1);
        constexpr int Waiting = 20;
        QVERIFY(
            h.queue->enqueueBatch(QList<NewJob>(Waiting, h.job(h.alice, QStringLiteral("record"))))
                .ok());
        QTRY_VERIFY(*h.t.store->pendingJobCount() < Waiting); // claimed ahead, not started

        h.dispatcher->setClaimingPaused(true);
        QTRY_COMPARE(*h.t.store->pendingJobCount(), qint64(Waiting));
        QCOMPARE(h.recorder->started().size(), Short);
        QCOMPARE(h.status(running), JobStatus::Running);
        h.blocker->release = true;
        QVERIFY(h.waitStatus(running, JobStatus::Completed));
        QTest::qWait(100); // five poll intervals
        QCOMPARE(h.recorder->started().size(), Short);
        QCOMPARE(*h.t.store->pendingJobCount(), qint64(Waiting));

        h.dispatcher->setClaimingPaused(false);
        QTRY_COMPARE_WITH_TIMEOUT(h.recorder->started().size(), Short + Waiting, 30'000);
    }
    // --- end resource monitor ---

    // PostgreSQL runs two of a dispatcher's cycles at once (JobStore::parallelCycles): a claim
    // that waits in the server does not hold back the writing of a job that finished meanwhile.
    // The claim waits for real: this test holds the fair clock's rows for priority 0 (all 64
    // slots: a claim's server process advances a slot of its own, migration 0022), which a claim
    // of a priority-0 job updates last.
    void aWaitingClaimDoesNotHoldBackSettling()
    {
        if (!onPostgres())
            QSKIP("PostgreSQL only: SQLite has one writer, so its cycles take turns by design.");
        Harness h;
        QVERIFY(h.dispatcher->start().ok());
        const qint64 running = h.enqueue(h.job(h.alice, QStringLiteral("block"), {}, 5));
        QTRY_COMPARE(h.blocker->running.load(), 1);

        QString error;
        writeRows(h.t.location(),
                  QStringLiteral("INSERT INTO fair_clock (priority, slot, v) SELECT 0, slot, 0 "
                                 "FROM generate_series(0, 63) AS slot ON CONFLICT DO NOTHING"),
                  &error);
        QVERIFY2(error.isEmpty(), qPrintable(error));
        const QString connection = QStringLiteral("clock-holder");
        auto removeConnection = qScopeGuard([&] { QSqlDatabase::removeDatabase(connection); });
        {
            QSqlDatabase db = openPostgres(h.t.location(), connection);
            QVERIFY(db.isOpen());
            QVERIFY(db.transaction());
            QSqlQuery hold(db);
            QVERIFY(hold.exec(
                QStringLiteral("SELECT v FROM fair_clock WHERE priority = 0 FOR UPDATE")));
            QCOMPARE(hold.size(), 64);

            const qint64 waiting = h.enqueue(h.job(h.alice, QStringLiteral("record")));
            const QString waitsForLock =
                QStringLiteral("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                               "current_database() AND wait_event_type = 'Lock'");
            QVERIFY2(waitFor(
                         [&] {
                             const auto rows = readRows(h.t.location(), waitsForLock, &error);
                             return !rows.isEmpty() && rows.first().first().toInt() > 0;
                         },
                         10'000),
                     "the claim never waited for the fair clock's row");

            h.blocker->release = true;
            QVERIFY2(h.waitStatus(running, JobStatus::Completed, 10'000),
                     "the finished job was not written while the claim waited");
            QCOMPARE(h.status(waiting), JobStatus::Pending); // its claim has not committed

            QVERIFY(db.commit());
            QVERIFY(h.waitStatus(waiting, JobStatus::Completed));
            QCOMPARE(h.recorder->started().size(), 1);
        }
    }
};

QTEST_GUILESS_MAIN(tst_Dispatcher)
#include "tst_dispatcher.moc"
