#include "core/logbuffer.h"
#include "monitor/resourcemonitor.h"
#include "queue/builtinhandlers.h"
#include "queue/dispatchercontrol.h"
#include "quota/quotaledger.h"
#include "testsupport.h"
#include "ui/logpane.h"
#include "ui/mainwindow.h"
#include "ui/overview/metricchart.h"
#include "ui/overview/overviewpage.h"

#include <QComboBox>
#include <QDir>
#include <QLabel>
#include <QTableWidget>
#include <QTest>

#include <cmath>

using namespace Ferry;
using namespace Ferry::Test;

namespace {

constexpr qint64 MiB = 1024 * 1024;

class FakeProbe final : public SystemProbe
{
public:
    Result<qint64> processRssBytes() override { return rss; }
    Result<qint64> processCpuTimeMs() override { return cpuMs; }
    Result<SystemMemory> systemMemory() override { return SystemMemory{8192 * MiB, 6000 * MiB}; }
    Result<qint64> freeDiskBytes() override { return 100'000 * MiB; }
    qint64 rss = 150 * MiB;
    qint64 cpuMs = 0;
};

// A console over a real store, queue and dispatcher, with a resource monitor fed by a fake
// probe and counters the test sets, ticked by hand on a manual clock.
struct Console
{
    Console()
    {
        registerBuiltinHandlers(handlers);
        t.clock.set(QDateTime::currentMSecsSinceEpoch() - 15 * 60'000);
        QueueConfig config;
        config.maxConcurrency = 8;
        config.shutdownGraceMs = 2000;
        config.pollIntervalMs = 20;
        queue = std::make_unique<JobQueue>(*t.store, handlers, t.clock, config);
        dispatcher = std::make_unique<Dispatcher>(*queue, handlers, t.clock, QStringLiteral("ui"));
        users = std::make_unique<UserDirectory>(*t.store, t.clock);
        quotas = std::make_unique<QuotaLedger>(*t.store, t.clock);
        MonitorSources sources;
        sources.activeJobs = [this] { return active; };
        sources.queueDepth = [this] { return depth; };
        sources.completedTotal = [this] { return completed; };
        sources.httpRequestsTotal = [this] { return requests; };
        sources.http429Total = [this] { return limited; };
        ResourceMonitor::Options options;
        options.governorEnabled = false; // the test sets the limit itself
        monitor = std::make_unique<ResourceMonitor>(probe, t.clock, sources, options, nullptr,
                                                    concurrencyControlOf(*dispatcher));
        ConsoleContext context{*t.store,         *queue,
                               dispatcher.get(), *users,
                               *quotas,          monitor.get(),
                               nullptr,          QStringLiteral("http://127.0.0.1:8080/api/v1/")};
        context.log = &log;
        window = std::make_unique<MainWindow>(context);
        window->resize(1280, 800);
        window->show();
    }
    ~Console()
    {
        window.reset();
        dispatcher.reset();
    }
    // One second of a plausible afternoon: a wave of uploads, a throttled stretch, some 429s.
    void tick(int i)
    {
        const double wave = std::sin(i / 70.0);
        probe.rss = qint64((170 + 25 * wave + 15 * std::sin(i / 9.0) + i / 20.0) * MiB);
        probe.cpuMs += qint64(10 * (45 + 30 * wave + 8 * std::sin(i / 5.0)));
        const qint64 now = t.clock.nowMs();
        if (i == 0) {
            log.append(QtInfoMsg, QStringLiteral("ferry.host"),
                       QStringLiteral("HTTP endpoint on http://127.0.0.1:8080/api/v1/"), now);
        }
        if (i == 300) {
            log.append(QtWarningMsg, QStringLiteral("ferry.ratelimit"),
                       QStringLiteral("client 10.0.0.7 rate-limited (429) for 80 s"), now);
        }
        if (i == 520) {
            dispatcher->setResourceLimit(5);
            log.append(QtInfoMsg, QStringLiteral("ferry.monitor"),
                       QStringLiteral("concurrency 5 of 8 - memory above the high mark"), now);
        }
        if (i == 640) {
            dispatcher->setResourceLimit(0);
            log.append(QtInfoMsg, QStringLiteral("ferry.monitor"),
                       QStringLiteral("concurrency 8 of 8 - memory back below the low mark"), now);
        }
        active = qMin(dispatcher->effectiveConcurrency(), int(5 + 4 * wave + (i % 7 < 3 ? 1 : 0)));
        depth = qMax<qint64>(0, qint64(120 + 110 * std::sin(i / 110.0) + (i % 13)));
        if (real) { // the last seconds: what the engine really runs and holds
            active = dispatcher->runningCount();
            depth = *t.store->pendingJobCount();
        }
        completed += active * (i % 4 == 0 ? 2 : 1) / 3;
        requests += 12 + qint64(8 * (1 + wave)) + i % 5;
        limited += (i > 300 && i < 380 && i % 2 == 0) ? 3 : 0;
        t.clock.advance(1000);
        monitor->tick();
    }
    template<typename T>
    T *find(const char *name)
    {
        return window->findChild<T *>(QLatin1String(name));
    }
    TempStore t;
    HandlerRegistry handlers;
    FakeProbe probe;
    LogBuffer log{100};
    int active = 0;
    bool real = false;
    qint64 depth = 0, completed = 0, requests = 0, limited = 0;
    std::unique_ptr<JobQueue> queue;
    std::unique_ptr<Dispatcher> dispatcher;
    std::unique_ptr<UserDirectory> users;
    std::unique_ptr<QuotaLedger> quotas;
    std::unique_ptr<ResourceMonitor> monitor;
    std::unique_ptr<MainWindow> window;
};

} // namespace

// The overview's charts over the resource monitor's history: each range shows a bounded
// window, current values carry units, the adaptive limit shows with its reason.
class tst_Overview : public QObject
{
    Q_OBJECT

