// The Overview's charts break a line where the samples stop (the engine was not running) instead
// of drawing a straight line across the downtime, and join it again when the gap is gone.
#include "ui/overview/metricchart.h"

#include <QTest>

using namespace Ferry;

namespace {

// count one-second samples from startMs, value y.
QList<QPointF> seconds(qint64 startMs, int count, double y = 1)
{
    QList<QPointF> points;
    for (int i = 0; i < count; ++i)
        points.append({double(startMs + i * 1000), y});
    return points;
}

} // namespace

class tst_MetricChart : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void regularSamplesAreOneLine()
    {
        MetricChart chart(QStringLiteral("Memory"), QStringLiteral("MiB"));
        const int line = chart.addLine(QStringLiteral("RSS"), Qt::blue);
        chart.setPoints(line, seconds(1'000'000, 60));
        QCOMPARE(chart.pointCount(line), 60);
        QCOMPARE(chart.segmentCount(line), 1);
    }

    void lateSamplesStayJoined()
    {
        // A sample 2 s late (a busy machine) is not downtime.
        MetricChart chart(QStringLiteral("Memory"), QStringLiteral("MiB"));
        const int line = chart.addLine(QStringLiteral("RSS"), Qt::blue);
        QList<QPointF> points = seconds(1'000'000, 30);
        points += seconds(1'000'000 + 31'000, 30);
        chart.setPoints(line, points);
        QCOMPARE(chart.segmentCount(line), 1);
    }

    void downtimeBreaksTheLine()
    {
        MetricChart chart(QStringLiteral("Jobs"), QStringLiteral("jobs"));
        const int running = chart.addLine(QStringLiteral("running"), Qt::blue);
        const int limit = chart.addLine(QStringLiteral("limit"), Qt::gray, true);
        // 20 s of samples, the engine stopped for 5 minutes, 20 s, stopped again, 10 s.
        QList<QPointF> points = seconds(1'000'000, 20);
        points += seconds(1'000'000 + 320'000, 20);
        points += seconds(1'000'000 + 700'000, 10);
        chart.setPoints(running, points);
        chart.setPoints(limit, seconds(1'000'000, 50));
        QCOMPARE(chart.segmentCount(running), 3);
        QCOMPARE(chart.pointCount(running), 50);
        QCOMPARE(chart.segmentCount(limit), 1); // lines break independently

        // The next refresh has no gap left in its window: one line again, nothing left over.
        chart.setPoints(running, seconds(1'000'000 + 700'000, 40));
        QCOMPARE(chart.segmentCount(running), 1);
        QCOMPARE(chart.pointCount(running), 40);
        // And a gap again reuses the pieces.
        chart.setPoints(running, points);
        QCOMPARE(chart.segmentCount(running), 3);
        QCOMPARE(chart.pointCount(running), 50);
    }

    void minuteSamplesBreakOnlyAtLongerGaps()
    {
        // The 24-hour range has one sample a minute: a 2-minute step is not a gap, an hour is.
        MetricChart chart(QStringLiteral("CPU"), QStringLiteral("%"));
        const int line = chart.addLine(QStringLiteral("CPU"), Qt::red);
        QList<QPointF> points;
        for (int i = 0; i < 30; ++i)
            points.append({double(i * 60'000), 5});
        points.append({double(31 * 60'000), 5});
        chart.setPoints(line, points);
        QCOMPARE(chart.segmentCount(line), 1);
        points.append({double(95 * 60'000), 5});
        points.append({double(96 * 60'000), 5});
        chart.setPoints(line, points);
        QCOMPARE(chart.segmentCount(line), 2);
    }

    void fewPointsAreNeverSplit()
    {
        MetricChart chart(QStringLiteral("CPU"), QStringLiteral("%"));
        const int line = chart.addLine(QStringLiteral("CPU"), Qt::red);
        chart.setPoints(line, {{0, 1}, {600'000, 2}});
        QCOMPARE(chart.segmentCount(line), 1);
        chart.setPoints(line, {});
        QCOMPARE(chart.segmentCount(line), 0);
        QCOMPARE(chart.pointCount(line), 0);
    }
};

QTEST_MAIN(tst_MetricChart)
#include "tst_metricchart.moc"
