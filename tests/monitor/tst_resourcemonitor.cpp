#include "monitor/resourcemonitor.h"
#include "queue/builtinhandlers.h"
#include "queue/dispatchercontrol.h"
#include "testsupport.h"

#include <QSignalSpy>
#include <QTest>
#include <QThread>

#include <atomic>

using namespace Ferry;
using namespace Ferry::Test;

namespace {

constexpr qint64 MB = qint64(1) << 20;

// An interface double of SystemProbe: the values the test sets (the /proc parsing is
// tst_procprobe's subject). Atomic, since a started monitor reads it on its own thread.
class FakeProbe final : public SystemProbe
{
public:
    Result<qint64> processRssBytes() override { return rss.load(); }
    Result<qint64> processCpuTimeMs() override { return cpuMs.load(); }
    Result<SystemMemory> systemMemory() override { return SystemMemory{8000 * MB, 6000 * MB}; }
    Result<qint64> freeDiskBytes() override { return disk.load(); }

    std::atomic<qint64> rss{100 * MB};
    std::atomic<qint64> cpuMs{0};
    std::atomic<qint64> disk{100'000 * MB};
};

// A real store, queue and dispatcher (as app/ wires them) with a monitor over the fake probe.
struct Harness
{
    Harness()
    {
        registerBuiltinHandlers(handlers);
        user = t.addUser(QStringLiteral("alice"));
        QueueConfig config;
        config.maxConcurrency = 4;
        config.pollIntervalMs = 20;
        config.defaultTimeoutMs = 0;
        config.retentionMs = 0;
        queue = std::make_unique<JobQueue>(*t.store, handlers, t.clock, config);
        dispatcher =
            std::make_unique<Dispatcher>(*queue, handlers, t.clock, QStringLiteral("node-a"));
    }
    std::unique_ptr<ResourceMonitor> makeMonitor(ResourceMonitor::Options options = {})
    {
        MonitorSources sources;
        sources.activeJobs = [d = dispatcher.get()] { return d->runningCount(); };
        sources.queueDepth = [s = t.store.get()]() -> qint64 { return *s->pendingJobCount(); };
        sources.completedTotal = [this]() -> qint64 { return completed.load(); };
        sources.httpRequestsTotal = [this]() -> qint64 { return requests.load(); };
        sources.http429Total = [this]() -> qint64 { return limited.load(); };
        return std::make_unique<ResourceMonitor>(probe, t.clock, sources, options, t.store.get(),
                                                 concurrencyControlOf(*dispatcher));
    }
    void tick(ResourceMonitor &monitor)
    {
        t.clock.advance(1000);
        monitor.tick();
    }
    qint64 pending() { return *t.store->pendingJobCount(); }

    TempStore t;
    HandlerRegistry handlers;
    FakeProbe probe;
    qint64 user = 0;
    std::atomic<qint64> completed{0};
    std::atomic<qint64> requests{0};
    std::atomic<qint64> limited{0};
    std::unique_ptr<JobQueue> queue;
    std::unique_ptr<Dispatcher> dispatcher;
};

} // namespace

class tst_ResourceMonitor : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void samplesProbeAndSources()
    {
        Harness h;
        auto monitor = h.makeMonitor();
        for (int i = 0; i < 3; ++i) {
            NewJob job;
            job.userId = h.user;
            job.type = QStringLiteral("noop");
            QVERIFY(h.queue->enqueue(job));
        }
        h.tick(*monitor);
        h.probe.cpuMs += 250; // a quarter of a core over the next second
        h.completed += 5;
        h.requests += 40;
        h.limited += 8;
        h.tick(*monitor);
        const auto sample = monitor->latest();
        QVERIFY(sample);
        QCOMPARE(sample->timestampMs, h.t.clock.nowMs());
        QCOMPARE(sample->rssBytes, 100 * MB);
        QCOMPARE(sample->cpuPercent, 25.0);
        QCOMPARE(sample->systemMemTotalBytes, 8000 * MB);
        QCOMPARE(sample->systemMemAvailableBytes, 6000 * MB);
        QCOMPARE(sample->queueDepth, qint64(3));
        QCOMPARE(sample->concurrencyLimit, 4);
        QCOMPARE(sample->configuredMax, 4);
        QCOMPARE(sample->jobsCompletedPerMin, 300.0); // 5 in one second
        QCOMPARE(sample->httpRequestsPerSec, 40.0);
        QCOMPARE(sample->http429PerSec, 8.0);
        // The throughput is over the last minute: 5 more in the next 59 s makes 10 a minute.
        h.completed += 5;
        for (int i = 0; i < 59; ++i)
            h.tick(*monitor);
        QCOMPARE(monitor->latest()->jobsCompletedPerMin, 10.0);
        QCOMPARE(monitor->latest()->httpRequestsPerSec, 0.0);
    }

