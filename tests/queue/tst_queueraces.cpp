// The queue's promises under stalls, cancels and pauses (issue 18), on both stores:
//  - a cancel the API accepted wins over every later settle (timeout, transient failure,
//    shutdown release, hand-back while paused), in memory and in the store;
//  - a pause written by another process stops claims at once, not at the next poll;
//  - a node stalled past its lease never runs two attempts of one job, stops the attempt whose
//    lease it lost, and renews by lease token.
#include "dispatchharness.h"

#include <QTest>

using namespace Ferry;
using namespace Ferry::Test;

namespace {

SettledAttempt settledAs(const ClaimedJob &job, JobStatus status, qint64 now)
{
    SettledAttempt s;
    s.jobId = job.id;
    s.userId = job.userId;
    s.leaseToken = job.leaseToken;
    s.attempt = job.attempt;
    s.startedAt = job.startedAt;
    s.finishedAt = now;
    s.newStatus = status;
    s.retryAt = now;
    s.outcome = QStringLiteral("timeout");
    s.error = QStringLiteral("Timed out.");
    return s;
}

qint64 notPending(Harness &h, const QList<qint64> &ids)
{
    qint64 count = 0;
    for (const qint64 id : ids)
        count += h.status(id) != JobStatus::Pending ? 1 : 0;
    return count;
}

} // namespace

