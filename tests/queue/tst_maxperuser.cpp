#include "queue/dispatcher.h"
#include "testsupport.h"

#include <QHash>
#include <QMutex>
#include <QSignalSpy>
#include <QTest>
#include <QThread>

#include <atomic>

using namespace Ferry;
using namespace Ferry::Test;

namespace {

// Counts each user's jobs running at once, and the most seen, per user and overall.
class PerUserHandler final : public JobHandler
{
public:
    JobOutcome run(JobContext &context) override
    {
        const qint64 user = context.job().userId;
        {
            QMutexLocker lock(&m_mutex);
            const int now = ++m_active[user];
            m_maxActive[user] = qMax(m_maxActive.value(user), now);
            m_maxTotal = qMax(m_maxTotal, ++m_total);
        }
        const int ms = context.payload().value(u"ms").toInt();
        for (int i = 0; i < ms && !context.isCancelled(); ++i)
            QThread::msleep(1);
        QMutexLocker lock(&m_mutex);
        --m_active[user];
        --m_total;
        return JobOutcome::completed();
    }
    int maxActive(qint64 user) const
    {
        QMutexLocker lock(&m_mutex);
        return m_maxActive.value(user);
    }
    int maxTotal() const
    {
        QMutexLocker lock(&m_mutex);
        return m_maxTotal;
    }

private:
    mutable QMutex m_mutex;
    QHash<qint64, int> m_active, m_maxActive;
    int m_total = 0, m_maxTotal = 0;
};

NewJob job(qint64 user, int ms = 0)
{
    NewJob j;
    j.userId = user;
    j.type = QStringLiteral("peruser");
    j.payload = {{QStringLiteral("ms"), ms}};
    return j;
}

QueueConfig config(int maxConcurrency)
{
    QueueConfig c;
    c.maxConcurrency = maxConcurrency;
    c.pollIntervalMs = 20;
    c.defaultTimeoutMs = 0;
    c.retentionMs = 0;
    return c;
}

} // namespace

