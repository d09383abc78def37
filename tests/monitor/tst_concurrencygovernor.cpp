#include "monitor/concurrencygovernor.h"

#include <QTest>

using namespace Ferry;

namespace {

constexpr qint64 MB = qint64(1) << 20;
constexpr qint64 Plenty = qint64(100'000) * MB; // free disk far above the floor

// Feeds the governor one reading per second, as the monitor does, on a clock of its own.
struct Feed
{
    explicit Feed(int max = 4) : configuredMax(max) {}
    ConcurrencyGovernor::Decision tick(qint64 rssMb, qint64 diskMb = -1)
    {
        now += 1000;
        return governor.update({now, rssMb * MB, diskMb < 0 ? Plenty : diskMb * MB, configuredMax});
    }
    // Defaults: high 500 MB, low 400 MB, hold 30 s, disk floor 256 MB.
    ConcurrencyGovernor governor{ConcurrencyGovernor::Config{}};
    qint64 now = 1'700'000'000'000;
    int configuredMax;
};

} // namespace

class tst_ConcurrencyGovernor : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void startsAtTheConfiguredMaximum()
    {
        Feed feed(4);
        const auto d = feed.tick(100);
        QCOMPARE(d.effectiveLimit, 4);
        QVERIFY(!d.throttled);
        QVERIFY(!d.limitChanged);
        QVERIFY(!d.claimingPaused);
    }

    void firstReadingAboveHighWaterIsAChange()
    {
        Feed feed(4);
        const auto d = feed.tick(600);
        QCOMPARE(d.effectiveLimit, 3);
        QVERIFY(d.limitChanged);
        QVERIFY(!d.reason.isEmpty());
    }

    void highWaterStepsDownEachTickToOne()
    {
        Feed feed(4);
        (void)feed.tick(100);
        for (int expected : {3, 2, 1}) {
            const auto d = feed.tick(600);
            QCOMPARE(d.effectiveLimit, expected);
            QVERIFY(d.throttled);
            QVERIFY(d.limitChanged);
            QVERIFY2(d.reason.contains(QStringLiteral("high-water")), qPrintable(d.reason));
        }
        for (int i = 0; i < 5; ++i) {
            const auto d = feed.tick(900);
            QCOMPARE(d.effectiveLimit, 1); // never below 1
            QVERIFY(!d.limitChanged);
            QVERIFY(d.reason.isEmpty());
        }
    }

    void hoveringAroundHighWaterOnlyGoesDown()
    {
        Feed feed(8);
        int previous = 8;
        for (int i = 0; i < 120; ++i) {
            const auto d = feed.tick(i % 2 == 0 ? 510 : 490);
            QVERIFY(d.effectiveLimit <= previous); // no step back up between the marks
            previous = d.effectiveLimit;
        }
        QCOMPARE(previous, 1);
    }

    void hoveringAroundLowWaterDoesNotRecover()
    {
        Feed feed(4);
        for (int i = 0; i < 3; ++i)
            (void)feed.tick(600);
        // Five minutes alternating just below and just above the low mark: the hold clock
        // restarts every time RSS is not below it, so the limit stays.
        for (int i = 0; i < 300; ++i) {
            const auto d = feed.tick(i % 2 == 0 ? 390 : 410);
            QCOMPARE(d.effectiveLimit, 1);
            QVERIFY(!d.limitChanged);
        }
    }

    void recoversOneStepPerHoldUpToTheMaximum()
    {
        Feed feed(3);
        (void)feed.tick(600);
        (void)feed.tick(600);
        QCOMPARE(feed.tick(600).effectiveLimit, 1);
        QList<int> limits;
        QList<qint64> changedAt;
        const qint64 start = feed.now;
        for (int i = 0; i < 120; ++i) {
            const auto d = feed.tick(300);
            limits.append(d.effectiveLimit);
            if (d.limitChanged) {
                changedAt.append(feed.now - start);
                QVERIFY2(d.reason.contains(QStringLiteral("low-water")), qPrintable(d.reason));
            }
        }
        // Below low water from the first tick at +1 s: one step 30 s later, another 30 s after.
        QCOMPARE(changedAt, (QList<qint64>{31'000, 61'000}));
        QCOMPARE(limits.at(29), 1);
        QCOMPARE(limits.at(30), 2);
        QCOMPARE(limits.at(59), 2);
        QCOMPARE(limits.at(60), 3);
        QCOMPARE(limits.last(), 3); // and no further than the configured maximum
        QVERIFY(!feed.tick(300).throttled);
    }

