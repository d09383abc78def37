// The resource monitor's samples in the store, as a contract run on SQLite and on PostgreSQL:
// one row per resolution and second (a second save replaces it), pruning by resolution, reads in
// time order, every field kept (a queue depth past 32 bits included), one series per node, and
// the cluster's sums over every series (what a console observing a cluster charts).
#include "testsupport.h"

#include <QTest>

using namespace Ferry;
using namespace Ferry::Test;

namespace {

constexpr qint64 Now = 1'700'000'000'000;

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

class tst_StoreMetrics : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void metricSamplesReplacePruneAndReadInOrder()
    {
        TempStore t;
        const auto second = MetricResolution::Second;
        const QString node;
        auto saved = t.store->saveMetricSamples(
            second, node, {sampleAt(Now + 2000, 3), sampleAt(Now, 1), sampleAt(Now + 1000, 2)}, 0);
        QVERIFY2(saved.ok(), qPrintable(saved.error().message));
        // The same second again replaces its row (SQLite's INSERT OR REPLACE); older rows of
        // this resolution are pruned, the minute rows are not.
        QVERIFY(
            t.store->saveMetricSamples(MetricResolution::Minute, node, {sampleAt(Now, 9)}, 0).ok());
        QVERIFY(
            t.store->saveMetricSamples(second, node, {sampleAt(Now + 1000, 20)}, Now + 500).ok());
        auto samples = t.store->metricSamples(second, node, 0);
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
        QCOMPARE(t.store->metricSamples(second, node, Now + 1500)->size(), 1);
        QCOMPARE(t.store->metricSamples(MetricResolution::Minute, node, 0)->size(), 1);
    }

    // Two nodes writing the same second keep a row each (before migration 0019 the last write
    // won), each reads its own back, and pruning reaches every series.
    void everyNodeKeepsItsOwnSeries()
    {
        TempStore t;
        const auto second = MetricResolution::Second;
        const QString a = QStringLiteral("host-a:10:aa"), b = QStringLiteral("host-b:20:bb");
        QVERIFY(t.store->saveMetricSamples(second, a, {sampleAt(Now, 100)}, 0).ok());
        QVERIFY(t.store->saveMetricSamples(second, b, {sampleAt(Now, 200)}, 0).ok());
        auto ofA = t.store->metricSamples(second, a, 0);
        auto ofB = t.store->metricSamples(second, b, 0);
        QVERIFY(ofA.ok() && ofB.ok());
        QCOMPARE(ofA->size(), 1);
        QCOMPARE(ofA->at(0).rssBytes, 100);
        QCOMPARE(ofB->size(), 1);
        QCOMPARE(ofB->at(0).rssBytes, 200);
        QVERIFY(t.store->metricSamples(second, QStringLiteral("host-c:1:cc"), 0)->isEmpty());
        // Pruning while saving a's next second removes b's old row too.
        QVERIFY(t.store->saveMetricSamples(second, a, {sampleAt(Now + 5000, 1)}, Now + 1).ok());
        QVERIFY(t.store->metricSamples(second, b, 0)->isEmpty());
    }

    // The cluster's figures per second: sums, a mean CPU, the lowest free disk, the highest queue
    // depth; unknown values (-1) left out; two samples of one node in one second count once; a
    // second only one node wrote is that node's alone.
    void clusterSamplesSumEveryNodePerSecond()
    {
        TempStore t;
        const auto second = MetricResolution::Second;
        ResourceSample a = sampleAt(Now + 120, 100);
        a.cpuPercent = 10;
        a.freeDiskBytes = 50;
        a.queueDepth = 7;
        a.activeJobs = 2;
        a.concurrencyLimit = 4;
        a.configuredMax = 8;
        a.jobsCompletedPerMin = 30;
        a.httpRequestsPerSec = 1.5;
        a.http429PerSec = 0.25;
        ResourceSample aAgain = a; // a second sample of node a in the same second
        aAgain.timestampMs = Now + 870;
        aAgain.rssBytes = 110;
        ResourceSample b = sampleAt(Now + 640, 300);
        b.cpuPercent = 30;
        b.freeDiskBytes = 20;
        b.queueDepth = 9;
        b.activeJobs = 3;
        b.concurrencyLimit = 5;
        b.configuredMax = 8;
        b.jobsCompletedPerMin = 12;
        b.httpRequestsPerSec = 2.5;
        b.http429PerSec = 0.75;
        ResourceSample c = sampleAt(Now + 10, -1); // RSS and CPU unknown on node c
        c.cpuPercent = -1;
        c.activeJobs = 1;
        ResourceSample later = sampleAt(Now + 1000, 40);
        QVERIFY(t.store->saveMetricSamples(second, QStringLiteral("a"), {a, aAgain}, 0).ok());
        QVERIFY(t.store->saveMetricSamples(second, QStringLiteral("b"), {b, later}, 0).ok());
        QVERIFY(t.store->saveMetricSamples(second, QStringLiteral("c"), {c}, 0).ok());

        auto cluster = t.store->clusterMetricSamples(second, 0);
        QVERIFY2(cluster.ok(), qPrintable(cluster.error().message));
        QCOMPARE(cluster->size(), 2);
        const ResourceSample &s = cluster->at(0);
        QCOMPARE(s.timestampMs, Now);            // the second it falls in
        QCOMPARE(s.rssBytes, 110 + 300);         // a's highest of the second, b's; c unknown
        QCOMPARE(s.cpuPercent, 20.0);            // mean of a and b; c unknown
        QCOMPARE(s.freeDiskBytes, 20);           // the lowest
        QCOMPARE(s.queueDepth, 5'000'000'000LL); // c's (sampleAt's): the highest
        QCOMPARE(s.activeJobs, 2 + 3 + 1);
        QCOMPARE(s.concurrencyLimit, 4 + 5 + 3);
        QCOMPARE(s.configuredMax, 8 + 8 + 4);
        QCOMPARE(s.jobsCompletedPerMin, 30 + 12 + 60.5);
        QCOMPARE(s.httpRequestsPerSec, 1.5 + 2.5 + 1.25);
        QCOMPARE(s.http429PerSec, 0.25 + 0.75 + 0.5);
        QCOMPARE(s.systemMemTotalBytes, 3 * (8LL << 30));
        QCOMPARE(cluster->at(1).timestampMs, Now + 1000);
        QCOMPARE(cluster->at(1).rssBytes, 40); // only b wrote this second
        QCOMPARE(t.store->clusterMetricSamples(second, Now + 900)->size(), 1); // rows since then

        // Minutes: the same sums per minute row.
        QVERIFY(t.store
                    ->saveMetricSamples(MetricResolution::Minute, QStringLiteral("a"),
                                        {sampleAt(Now, 1)}, 0)
                    .ok());
        QVERIFY(t.store
                    ->saveMetricSamples(MetricResolution::Minute, QStringLiteral("b"),
                                        {sampleAt(Now, 2)}, 0)
                    .ok());
        auto minutes = t.store->clusterMetricSamples(MetricResolution::Minute, 0);
        QVERIFY2(minutes.ok(), qPrintable(minutes.error().message));
        QCOMPARE(minutes->size(), 1);
        QCOMPARE(minutes->at(0).rssBytes, 3);
        QCOMPARE(minutes->at(0).activeJobs, 4);
    }
};

QTEST_GUILESS_MAIN(tst_StoreMetrics)
#include "tst_storemetrics.moc"