class tst_QueueRaces : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    // --- Item 3: an accepted cancel is never lost ---

    // The store: an attempt settled back to pending (a retry, a shutdown release, a hand-back
    // while paused) or to dead after its cancel was accepted ends cancelled, and the next claim
    // does not take it. Before: pending, claimed again, cancel_requested reset by the claim.
    void cancelWinsOverASettleInTheStore_data()
    {
        QTest::addColumn<int>("settledAs");
        QTest::addColumn<bool>("released");
        QTest::newRow("retry") << int(JobStatus::Pending) << false;
        QTest::newRow("shutdown release") << int(JobStatus::Pending) << true;
        QTest::newRow("dead") << int(JobStatus::Dead) << false;
    }
    void cancelWinsOverASettleInTheStore()
    {
        QFETCH(int, settledAs);
        QFETCH(bool, released);
        Harness h;
        const qint64 id = h.enqueue(h.job(h.alice, QStringLiteral("noop")));
        Store &store = *h.t.store;
        const qint64 now = h.t.clock.nowMs();
        auto claimed = store.settleAndClaim({}, {QStringLiteral("n"), 1, now, 30'000});
        QVERIFY(claimed.ok());
        QCOMPARE(claimed->size(), 1);
        QCOMPARE(*store.cancelJob(id, std::nullopt, now), JobStatus::Running); // accepted
        SettledAttempt s = ::settledAs(claimed->first(), JobStatus(settledAs), now + 5);
        s.releaseAttempt = released;
        auto next = store.settleAndClaim({s}, {QStringLiteral("n"), 1, now + 10, 30'000});
        QVERIFY2(next.ok(), qPrintable(next.error().toString()));
        QVERIFY(next->isEmpty()); // not claimed again
        const Job job = h.get(id);
        QCOMPARE(job.status, JobStatus::Cancelled);
        QCOMPARE(job.finishedAt, now + 5);
        QVERIFY(job.leaseOwner.isEmpty());
    }

    // Without a cancel the same settles keep their meaning, and a retry is claimed again.
    void settleWithoutCancelIsUnchanged()
    {
        Harness h;
        const qint64 id = h.enqueue(h.job(h.alice, QStringLiteral("noop")));
        Store &store = *h.t.store;
        const qint64 now = h.t.clock.nowMs();
        auto claimed = store.settleAndClaim({}, {QStringLiteral("n"), 1, now, 30'000});
        QCOMPARE(claimed->size(), 1);
        SettledAttempt s = ::settledAs(claimed->first(), JobStatus::Pending, now + 5);
        auto next = store.settleAndClaim({s}, {QStringLiteral("n"), 1, now + 10, 30'000});
        QVERIFY(next.ok());
        // Settled in this statement: claimable from the next cycle on.
        if (next->isEmpty())
            next = store.settleAndClaim({}, {QStringLiteral("n"), 1, now + 10, 30'000});
        QCOMPARE(next->size(), 1);
        QCOMPARE(h.get(id).status, JobStatus::Running);
        QCOMPARE(h.get(id).attempts, 2);
    }

    // In memory: the timeout fires first, the handler is still finishing its batch, then the
    // user cancels (the API answers "running": accepted). Before: the first reason (timeout)
    // won, the attempt went back to pending and ran a second time.
    void cancelAfterATimeoutFiredWins()
    {
        Harness h;
        h.dispatcher->setBackoffRandom([] { return 0.0; });
        QVERIFY(h.dispatcher->start().ok());
        NewJob slow = h.job(h.alice, QStringLiteral("linger"));
        slow.timeoutMs = 10'000;
        slow.maxAttempts = 3;
        const qint64 id = h.enqueue(slow);
        QTRY_COMPARE(h.lingerer->started.load(), 1);
        h.t.clock.advance(10'000);
        QTRY_COMPARE(h.lingerer->stopping.load(), 1); // the timeout reached the handler
        QCOMPARE(*h.queue->cancel(id), JobStatus::Running);
        h.lingerer->letGo = true;
        QVERIFY(h.waitStatus(id, JobStatus::Cancelled));
        QTest::qWait(200); // ten polls: it does not come back
        QCOMPARE(h.status(id), JobStatus::Cancelled);
        QCOMPARE(h.lingerer->started.load(), 1);
    }

    // A transient failure returned right after the cancel was accepted by another process (the
    // dispatcher has not heard of it yet): cancelled, not retried.
    void cancelRacingATransientFailureWins()
    {
        Harness h;
        h.dispatcher->setBackoffRandom([] { return 0.0; });
        QVERIFY(h.dispatcher->start().ok());
        NewJob job = h.job(h.alice, QStringLiteral("linger"),
                           {{QStringLiteral("end"), QStringLiteral("transient")}});
        job.maxAttempts = 3;
        const qint64 id = h.enqueue(job);
        QTRY_COMPARE(h.lingerer->started.load(), 1);
        // Straight to the store, as `ferry cancel` in another process would.
        QCOMPARE(*h.t.store->cancelJob(id, std::nullopt, h.t.clock.nowMs()), JobStatus::Running);
        h.lingerer->letGo = true;
        QVERIFY(h.waitStatus(id, JobStatus::Cancelled));
        QTest::qWait(200);
        QCOMPARE(h.status(id), JobStatus::Cancelled);
        QCOMPARE(h.lingerer->started.load(), 1);
    }

    // A shutdown whose grace period runs out releases the attempt; a cancel that came first
    // still wins (in memory over the shutdown reason, in the store over the release).
    void cancelBeforeShutdownWins()
    {
        QueueConfig config = Harness::defaults();
        config.shutdownGraceMs = 100;
        Harness h(config);
        QVERIFY(h.dispatcher->start().ok());
        const qint64 id = h.enqueue(h.job(h.alice, QStringLiteral("linger")));
        QTRY_COMPARE(h.lingerer->started.load(), 1);
        QCOMPARE(*h.t.store->cancelJob(id, std::nullopt, h.t.clock.nowMs()), JobStatus::Running);
        h.dispatcher->stop(); // the handler lingers past the grace period
        QCOMPARE(h.status(id), JobStatus::Cancelled);
        h.lingerer->letGo = true;
    }

    // --- Item 4: a pause from another process stops claims at once ---

    // `ferry pause` in another process writes the setting and returns; this engine polls every
    // 5 s. Before: it went on claiming until its next poll. After: no job is claimed once the
    // pause is written (the claim reads it under its lock).
    void pauseFromAnotherProcessStopsClaimsAtOnce()
    {
        QueueConfig config = Harness::defaults();
        config.pollIntervalMs = 5'000;
        Harness h(config);
        QList<NewJob> jobs(400,
                           h.job(h.alice, QStringLiteral("record"), {{QStringLiteral("ms"), 5}}));
        auto enqueued = h.queue->enqueueBatch(jobs);
        QVERIFY(enqueued.ok());
        QList<qint64> ids;
        for (const EnqueuedJob &job : *enqueued)
            ids.append(job.id);
        QVERIFY(h.dispatcher->start().ok());
        QVERIFY(waitFor([&] { return h.recorder->started().size() >= 10; }));
        QVERIFY(h.t.store->setSetting(QStringLiteral("queue.paused"), QStringLiteral("1")).ok());
        // What a claim already in flight when the pause committed took is counted here.
        QTest::qWait(100);
        const qint64 claimedAtPause = notPending(h, ids);
        QVERIFY(claimedAtPause < ids.size());
        QTest::qWait(1'500); // well inside the 5 s poll
        QCOMPARE(notPending(h, ids), claimedAtPause);
        // The engine caught up with the pause (SQLite: told by the refused claim).
        if (h.t.store->backendName() == u"sqlite")
            QVERIFY(h.queue->isPaused());
    }

    // --- Item 1: a node stalled past its lease ---

    // The dispatch loop freezes (a VM pause) past its lease while a job runs; another node
    // rescues the job; the loop wakes with free slots. Before: it claimed the job back at once
    // and ran a second attempt beside the first, renewed the row by owner (so it stayed
    // running), and a cancel reached only the stale attempt. After: the renewal (by token) comes
    // first and stops the stale attempt; the job claimed back waits for it to end; a cancel
    // reaches the attempt that runs.
    void stalledNodeNeverRunsTwoAttemptsOfAJob()
    {
        QueueConfig config = Harness::defaults();
        config.exclusiveStore = false;
        config.leaseMs = 600; // renewed every 200 ms
        config.maxConcurrency = 2;
        Harness h(config);
        std::atomic<bool> stall{false};
        std::atomic<bool> stalled{false};
        h.dispatcher->setCycleHook([&] {
            while (stall.load()) {
                stalled = true;
                QThread::msleep(1);
            }
            stalled = false;
        });
        QVERIFY(h.dispatcher->start().ok());
        const qint64 id =
            h.enqueue(h.job(h.alice, QStringLiteral("record"), {{QStringLiteral("ms"), 600'000}}));
        QVERIFY(waitFor([&] { return h.recorder->started().size() == 1; }));
        stall = true;
        QVERIFY(waitFor([&] { return stalled.load(); }));
        h.t.clock.advance(10'000); // the lease expired while the loop was frozen
        auto rescued = h.t.store->rescueLeases(RescueScope::ExpiredLeases, QStringLiteral("ghost"),
                                               h.t.clock.nowMs());
        QVERIFY2(rescued.ok(), qPrintable(rescued.error().toString()));
        QCOMPARE(rescued->size(), 1);
        QCOMPARE(h.status(id), JobStatus::Pending);
        QTest::qWait(300); // past the renewal interval, as a long stall is
        stall = false;
        // It is claimed back here (this node has free slots), but never runs twice at once.
        QVERIFY(waitFor([&] { return h.recorder->started().size() == 2; }));
        QTest::qWait(300);
        QCOMPARE(h.recorder->maxActive(), 1);
        QCOMPARE(h.status(id), JobStatus::Running);
        // The cancel reaches the attempt that runs now.
        QCOMPARE(*h.queue->cancel(id), JobStatus::Running);
        QVERIFY(h.waitStatus(id, JobStatus::Cancelled, 10'000));
        QTRY_COMPARE(h.dispatcher->runningCount(), 0);
        const auto attempts = *h.t.store->attempts(id);
        QCOMPARE(attempts.size(), 2);
        QCOMPARE(attempts.at(0).outcome, QStringLiteral("lost"));
        QCOMPARE(attempts.at(1).outcome, QStringLiteral("cancelled"));
    }
};

QTEST_GUILESS_MAIN(tst_QueueRaces)
#include "tst_queueraces.moc"