// The per-user cap: "at most N running jobs per user", enforced in the store's claim, applied
// live and persisted.
class tst_MaxPerUser : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    // A claim built before the operator set a cap, which waited for the store's write lock
    // while the cap was set and jobs were enqueued, still obeys the cap: the store reads it
    // live once it holds the lock (this once let 4 of a user's jobs run under a cap of 3).
    void capChangedWhileTheClaimWaitedApplies()
    {
        TempStore t;
        const qint64 alice = t.addUser(QStringLiteral("alice"));
        HandlerRegistry handlers;
        handlers.add(QStringLiteral("peruser"), std::make_shared<PerUserHandler>());
        JobQueue queue(*t.store, handlers, t.clock, config(4));
        QVERIFY(queue.enqueueBatch(QList<NewJob>(5, job(alice))).ok());
        std::atomic<int> live = 2; // what the queue says when the store asks
        ClaimRequest stale{QStringLiteral("node"),         8, t.clock.nowMs(), 60'000, 0,
                           [&live] { return live.load(); }};
        auto claimed = t.store->settleAndClaim({}, stale);
        QVERIFY(claimed.ok());
        QCOMPARE(claimed->size(), 2);
        live = 0; // the cap lifted: the rest may run
        auto rest = t.store->settleAndClaim({}, stale);
        QCOMPARE(rest->size(), 3);
    }

    void claimSkipsUsersAtTheirCap()
    {
        TempStore t;
        HandlerRegistry handlers;
        handlers.add(QStringLiteral("peruser"), std::make_shared<PerUserHandler>());
        const qint64 alice = t.addUser(QStringLiteral("alice"));
        const qint64 bob = t.addUser(QStringLiteral("bob"));
        JobQueue queue(*t.store, handlers, t.clock, config(4));
        QVERIFY(queue.enqueueBatch(QList<NewJob>(3, job(alice))).ok());
        QVERIFY(queue.enqueueBatch(QList<NewJob>(3, job(bob))).ok());

        ClaimRequest request{QStringLiteral("node"), 10, t.clock.nowMs(), 60'000, 1};
        auto first = t.store->settleAndClaim({}, request);
        QVERIFY(first.ok());
        QCOMPARE(first->size(), 2); // one of each user's, though ten were asked for
        QVERIFY(first->at(0).userId != first->at(1).userId);
        auto none = t.store->settleAndClaim({}, request);
        QVERIFY(none.ok());
        QCOMPARE(none->size(), 0); // both users are at their cap

        // Alice's job finishes: the same call settles it and claims alice's next one.
        const ClaimedJob &done = first->at(0).userId == alice ? first->at(0) : first->at(1);
        SettledAttempt settled;
        settled.jobId = done.id;
        settled.userId = alice;
        settled.leaseToken = done.leaseToken;
        settled.attempt = done.attempt;
        settled.finishedAt = t.clock.nowMs();
        settled.outcome = QStringLiteral("completed");
        auto next = t.store->settleAndClaim({settled}, request);
        QVERIFY(next.ok());
        QCOMPARE(next->size(), 1);
        QCOMPARE(next->at(0).userId, alice);

        // Cap 2: bob may run a second job; without a cap everything left is claimed.
        request.maxPerUser = 2;
        auto two = t.store->settleAndClaim({}, request);
        QVERIFY(two.ok());
        QCOMPARE(two->size(), 2); // alice's second and bob's second
        request.maxPerUser = 0;
        auto rest = t.store->settleAndClaim({}, request);
        QVERIFY(rest.ok());
        QCOMPARE(rest->size(), 1);
    }

    void aUserAtTheCapDoesNotHideOthersBehindThem()
    {
        TempStore t;
        HandlerRegistry handlers;
        handlers.add(QStringLiteral("peruser"), std::make_shared<PerUserHandler>());
        const qint64 alice = t.addUser(QStringLiteral("alice"));
        const qint64 bob = t.addUser(QStringLiteral("bob"));
        JobQueue queue(*t.store, handlers, t.clock, config(4));
        NewJob urgent = job(alice);
        urgent.priority = 10; // all of alice's jobs come before bob's in claim order
        QVERIFY(queue.enqueueBatch(QList<NewJob>(300, urgent)).ok());
        QVERIFY(queue.enqueue(job(bob)).ok());
        ClaimRequest request{QStringLiteral("node"), 4, t.clock.nowMs(), 60'000, 2};
        auto claimed = t.store->settleAndClaim({}, request);
        QVERIFY(claimed.ok());
        QCOMPARE(claimed->size(), 3); // two of alice's (her cap), then bob's from behind them
        QCOMPARE(claimed->at(0).userId, alice);
        QCOMPARE(claimed->at(1).userId, alice);
        QCOMPARE(claimed->at(2).userId, bob);
        auto none = t.store->settleAndClaim({}, request);
        QVERIFY(none.ok());
        QCOMPARE(none->size(), 0);
    }

    void dispatcherNeverRunsTwoOfOneUsersJobsAtOnce()
    {
        TempStore t;
        HandlerRegistry handlers;
        auto handler = std::make_shared<PerUserHandler>();
        handlers.add(QStringLiteral("peruser"), handler);
        const qint64 alice = t.addUser(QStringLiteral("alice"));
        const qint64 bob = t.addUser(QStringLiteral("bob"));
        JobQueue queue(*t.store, handlers, t.clock, config(8));
        QVERIFY(queue.setMaxPerUser(1).ok());
        Dispatcher dispatcher(queue, handlers, t.clock, QStringLiteral("node"));
        QVERIFY(dispatcher.start().ok());
        QVERIFY(queue.enqueueBatch(QList<NewJob>(12, job(alice, 15))).ok());
        QVERIFY(queue.enqueueBatch(QList<NewJob>(12, job(bob, 15))).ok());
        QVERIFY(
            waitFor([&] { return t.store->countByStatus()->value(JobStatus::Completed) == 24; }));
        QCOMPARE(handler->maxActive(alice), 1);
        QCOMPARE(handler->maxActive(bob), 1);
        QVERIFY(handler->maxTotal() <= 2);
        dispatcher.stop();
    }

    void raisingTheCapAppliesLive()
    {
        TempStore t;
        HandlerRegistry handlers;
        auto handler = std::make_shared<PerUserHandler>();
        handlers.add(QStringLiteral("peruser"), handler);
        const qint64 alice = t.addUser(QStringLiteral("alice"));
        JobQueue queue(*t.store, handlers, t.clock, config(4));
        QVERIFY(queue.setMaxPerUser(1).ok());
        Dispatcher dispatcher(queue, handlers, t.clock, QStringLiteral("node"));
        QVERIFY(dispatcher.start().ok());
        QVERIFY(queue.enqueueBatch(QList<NewJob>(4, job(alice, 2'000))).ok());
        QVERIFY(waitFor([&] { return dispatcher.runningCount() == 1; }));
        QVERIFY(queue.setMaxPerUser(0).ok());
        QVERIFY(waitFor([&] { return dispatcher.runningCount() == 4; }));
        QCOMPARE(handler->maxActive(alice), 4);
        dispatcher.stop();
    }

    void capIsPersistedAndChecked()
    {
        TempStore t;
        HandlerRegistry handlers;
        QueueConfig c = config(4);
        c.maxPerUser = 3; // --max-per-user: the default until an operator saves a value
        {
            JobQueue queue(*t.store, handlers, t.clock, c);
            QCOMPARE(queue.maxPerUser(), 3);
            QSignalSpy changed(&queue, &JobQueue::maxPerUserChanged);
            QVERIFY(queue.setMaxPerUser(2).ok());
            QCOMPARE(changed.size(), 1);
            QCOMPARE(changed.at(0).at(0).toInt(), 2);
            QCOMPARE(queue.setMaxPerUser(65).error().code, ErrorCode::InvalidArgument);
            QCOMPARE(queue.setMaxPerUser(-1).error().code, ErrorCode::InvalidArgument);
            QCOMPARE(queue.maxPerUser(), 2);
        }
        JobQueue reopened(*t.store, handlers, t.clock, c);
        QCOMPARE(reopened.maxPerUser(), 2);
        QCOMPARE(**t.store->setting(QStringLiteral("queue.maxPerUser")), QStringLiteral("2"));
    }
};

QTEST_MAIN(tst_MaxPerUser)
#include "tst_maxperuser.moc"
