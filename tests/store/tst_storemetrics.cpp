// The resource monitor's samples in the store, as a contract run on SQLite and on PostgreSQL:
// one row per resolution and second (a second save replaces it), pruning by resolution, reads in
// time order, every field kept (a queue depth past 32 bits included).
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
        auto saved = t.store->saveMetricSamples(
            second, {sampleAt(Now + 2000, 3), sampleAt(Now, 1), sampleAt(Now + 1000, 2)}, 0);
        QVERIFY2(saved.ok(), qPrintable(saved.error().message));
        // The same second again replaces its row (SQLite's INSERT OR REPLACE); older rows of
        // this resolution are pruned, the minute rows are not.
        QVERIFY(t.store->saveMetricSamples(MetricResolution::Minute, {sampleAt(Now, 9)}, 0).ok());
        QVERIFY(t.store->saveMetricSamples(second, {sampleAt(Now + 1000, 20)}, Now + 500).ok());
        auto samples = t.store->metricSamples(second, 0);
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
        QCOMPARE(t.store->metricSamples(second, Now + 1500)->size(), 1);
        QCOMPARE(t.store->metricSamples(MetricResolution::Minute, 0)->size(), 1);
    }
};

QTEST_GUILESS_MAIN(tst_StoreMetrics)
#include "tst_storemetrics.moc"