    void rssSpikeLowersTheDispatchersLimit()
    {
        Harness h;
        auto monitor = h.makeMonitor();
        QSignalSpy changes(monitor.get(), &ResourceMonitor::limitChanged);
        h.tick(*monitor);
        QCOMPARE(h.dispatcher->effectiveConcurrency(), 4);
        h.probe.rss = 600 * MB;
        for (int expected : {3, 2, 1}) {
            h.tick(*monitor);
            QCOMPARE(h.dispatcher->effectiveConcurrency(), expected);
            QCOMPARE(h.dispatcher->maxConcurrency(), 4); // the operator's maximum is untouched
            QCOMPARE(monitor->latest()->concurrencyLimit, expected);
        }
        QCOMPARE(changes.count(), 3);
        QCOMPARE(changes.last().at(0).toInt(), 1);
        QCOMPARE(changes.last().at(1).toInt(), 4);
        QVERIFY(changes.last().at(2).toString().contains(QStringLiteral("high-water")));
        const auto events = monitor->recentEvents();
        QCOMPARE(events.size(), 3);
        QCOMPARE(events.last().effectiveLimit, 1);

        // The operator raises the maximum while throttled: the throttle holds.
        QVERIFY(h.dispatcher->setMaxConcurrency(6));
        h.tick(*monitor);
        QCOMPARE(h.dispatcher->effectiveConcurrency(), 1);

        // Back below low water: one step once it has been below for the hold time (30 s from
        // the first tick below it).
        h.probe.rss = 100 * MB;
        for (int i = 0; i < 30; ++i)
            h.tick(*monitor);
        QCOMPARE(h.dispatcher->effectiveConcurrency(), 1);
        h.tick(*monitor);
        QCOMPARE(h.dispatcher->effectiveConcurrency(), 2);
        QCOMPARE(h.dispatcher->resourceLimit(), 2);
    }

    void diskFloorPausesClaiming()
    {
        Harness h;
        ResourceMonitor::Options options;
        options.governor.minFreeDiskBytes = 256 * MB;
        auto monitor = h.makeMonitor(options);
        QSignalSpy paused(monitor.get(), &ResourceMonitor::claimingPausedChanged);
        QVERIFY(h.dispatcher->start());
        h.probe.disk = 100 * MB;
        h.tick(*monitor);
        QVERIFY(h.dispatcher->claimingPaused());
        QCOMPARE(paused.count(), 1);
        QCOMPARE(paused.last().at(0).toBool(), true);

        for (int i = 0; i < 3; ++i) {
            NewJob job;
            job.userId = h.user;
            job.type = QStringLiteral("noop");
            QVERIFY(h.queue->enqueue(job));
        }
        // Several poll intervals pass (20 ms each); nothing is claimed while paused.
        QTest::qWait(300);
        QCOMPARE(h.pending(), qint64(3));

        h.probe.disk = 1000 * MB;
        h.tick(*monitor);
        QVERIFY(!h.dispatcher->claimingPaused());
        QCOMPARE(paused.count(), 2);
        QVERIFY(waitFor([&] { return h.pending() == 0; }));
        h.dispatcher->stop();
    }

    void runsOffTheCallersThread()
    {
        Harness h;
        ResourceMonitor::Options options;
        options.intervalMs = 10; // ticks come fast; the clock still says the same second
        auto monitor = h.makeMonitor(options);
        std::atomic<bool> offThread{true};
        std::atomic<int> ticks{0};
        QThread *testThread = QThread::currentThread();
        QObject::connect(
            monitor.get(), &ResourceMonitor::sampled, monitor.get(),
            [&](const ResourceSample &) {
                if (QThread::currentThread() == testThread)
                    offThread = false;
                ++ticks;
            },
            Qt::DirectConnection);
        monitor->start();
        QVERIFY(monitor->isRunning());
        h.probe.rss = 600 * MB;
        QVERIFY(waitFor([&] { return h.dispatcher->effectiveConcurrency() == 1; }));
        monitor->stop();
        QVERIFY(!monitor->isRunning());
        QVERIFY(ticks.load() >= 3); // 4 -> 3 -> 2 -> 1, one step a tick
        QVERIFY(offThread.load());
        monitor->stop(); // idempotent
    }

