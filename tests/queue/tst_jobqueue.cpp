#include "queue/builtinhandlers.h"
#include "queue/jobqueue.h"
#include "testsupport.h"

#include <QJsonDocument>
#include <QSignalSpy>
#include <QTest>

using namespace Ferry;
using namespace Ferry::Test;

namespace {

struct Counter final : QueueObserver
{
    void jobsEnqueued(int count) override { enqueued += count; }
    void cancelRequested(qint64 id) override { cancelled.append(id); }
    void pausedChanged(bool paused) override { pauses.append(paused); }
    int enqueued = 0;
    QList<qint64> cancelled;
    QList<bool> pauses;
};

} // namespace

class tst_JobQueue : public QObject
{
    Q_OBJECT

private:
    struct Fixture
    {
        Fixture()
        {
            registerBuiltinHandlers(handlers);
            queue = std::make_unique<JobQueue>(*t.store, handlers, t.clock, config);
            user = t.addUser(QStringLiteral("alice"));
        }
        NewJob job(const QString &type = QStringLiteral("noop")) const
        {
            NewJob j;
            j.userId = user;
            j.type = type;
            return j;
        }
        TempStore t;
        HandlerRegistry handlers;
        QueueConfig config;
        std::unique_ptr<JobQueue> queue;
        qint64 user = 0;
    };

private Q_SLOTS:
    void fillsDefaults()
    {
        Fixture f;
        auto id = f.queue->enqueue(f.job());
        QVERIFY(id.ok());
        auto job = f.t.store->job(id->id, std::nullopt);
        QCOMPARE((*job)->maxAttempts, f.config.defaultMaxAttempts);
        QCOMPARE((*job)->timeoutMs, f.config.defaultTimeoutMs);
        QCOMPARE((*job)->runAt, f.t.clock.nowMs());
        QCOMPARE((*job)->status, JobStatus::Pending);
    }

    void delayedJobKeepsItsRunAt()
    {
        Fixture f;
        NewJob later = f.job();
        later.runAt = f.t.clock.nowMs() + 60'000;
        const qint64 id = f.queue->enqueue(later)->id;
        QCOMPARE((*f.t.store->job(id, std::nullopt))->runAt, later.runAt);
        auto claimed =
            f.t.store->settleAndClaim({}, {QStringLiteral("n"), 1, f.t.clock.nowMs(), 1000});
        QVERIFY(claimed->isEmpty());
    }

    void refusesBadRequests_data()
    {
        QTest::addColumn<QString>("type");
        QTest::addColumn<int>("priority");
        QTest::addColumn<int>("maxAttempts");
        QTest::addColumn<QString>("payload");
        QTest::addColumn<QString>("mentions");
        QTest::newRow("unknown type") << "bogus" << 0 << 0 << "{}"
                                      << "noop, sleep";
        QTest::newRow("priority too high") << "noop" << 101 << 0 << "{}"
                                           << "Priority 101";
        QTest::newRow("priority too low") << "noop" << -101 << 0 << "{}"
                                          << "-100 to 100";
        QTest::newRow("attempts") << "noop" << 0 << 1000 << "{}"
                                  << "maxAttempts 1000";
        QTest::newRow("sleep payload") << "sleep" << 0 << 0 << R"({"ms":"long"})"
                                       << "\"ms\"";
    }
    void refusesBadRequests()
    {
        QFETCH(QString, type);
        QFETCH(int, priority);
        QFETCH(int, maxAttempts);
        QFETCH(QString, payload);
        QFETCH(QString, mentions);
        Fixture f;
        Counter counter;
        f.queue->addObserver(&counter);
        NewJob bad = f.job(type);
        bad.priority = priority;
        bad.maxAttempts = maxAttempts;
        bad.payload = QJsonDocument::fromJson(payload.toUtf8()).object();
        // In a batch with good jobs: nothing at all is written.
        auto result = f.queue->enqueueBatch({f.job(), bad, f.job()});
        QVERIFY(!result.ok());
        QCOMPARE(result.error().code, ErrorCode::InvalidArgument);
        QVERIFY2(result.error().toString().contains(mentions),
                 qPrintable(result.error().toString()));
        QVERIFY(f.t.store->countByStatus()->isEmpty());
        QCOMPARE(counter.enqueued, 0);
        f.queue->removeObserver(&counter);
    }

    void notifiesObserversAndSignals()
    {
        Fixture f;
        Counter counter;
        f.queue->addObserver(&counter);
        QSignalSpy spy(f.queue.get(), &JobQueue::jobsEnqueued);
        QVERIFY(f.queue->enqueueBatch(QList<NewJob>(5, f.job())).ok());
        QCOMPARE(counter.enqueued, 5);
        QCOMPARE(spy.count(), 1);
        QCOMPARE(spy.first().first().toInt(), 5);
        f.queue->removeObserver(&counter);
    }

    void deduplicatedJobsDoNotWakeAnyone()
    {
        Fixture f;
        Counter counter;
        f.queue->addObserver(&counter);
        NewJob keyed = f.job();
        keyed.uniqueKey = QStringLiteral("k");
        const auto first = f.queue->enqueue(keyed);
        const auto second = f.queue->enqueue(keyed);
        QCOMPARE(first->id, second->id);
        QVERIFY(second->deduplicated);
        QCOMPARE(counter.enqueued, 1);
        f.queue->removeObserver(&counter);
    }

    void pauseIsPersisted()
    {
        Fixture f;
        Counter counter;
        f.queue->addObserver(&counter);
        QVERIFY(!f.queue->isPaused());
        QVERIFY(f.queue->setPaused(true).ok());
        QVERIFY(f.queue->isPaused());
        QCOMPARE(counter.pauses, QList<bool>{true});
        // A new process (a new queue on the same store) starts paused.
        JobQueue again(*f.t.store, f.handlers, f.t.clock, f.config);
        QVERIFY(again.isPaused());
        QVERIFY(again.setPaused(false).ok());
        f.queue->reloadPaused();
        QVERIFY(!f.queue->isPaused());
        QCOMPARE(counter.pauses, (QList<bool>{true, false}));
        f.queue->removeObserver(&counter);
    }

    void cancelPendingAndRunning()
    {
        Fixture f;
        Counter counter;
        f.queue->addObserver(&counter);
        const qint64 pending = f.queue->enqueue(f.job())->id;
        QCOMPARE(*f.queue->cancel(pending), JobStatus::Cancelled);
        QVERIFY(counter.cancelled.isEmpty()); // nothing to tell a dispatcher

        const qint64 running = f.queue->enqueue(f.job())->id;
        QVERIFY(
            f.t.store->settleAndClaim({}, {QStringLiteral("n"), 1, f.t.clock.nowMs(), 1000}).ok());
        QCOMPARE(*f.queue->cancel(running), JobStatus::Running);
        QCOMPARE(counter.cancelled, QList<qint64>{running});
        QVERIFY((*f.t.store->job(running, std::nullopt))->cancelRequested);
        f.queue->removeObserver(&counter);
    }

    void setPriorityValidates()
    {
        Fixture f;
        const qint64 id = f.queue->enqueue(f.job())->id;
        QCOMPARE(f.queue->setPriority(id, 1000).error().code, ErrorCode::InvalidArgument);
        QVERIFY(f.queue->setPriority(id, 7).ok());
        QCOMPARE((*f.t.store->job(id, std::nullopt))->priority, 7);
        QCOMPARE(f.queue->setPriority(id + 100, 7).error().code, ErrorCode::NotFound);
    }
};

QTEST_GUILESS_MAIN(tst_JobQueue)
#include "tst_jobqueue.moc"
