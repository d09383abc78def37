#include "monitor/metrichistory.h"

#include <QTest>

using namespace Ferry;

namespace {

constexpr qint64 Start = 1'700'000'040'000; // a minute boundary
constexpr qint64 Second = 1000;
constexpr qint64 Minute = 60'000;

ResourceSample at(qint64 ts, qint64 rss = 100)
{
    ResourceSample s;
    s.timestampMs = ts;
    s.rssBytes = rss;
    s.cpuPercent = 10;
    s.systemMemTotalBytes = 1000;
    s.systemMemAvailableBytes = 500;
    s.freeDiskBytes = 5000;
    s.activeJobs = 2;
    s.concurrencyLimit = 4;
    s.configuredMax = 4;
    s.queueDepth = 7;
    return s;
}

} // namespace

class tst_MetricHistory : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void ringWrapsOldestFirst()
    {
        SampleRing ring(3);
        for (int i = 1; i <= 5; ++i)
            ring.append(at(i));
        QCOMPARE(ring.size(), 3);
        QCOMPARE(ring.at(0).timestampMs, qint64(3));
        QCOMPARE(ring.at(1).timestampMs, qint64(4));
        QCOMPARE(ring.at(2).timestampMs, qint64(5));
        QCOMPARE(ring.since(4).size(), 2);
        ring.clear();
        QCOMPARE(ring.size(), 0);
    }

    void memoryIsBounded()
    {
        // 25 hours at one sample every 30 s: more minutes than the minute ring holds.
        MetricHistory history;
        for (qint64 t = 0; t < 25 * 60 * Minute; t += 30 * Second)
            (void)history.add(at(Start + t));
        QCOMPARE(history.seconds().size(), MetricHistory::SecondCapacity);
        QCOMPARE(history.minutes().size(), MetricHistory::MinuteCapacity);
        QCOMPARE(history.seconds().capacity(), 900);
        QCOMPARE(history.minutes().capacity(), 1440);
    }

    void foldsAMinuteWhenTheNextBegins()
    {
        MetricHistory history;
        const qint64 rss[] = {100, 300, 200};
        const double cpu[] = {10, 20, 30};
        const qint64 available[] = {50, 40, 60};
        const int limits[] = {3, 1, 2};
        const qint64 queue[] = {1, 2, 6};
        const double rates[] = {3, 6, 9};
        for (int i = 0; i < 3; ++i) {
            ResourceSample s = at(Start + 10 * Second * (i + 1), rss[i]);
            s.cpuPercent = cpu[i];
            s.systemMemAvailableBytes = available[i];
            s.concurrencyLimit = limits[i];
            s.configuredMax = 3 + i;
            s.queueDepth = queue[i];
            s.httpRequestsPerSec = rates[i];
            s.jobsCompletedPerMin = rates[i] * 10;
            QVERIFY(!history.add(s)); // the minute is not complete yet
        }
        QVERIFY(history.partialMinute());
        const auto minute = history.add(at(Start + Minute));
        QVERIFY(minute);
        QCOMPARE(minute->timestampMs, Start);                  // the start of the minute
        QCOMPARE(minute->rssBytes, qint64(300));               // peak
        QCOMPARE(minute->cpuPercent, 20.0);                    // average
        QCOMPARE(minute->systemMemAvailableBytes, qint64(40)); // lowest
        QCOMPARE(minute->concurrencyLimit, 1);                 // lowest
        QCOMPARE(minute->configuredMax, 5);                    // last
        QCOMPARE(minute->queueDepth, qint64(3));               // average
        QCOMPARE(minute->httpRequestsPerSec, 6.0);
        QCOMPARE(minute->jobsCompletedPerMin, 60.0);
        QCOMPARE(history.minutes().size(), 1);
    }

    void unknownCpuIsLeftOutOfTheAverage()
    {
        MetricHistory history;
        ResourceSample first = at(Start);
        first.cpuPercent = -1; // the first tick has no CPU delta
        (void)history.add(first);
        ResourceSample second = at(Start + Second);
        second.cpuPercent = 40;
        (void)history.add(second);
        const auto minute = history.add(at(Start + Minute));
        QVERIFY(minute);
        QCOMPARE(minute->cpuPercent, 40.0);
    }

    void rangesAnswerAtTheirResolution()
    {
        MetricHistory history;
        const qint64 end = Start + 20 * Minute;
        for (qint64 t = Start; t < end; t += Second)
            (void)history.add(at(t));
        const qint64 now = end - Second;
        const auto minute = history.query(MetricRange::LastMinute, now);
        QCOMPARE(minute.size(), 60);
        QCOMPARE(minute.first().timestampMs, now - 59 * Second);
        QCOMPARE(minute.last().timestampMs, now);
        const auto quarter = history.query(MetricRange::Last15Minutes, now);
        QCOMPARE(quarter.size(), 900);
        QCOMPARE(quarter.first().timestampMs, now - 899 * Second);
        const auto day = history.query(MetricRange::Last24Hours, now);
        QCOMPARE(day.size(), 20); // 19 whole minutes, and the 20th as far as it got
        QCOMPARE(day.first().timestampMs, Start);
        QCOMPARE(day.at(18).timestampMs, Start + 18 * Minute);
        QCOMPARE(day.last().timestampMs, Start + 19 * Minute);
        QCOMPARE(day.last().timestampMs, history.partialMinute()->timestampMs);
        // Minutes older than a day drop out of the range.
        QCOMPARE(history.query(MetricRange::Last24Hours, now + 24 * 60 * Minute).size(), 0);
    }

    void outOfOrderSamplesAreIgnored()
    {
        MetricHistory history;
        (void)history.add(at(Start + 5 * Second));
        (void)history.add(at(Start + 2 * Second));
        QCOMPARE(history.seconds().size(), 1);
    }

    void restoreFoldsTheMinuteInProgress()
    {
        // Stored: minute rows up to Start, seconds through Start + 1 min 30 s.
        QList<ResourceSample> minutes{at(Start - Minute, 900), at(Start, 800)};
        QList<ResourceSample> seconds;
        for (qint64 t = Start + 50 * Second; t <= Start + Minute + 30 * Second; t += Second)
            seconds.append(at(t, t == Start + Minute + 10 * Second ? 700 : 100));
        MetricHistory history;
        const auto completed = history.restore(seconds, minutes);
        QVERIFY(completed.isEmpty()); // the seconds after the last row are all of one minute
        QCOMPARE(history.minutes().size(), 2);
        QCOMPARE(history.seconds().size(), seconds.size());
        // The next minute's first sample completes the restored minute, with its peak.
        const auto minute = history.add(at(Start + 2 * Minute));
        QVERIFY(minute);
        QCOMPARE(minute->timestampMs, Start + Minute);
        QCOMPARE(minute->rssBytes, qint64(700));
    }

    void aRunShorterThanAMinuteShowsInTheDay()
    {
        MetricHistory history;
        for (qint64 t = Start; t < Start + 20 * Second; t += Second)
            (void)history.add(at(t, t == Start + 5 * Second ? 300 : 100));
        const auto day = history.query(MetricRange::Last24Hours, Start + 20 * Second);
        QCOMPARE(day.size(), 1);
        QCOMPARE(day.first().timestampMs, Start);
        QCOMPARE(day.first().rssBytes, qint64(300)); // the peak so far
    }

    void restoreFoldsAMinuteWrittenUnfinishedAgain()
    {
        // Stopped 20 s into a minute: its row holds those 20 s, and the store has their seconds.
        QList<ResourceSample> seconds;
        for (qint64 t = Start + Minute; t < Start + Minute + 20 * Second; t += Second)
            seconds.append(at(t, t == Start + Minute + 3 * Second ? 500 : 100));
        const QList<ResourceSample> minutes{at(Start, 900), at(Start + Minute, 500)};
        MetricHistory history;
        QVERIFY(history.restore(seconds, minutes).isEmpty());
        QCOMPARE(history.minutes().size(), 1); // the whole one; the other is in progress again
        QVERIFY(history.partialMinute());
        QCOMPARE(history.partialMinute()->timestampMs, Start + Minute);
        // Seconds after the restart join it; the next minute completes it with both halves.
        (void)history.add(at(Start + Minute + 40 * Second, 600));
        const auto completed = history.add(at(Start + 2 * Minute));
        QVERIFY(completed);
        QCOMPARE(completed->timestampMs, Start + Minute);
        QCOMPARE(completed->rssBytes, qint64(600));

        // When the store no longer has all of that minute's seconds, its row stands.
        MetricHistory later;
        QVERIFY(later.restore(seconds.mid(5), minutes).isEmpty());
        QCOMPARE(later.minutes().size(), 2);
        QCOMPARE(later.minutes().at(1).rssBytes, qint64(500));
    }

    void restoreCompletesWholeMinutesWithoutARow()
    {
        QList<ResourceSample> seconds;
        for (qint64 t = Start; t < Start + Minute + 5 * Second; t += Second)
            seconds.append(at(t));
        MetricHistory history;
        const auto completed = history.restore(seconds, {});
        QCOMPARE(completed.size(), 1);
        QCOMPARE(completed.first().timestampMs, Start);
        QCOMPARE(history.minutes().size(), 1);
        QVERIFY(history.partialMinute());
        QCOMPARE(history.partialMinute()->timestampMs, Start + Minute);
    }
};

QTEST_GUILESS_MAIN(tst_MetricHistory)
#include "tst_metrichistory.moc"
