// How the console shows a job's duration (Jobs table and detail pane): short imports in
// milliseconds, not "0.0 s".
#include "ui/jobs/durationtext.h"

#include <QTest>

using namespace Ferry;

class tst_DurationText : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void durations_data()
    {
        QTest::addColumn<qint64>("ms");
        QTest::addColumn<QString>("shown");
        QTest::newRow("not started") << qint64(-1) << QString();
        QTest::newRow("zero") << qint64(0) << QStringLiteral("0 ms");
        QTest::newRow("a small import") << qint64(21) << QStringLiteral("21 ms");
        QTest::newRow("under a second") << qint64(999) << QStringLiteral("999 ms");
        QTest::newRow("a second") << qint64(1000) << QStringLiteral("1.0 s");
        QTest::newRow("seconds") << qint64(4'340) << QStringLiteral("4.3 s");
        QTest::newRow("minutes") << qint64(725'000) << QStringLiteral("12m 05s");
        QTest::newRow("hours") << qint64(7'620'000) << QStringLiteral("2h 07m");
    }

    void durations()
    {
        QFETCH(qint64, ms);
        QFETCH(QString, shown);
        QCOMPARE(durationText(ms), shown);
    }
};

QTEST_GUILESS_MAIN(tst_DurationText)
#include "tst_durationtext.moc"
