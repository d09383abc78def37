// ClusterMetrics, the charts of a console observing a cluster, over a real store (SQLite and
// PostgreSQL): it sums what two nodes persisted, leaves out the seconds a node may not have
// written yet, keeps the 24-hour rows, signals each refresh, and its thread refreshes on its own.
#include "monitor/clustermetrics.h"
#include "testsupport.h"

#include <QSignalSpy>
#include <QTest>

using namespace Ferry;
using namespace Ferry::Test;

namespace {

ResourceSample sample(qint64 ts, qint64 rss, int active)
{
    ResourceSample s;
    s.timestampMs = ts;
    s.rssBytes = rss;
    s.cpuPercent = 10;
    s.activeJobs = active;
    s.concurrencyLimit = 4;
    s.configuredMax = 4;
    s.queueDepth = 3;
    return s;
}

} // namespace

class tst_ClusterMetrics : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void sumsTheNodesAndLeavesOutUnwrittenSeconds()
    {
        TempStore t;
        const qint64 now = t.clock.nowMs() - t.clock.nowMs() % 60'000 + 50'000;
        t.clock.set(now);
        const QString a = QStringLiteral("node-a"), b = QStringLiteral("node-b");
        // 20 seconds from a; b wrote only up to 15 s ago (its batch is still to come).
        QList<ResourceSample> ofA, ofB;
        for (int i = 20; i >= 1; --i) {
            ofA.append(sample(now - i * 1000, 100, 1));
            if (i >= 15)
                ofB.append(sample(now - i * 1000, 200, 2));
        }
        QVERIFY(t.store->saveMetricSamples(MetricResolution::Second, a, ofA, 0).ok());
        QVERIFY(t.store->saveMetricSamples(MetricResolution::Second, b, ofB, 0).ok());
        // A completed minute of each.
        const qint64 minute = now - now % 60'000 - 60'000;
        QVERIFY(t.store->saveMetricSamples(MetricResolution::Minute, a, {sample(minute, 90, 1)}, 0)
                    .ok());
        QVERIFY(t.store->saveMetricSamples(MetricResolution::Minute, b, {sample(minute, 80, 1)}, 0)
                    .ok());

        ClusterMetrics::Options options;
        options.lagMs = 12'000;
        ClusterMetrics metrics(*t.store, t.clock, options);
        QVERIFY(!metrics.latest());
        QSignalSpy sampled(&metrics, &MetricFeed::sampled);
        auto refreshed = metrics.refresh();
        QVERIFY2(refreshed.ok(), qPrintable(refreshed.error().toString()));
        QCOMPARE(sampled.size(), 1);

        // Seconds up to 12 s ago: 20..12 s ago, 9 of them; both nodes in 20..15, only a after.
        const QList<ResourceSample> lastMinute = metrics.history(MetricRange::LastMinute);
        QCOMPARE(lastMinute.size(), 9);
        QCOMPARE(lastMinute.first().timestampMs, now - 20'000);
        QCOMPARE(lastMinute.first().rssBytes, 300);
        QCOMPARE(lastMinute.first().activeJobs, 3);
        QCOMPARE(lastMinute.first().concurrencyLimit, 8);
        QCOMPARE(lastMinute.first().queueDepth, 3); // one queue, not one per node
        QCOMPARE(lastMinute.last().timestampMs, now - 12'000);
        QCOMPARE(lastMinute.last().rssBytes, 100);
        QCOMPARE(metrics.latest()->timestampMs, now - 12'000);

        // The 24-hour chart: the completed minute summed, then the minute in progress.
        const QList<ResourceSample> day = metrics.history(MetricRange::Last24Hours);
        QVERIFY(day.size() >= 1);
        QCOMPARE(day.first().timestampMs, minute);
        QCOMPARE(day.first().rssBytes, 170);

        // b's batch lands: the next refresh shows it.
        QList<ResourceSample> rest;
        for (int i = 14; i >= 1; --i)
            rest.append(sample(now - i * 1000, 200, 2));
        QVERIFY(t.store->saveMetricSamples(MetricResolution::Second, b, rest, 0).ok());
        t.clock.advance(5'000);
        QVERIFY(metrics.refresh().ok());
        const QList<ResourceSample> after = metrics.history(MetricRange::LastMinute);
        QCOMPARE(after.last().timestampMs, now - 7'000);
        QCOMPARE(after.last().rssBytes, 300);
        QCOMPARE(sampled.size(), 2);
    }

    void refreshesOnItsOwnThread()
    {
        TempStore t;
        ClusterMetrics::Options options;
        options.intervalMs = 50;
        options.lagMs = 0;
        ClusterMetrics metrics(*t.store, t.clock, options);
        metrics.start();
        QVERIFY(!metrics.latest()); // nothing written yet
        QVERIFY(t.store
                    ->saveMetricSamples(MetricResolution::Second, QStringLiteral("n"),
                                        {sample(t.clock.nowMs() - 1000, 64, 1)}, 0)
                    .ok());
        QTRY_VERIFY(metrics.latest().has_value());
        QCOMPARE(metrics.latest()->rssBytes, 64);
        metrics.stop();
        metrics.stop(); // idempotent
    }
};

QTEST_GUILESS_MAIN(tst_ClusterMetrics)
#include "tst_clustermetrics.moc"