    // build/screenshots by default (FERRY_SCREENSHOT_DIR, set by CMake); else beside the test.
    static QString screenshotDir()
    {
        QString dir = qEnvironmentVariable("FERRY_SCREENSHOT_DIR");
        if (dir.isEmpty())
            dir = QCoreApplication::applicationDirPath() + QStringLiteral("/screenshots");
        QDir().mkpath(dir);
        return dir;
    }

private Q_SLOTS:
    void chartsFollowTheMonitor()
    {
        Console c;
        auto *memory = c.find<MetricChart>("memoryChart");
        auto *jobs = c.find<MetricChart>("jobsChart");
        QVERIFY(memory && jobs);
        for (const char *name : {"cpuChart", "queueChart", "throughputChart", "httpChart"})
            QVERIFY2(c.find<MetricChart>(name), name);
        for (int i = 0; i < 5; ++i)
            c.tick(i);
        QTRY_COMPARE(memory->pointCount(0), 5);
        QVERIFY(memory->current().endsWith(u" MiB"));
        QCOMPARE(jobs->pointCount(1), 5); // the limit line beside the running one
        QVERIFY(jobs->current().endsWith(u" of 8"));
        QVERIFY(c.find<MetricChart>("httpChart")->current().contains(u"429"));
    }

    void rangesAreBounded()
    {
        Console c;
        for (int i = 0; i < 200; ++i)
            c.tick(i);
        auto *cpu = c.find<MetricChart>("cpuChart");
        auto *range = c.find<QComboBox>("range");
        QTRY_VERIFY(cpu->pointCount(0) > 0);
        QVERIFY(cpu->pointCount(0) <= 60); // last minute: at most 60 one-second samples
        QTest::qWait(50);
        QVERIFY(
            c.window->grab().save(screenshotDir() + QStringLiteral("/overview-last-minute.png")));
        range->setCurrentIndex(1); // 15 minutes
        QTRY_COMPARE(c.find<MetricChart>("queueChart")->pointCount(0), 200);
        // 24 hours: one point a minute; 200 s touch at most 5 minutes, the last in progress.
        range->setCurrentIndex(2);
        QTRY_VERIFY(c.find<MetricChart>("queueChart")->pointCount(0) >= 4);
        QVERIFY(c.find<MetricChart>("queueChart")->pointCount(0) <= 5);
        for (int i = 200; i < 1200; ++i)
            c.tick(i);
        range->setCurrentIndex(1);
        QTRY_COMPARE(c.find<MetricChart>("queueChart")->pointCount(0), 900);
    }

