#include "queue/backoff.h"

#include <QTest>

using namespace Ferry;

class tst_Backoff : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void ceilingDoublesUpToTheCap_data()
    {
        QTest::addColumn<int>("attempt");
        QTest::addColumn<qint64>("ceiling");
        QTest::newRow("1") << 1 << qint64(1000);
        QTest::newRow("2") << 2 << qint64(2000);
        QTest::newRow("3") << 3 << qint64(4000);
        QTest::newRow("6") << 6 << qint64(32'000);
        QTest::newRow("capped") << 12 << qint64(60'000);
        QTest::newRow("huge attempt") << 10'000 << qint64(60'000);
    }
    void ceilingDoublesUpToTheCap()
    {
        QFETCH(int, attempt);
        QFETCH(qint64, ceiling);
        const Backoff backoff(1000, 60'000, [] { return 0.0; });
        QCOMPARE(backoff.ceilingMs(attempt), ceiling);
    }

    void fullJitterSpansZeroToCeiling()
    {
        double unit = 0.0;
        const Backoff backoff(1000, 60'000, [&unit] { return unit; });
        QCOMPARE(backoff.delayMs(3), 0);
        unit = 0.5;
        QCOMPARE(backoff.delayMs(3), 2000);
        unit = 0.999;
        QCOMPARE(backoff.delayMs(3), 3996);
    }

    void defaultRandomStaysInRange()
    {
        const Backoff backoff(100, 10'000);
        QSet<qint64> seen;
        for (int i = 0; i < 200; ++i) {
            const qint64 delay = backoff.delayMs(4);
            QVERIFY(delay >= 0 && delay < 800);
            seen.insert(delay);
        }
        QVERIFY(seen.size() > 10); // jittered, not a constant
    }
};

QTEST_GUILESS_MAIN(tst_Backoff)
#include "tst_backoff.moc"