    void historyPersistsAcrossRestart()
    {
        Harness h;
        h.t.clock.set(1'700'000'040'000 - 1000); // the first tick lands on a minute boundary
        const qint64 start = 1'700'000'040'000;
        {
            auto monitor = h.makeMonitor();
            for (int i = 0; i < 75; ++i) {
                h.probe.rss = (i == 20 ? 450 : 100 + i) * MB;
                h.tick(*monitor);
            }
            QString error;
            // Seconds go in batches of 10; the completed minute as it completes.
            auto rows = readRows(h.t.path(),
                                 QStringLiteral("SELECT resolution, count(*) FROM metric_samples "
                                                "GROUP BY resolution ORDER BY resolution"),
                                 &error);
            QVERIFY2(error.isEmpty(), qPrintable(error));
            QCOMPARE(rows.size(), 2);
            QCOMPARE(rows.at(0).at(1).toInt(), 70);
            QCOMPARE(rows.at(1).at(1).toInt(), 1);
        } // the monitor's destructor writes the last 5 seconds and the minute in progress
        {
            QString error;
            auto rows = readRows(h.t.path(),
                                 QStringLiteral("SELECT ts, rss_bytes FROM metric_samples "
                                                "WHERE resolution = 60 ORDER BY ts"),
                                 &error);
            QVERIFY2(error.isEmpty(), qPrintable(error));
            QCOMPARE(rows.size(), 2);
            QCOMPARE(rows.at(1).at(0).toLongLong(), start + 60'000);
            QCOMPARE(rows.at(1).at(1).toLongLong(), 174 * MB); // its 15 seconds' peak
        }

        // A new store on the same file, and a new monitor: the charts come back.
        h.dispatcher.reset();
        h.queue.reset();
        h.t.store = openStore(h.t.path());
        auto monitor = std::make_unique<ResourceMonitor>(
            h.probe, h.t.clock, MonitorSources{}, ResourceMonitor::Options{}, h.t.store.get());
        QVERIFY(monitor->loadHistory());
        const auto seconds = monitor->history(MetricRange::Last15Minutes);
        QCOMPARE(seconds.size(), 75);
        QCOMPARE(seconds.first().timestampMs, start);
        QCOMPARE(seconds.last().timestampMs, start + 74'000);
        QCOMPARE(seconds.at(20).rssBytes, 450 * MB);
        const auto minutes = monitor->history(MetricRange::Last24Hours);
        QCOMPARE(minutes.size(), 2); // the whole minute, and the one in progress at the stop
        QCOMPARE(minutes.first().timestampMs, start);
        QCOMPARE(minutes.first().rssBytes, 450 * MB); // the minute's peak
        QCOMPARE(minutes.last().timestampMs, start + 60'000);

        // The minute in progress at shutdown completes after the restart, with both halves.
        h.probe.rss = 50 * MB;
        for (int i = 0; i < 46; ++i)
            h.tick(*monitor);
        const auto after = monitor->history(MetricRange::Last24Hours);
        QCOMPARE(after.size(), 3); // and the next minute, just begun
        QCOMPARE(after.at(1).timestampMs, start + 60'000);
        QCOMPARE(after.at(1).rssBytes, 174 * MB); // from before the restart
        QCOMPARE(after.last().timestampMs, start + 120'000);
        QString error;
        auto rows = readRows(h.t.path(),
                             QStringLiteral("SELECT ts, rss_bytes FROM metric_samples "
                                            "WHERE resolution = 60 ORDER BY ts"),
                             &error);
        QVERIFY2(error.isEmpty(), qPrintable(error));
        QCOMPARE(rows.size(), 2);
        QCOMPARE(rows.at(1).at(0).toLongLong(), start + 60'000);
        QCOMPARE(rows.at(1).at(1).toLongLong(), 174 * MB);
    }

    void persistedHistoryIsPrunedToItsWindow()
    {
        Harness h;
        auto monitor = h.makeMonitor();
        for (int i = 0; i < 20; ++i)
            h.tick(*monitor);
        h.t.clock.advance(16 * 60'000); // past the 15-minute window of the seconds
        for (int i = 0; i < 10; ++i)
            h.tick(*monitor);
        QString error;
        auto rows = readRows(h.t.path(),
                             QStringLiteral("SELECT count(*), min(ts) FROM metric_samples "
                                            "WHERE resolution = 1"),
                             &error);
        QVERIFY2(error.isEmpty(), qPrintable(error));
        QCOMPARE(rows.at(0).at(0).toInt(), 10);
        QVERIFY(rows.at(0).at(1).toLongLong() > h.t.clock.nowMs() - 15 * 60'000);
    }
};

QTEST_GUILESS_MAIN(tst_ResourceMonitor)
#include "tst_resourcemonitor.moc"