    void adaptiveLimitShowsItsReason()
    {
        Console c;
        c.dispatcher->setResourceLimit(3);
        Q_EMIT c.monitor->limitChanged(3, 8, QStringLiteral("memory above the high mark"));
        QTRY_VERIFY(c.find<QLabel>("limit")->text().contains(u"<b>3</b> (adaptive) of 8"));
        QVERIFY(c.find<QLabel>("limit")->text().contains(u"memory above the high mark"));
        c.dispatcher->setClaimingPaused(true);
        Q_EMIT c.monitor->claimingPausedChanged(true, QStringLiteral("free disk below 256 MB"));
        QTRY_VERIFY(c.find<QLabel>("limit")->text().contains(u"not starting jobs"));
        QVERIFY(c.find<QLabel>("limit")->text().contains(u"free disk below 256 MB"));
    }

    // The README's screenshot: FERRY_DOCS_SCREENSHOT=<path> writes the console with 15 minutes
    // of data (e.g. docs/screenshot.png); without it the test renders to build/screenshots.
    void rendersTheOverviewWithData()
    {
        Console c;
        const qint64 alice = c.t.addUser(QStringLiteral("alice"));
        const qint64 bob = c.t.addUser(QStringLiteral("bob"));
        QVERIFY(c.dispatcher->start().ok());
        NewJob job;
        job.type = QStringLiteral("noop");
        for (int i = 0; i < 24; ++i) {
            job.userId = i % 3 == 0 ? bob : alice;
            QVERIFY(c.queue->enqueue(job).ok());
        }
        QTRY_VERIFY_WITH_TIMEOUT(c.find<QLabel>("summary")->text().contains(u"completed <b>24</b>"),
                                 10'000);
        for (int i = 0; i < 895; ++i)
            c.tick(i);
        // Now: two users' long jobs, three of each running under a per-user cap, the rest queued.
        QVERIFY(c.queue->setMaxPerUser(3).ok());
        job.type = QStringLiteral("sleep");
        job.payload = {{QStringLiteral("ms"), 600'000}};
        for (int i = 0; i < 226; ++i) {
            job.userId = i % 2 == 0 ? alice : bob;
            QVERIFY(c.queue->enqueue(job).ok());
        }
        QTRY_COMPARE_WITH_TIMEOUT(c.dispatcher->runningCount(), 6, 10'000);
        QTRY_VERIFY(c.find<QLabel>("summary")->text().contains(u"running <b>6</b>"));
        c.real = true;
        for (int i = 895; i < 900; ++i)
            c.tick(i);
        c.find<QComboBox>("range")->setCurrentIndex(1);
        QTRY_COMPARE(c.find<MetricChart>("cpuChart")->pointCount(0), 899);
        QTRY_COMPARE(c.find<MetricChart>("jobsChart")->current(), QStringLiteral("6 of 8"));
        QTRY_COMPARE(c.find<LogPane>("logPane")->visibleRows(), 4);
        QTest::qWait(100);
        QString file = qEnvironmentVariable("FERRY_DOCS_SCREENSHOT");
        if (file.isEmpty())
            file = screenshotDir() + QStringLiteral("/overview-with-data.png");
        QVERIFY2(c.window->grab().save(file), qPrintable(file));
    }
};

QTEST_MAIN(tst_Overview)
#include "tst_overview.moc"
