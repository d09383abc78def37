// /metrics' newer series: open connections, job run durations, process CPU time; and the
// per-route request counters.
#include "api/processstats.h"
#include "apitestsupport.h"

using namespace Ferry;
using namespace Ferry::Test;

class tst_ApiMetrics : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void cpuSecondsFromStat_data()
    {
        QTest::addColumn<QByteArray>("stat");
        QTest::addColumn<long>("ticks");
        QTest::addColumn<double>("seconds");
        // utime 250, stime 50 (fields 14, 15); the command name holds spaces and a ')'.
        const QByteArray tail = " S 1 2 3 0 -1 4194304 100 0 0 0 250 50 0 0 20 0 5 0 99 1000 200";
        QTest::newRow("plain") << QByteArray("1234 (ferry)" + tail) << 100L << 3.0;
        QTest::newRow("odd name") << QByteArray("1234 (fer ry) (x)" + tail) << 100L << 3.0;
        QTest::newRow("other tick rate") << QByteArray("1 (a)" + tail) << 1000L << 0.3;
    }
    void cpuSecondsFromStat()
    {
        QFETCH(QByteArray, stat);
        QFETCH(long, ticks);
        QFETCH(double, seconds);
        const auto parsed = Ferry::cpuSecondsFromStat(stat, ticks);
        QVERIFY(parsed.has_value());
        QCOMPARE(*parsed, seconds);
    }

    void cpuSecondsRefusesGarbage()
    {
        QVERIFY(!Ferry::cpuSecondsFromStat("no parenthesis here", 100).has_value());
        QVERIFY(!Ferry::cpuSecondsFromStat("1 (a) S 1 2", 100).has_value());
        QVERIFY(Ferry::processCpuSeconds().has_value()); // this process, from /proc
    }

    void jobDurationsHistogram()
    {
        JobDurations durations;
        durations.observe(0.005); // a run of 5 ms
        durations.observe(2.0);   // a run of 2 s
        const QByteArray text = durations.text();
        QVERIFY(text.contains("# TYPE ferry_job_duration_seconds histogram"));
        QVERIFY2(text.contains("ferry_job_duration_seconds_bucket{le=\"0.01\"} 1\n"), text);
        QVERIFY2(text.contains("ferry_job_duration_seconds_bucket{le=\"1\"} 1\n"), text);
        QVERIFY2(text.contains("ferry_job_duration_seconds_bucket{le=\"5\"} 2\n"), text);
        QVERIFY2(text.contains("ferry_job_duration_seconds_bucket{le=\"+Inf\"} 2\n"), text);
        QVERIFY2(text.contains("ferry_job_duration_seconds_count 2\n"), text);
    }

    void jobDurationsCountStartedRuns()
    {
        // Whatever the run took (CI under ASan once took over 10 ms between two calls), it is
        // counted once; a finish without a start is not.
        JobDurations durations;
        durations.started(7);
        durations.finished(7);
        durations.finished(8);
        const QByteArray text = durations.text();
        QVERIFY2(text.contains("ferry_job_duration_seconds_bucket{le=\"+Inf\"} 1\n"), text);
        QVERIFY2(text.contains("ferry_job_duration_seconds_count 1\n"), text);
    }

    void metricsServeTheNewSeries()
    {
        ApiFixture api;
        JobDurations durations;
        durations.observe(0.2);
        api.system->setOpenConnections([&] { return api.server->openConnections(); });
        api.system->setJobDurations(&durations);
        QCOMPARE(api.call("GET", QStringLiteral("/api/v1/jobs/5"), api.aliceToken).status, 404);
        const Reply metrics = api.call("GET", QStringLiteral("/metrics"));
        QCOMPARE(metrics.status, 200);
        // QNetworkAccessManager keeps its connection open: at least this one is counted.
        QVERIFY2(metrics.body.contains("# TYPE ferry_http_open_connections gauge\n"), metrics.body);
        int open = -1;
        for (const QByteArray &line : metrics.body.split('\n')) {
            if (line.startsWith("ferry_http_open_connections "))
                open = line.mid(28).toInt();
        }
        QVERIFY(open >= 1);
        QVERIFY(metrics.body.contains("ferry_job_duration_seconds_bucket{le=\"0.5\"} 1\n"));
        QVERIFY(metrics.body.contains("# TYPE process_cpu_seconds_total counter\n"));
        QVERIFY(metrics.body.contains("\nprocess_cpu_seconds_total "));
        QVERIFY(metrics.body.contains(
            "ferry_http_requests_total{route=\"/api/v1/jobs/{id}\",status=\"404\"} 1\n"));
    }

    // The governor's throttling is visible from outside (issue 18): the effective limit beside
    // the operator's, and why. Before: ferry_max_concurrency alone, unchanged while throttled.
    void metricsShowTheGovernorsThrottling()
    {
        ApiFixture api;
        QVERIFY(api.dispatcher->setMaxConcurrency(6).ok());
        auto scrape = [&] { return api.call("GET", QStringLiteral("/metrics")).body; };

        QByteArray text = scrape();
        QVERIFY2(text.contains("\nferry_max_concurrency 6\n"), text);
        QVERIFY2(text.contains("\nferry_effective_concurrency 6\n"), text);
        QVERIFY(text.contains("ferry_concurrency_governor{reason=\"none\"} 1\n"));
        QVERIFY(text.contains("ferry_concurrency_governor{reason=\"memory\"} 0\n"));

        api.dispatcher->setResourceLimit(2); // what the memory watermarks do
        text = scrape();
        QVERIFY2(text.contains("\nferry_max_concurrency 6\n"), text);
        QVERIFY2(text.contains("\nferry_effective_concurrency 2\n"), text);
        QVERIFY(text.contains("ferry_concurrency_governor{reason=\"none\"} 0\n"));
        QVERIFY(text.contains("ferry_concurrency_governor{reason=\"memory\"} 1\n"));
        QVERIFY(text.contains("ferry_concurrency_governor{reason=\"disk_floor\"} 0\n"));

        api.dispatcher->setClaimingPaused(true); // the free-disk floor
        text = scrape();
        QVERIFY2(text.contains("\nferry_effective_concurrency 0\n"), text);
        QVERIFY(text.contains("ferry_concurrency_governor{reason=\"memory\"} 0\n"));
        QVERIFY(text.contains("ferry_concurrency_governor{reason=\"disk_floor\"} 1\n"));

        api.dispatcher->setClaimingPaused(false);
        api.dispatcher->setResourceLimit(0);
        text = scrape();
        QVERIFY2(text.contains("\nferry_effective_concurrency 6\n"), text);
        QVERIFY(text.contains("ferry_concurrency_governor{reason=\"none\"} 1\n"));
    }
};

QTEST_GUILESS_MAIN(tst_ApiMetrics)
#include "tst_apimetrics.moc"