    void betweenTheMarksRestartsTheHold()
    {
        Feed feed(2);
        QCOMPARE(feed.tick(600).effectiveLimit, 1);
        for (int i = 0; i < 29; ++i)
            (void)feed.tick(300);
        (void)feed.tick(450);        // between the marks, one tick short of the hold
        for (int i = 0; i < 30; ++i) // below again from the first of these: 29 s of hold
            QCOMPARE(feed.tick(300).effectiveLimit, 1);
        QCOMPARE(feed.tick(300).effectiveLimit, 2); // a full hold after the interruption
    }

    void diskFloorPausesAndResumesClaiming()
    {
        Feed feed(4);
        QVERIFY(!feed.tick(100, 300).claimingPaused);
        auto d = feed.tick(100, 200);
        QVERIFY(d.claimingPaused);
        QVERIFY(d.claimingChanged);
        QVERIFY2(d.reason.contains(QStringLiteral("free disk")), qPrintable(d.reason));
        QCOMPARE(d.effectiveLimit, 4); // disk does not touch the limit
        d = feed.tick(100, 270);       // above the floor, below floor + 10%: still paused
        QVERIFY(d.claimingPaused);
        QVERIFY(!d.claimingChanged);
        d = feed.tick(100, 300);
        QVERIFY(!d.claimingPaused);
        QVERIFY(d.claimingChanged);
        QVERIFY2(d.reason.contains(QStringLiteral("resumed")), qPrintable(d.reason));
    }

    void unknownReadingsChangeNothing()
    {
        Feed feed(4);
        (void)feed.tick(600);
        QCOMPARE(feed.tick(600).effectiveLimit, 2);
        feed.now += 1000;
        const auto d = feed.governor.update({feed.now, -1, -1, 4});
        QCOMPARE(d.effectiveLimit, 2);
        QVERIFY(!d.limitChanged);
        QVERIFY(!d.claimingChanged);
    }

    void operatorLowersTheMaximumWhileThrottled()
    {
        Feed feed(8);
        for (int i = 0; i < 3; ++i)
            (void)feed.tick(600);
        feed.configuredMax = 3; // below the throttled limit 5: applies at once
        const auto d = feed.tick(450);
        QCOMPARE(d.effectiveLimit, 3);
        QVERIFY(d.limitChanged);
        QVERIFY(!d.throttled);
        QVERIFY2(d.reason.contains(QStringLiteral("configured maximum")), qPrintable(d.reason));
        QCOMPARE(feed.tick(600).effectiveLimit, 2); // and the governor steps down from there
    }

    void operatorRaisesTheMaximumWhileThrottled()
    {
        Feed feed(4);
        (void)feed.tick(600);
        QCOMPARE(feed.tick(600).effectiveLimit, 2);
        feed.configuredMax = 6; // the throttle holds; recovery climbs to the new maximum
        auto d = feed.tick(450);
        QCOMPARE(d.effectiveLimit, 2);
        QVERIFY(!d.limitChanged);
        int limit = 2;
        for (int i = 0; i < 4 * 30 + 10; ++i)
            limit = feed.tick(300).effectiveLimit;
        QCOMPARE(limit, 6);
        QVERIFY(!feed.tick(300).throttled);
    }

    void unthrottledFollowsTheMaximum()
    {
        Feed feed(3);
        (void)feed.tick(100);
        feed.configuredMax = 5;
        const auto d = feed.tick(100);
        QCOMPARE(d.effectiveLimit, 5);
        QVERIFY(d.limitChanged);
        QVERIFY(!d.throttled);
    }
};

QTEST_GUILESS_MAIN(tst_ConcurrencyGovernor)
#include "tst_concurrencygovernor.moc"
