#include "monitor/procprobe.h"

#include <QStorageInfo>
#include <QTemporaryDir>
#include <QTest>

using namespace Ferry;

// ProcProbe against fixture files (tests/monitor/fixtures/): a realistic /proc, and one whose
// files are malformed, each value compared exactly.
class tst_ProcProbe : public QObject
{
    Q_OBJECT

private:
    static QString fixture(const char *name)
    {
        return QStringLiteral(FERRY_MONITOR_FIXTURES "/") + QLatin1String(name);
    }

private Q_SLOTS:
    void readsRssFromStatus()
    {
        ProcProbe probe(QDir::tempPath(), fixture("proc"), 100);
        auto rss = probe.processRssBytes();
        QVERIFY2(rss, qPrintable(rss.error().toString()));
        QCOMPARE(*rss, qint64(412340) * 1024); // VmRSS, not VmHWM or RssAnon
    }

    void readsCpuTimeFromStat_data()
    {
        QTest::addColumn<qint64>("ticksPerSecond");
        QTest::addColumn<qint64>("expectedMs");
        // utime 1234 + stime 567 = 1801 ticks; comm "ferry (engine) x" has spaces and parens.
        QTest::newRow("100 Hz") << qint64(100) << qint64(18010);
        QTest::newRow("250 Hz") << qint64(250) << qint64(7204);
    }
    void readsCpuTimeFromStat()
    {
        QFETCH(qint64, ticksPerSecond);
        QFETCH(qint64, expectedMs);
        ProcProbe probe(QDir::tempPath(), fixture("proc"), ticksPerSecond);
        auto cpu = probe.processCpuTimeMs();
        QVERIFY2(cpu, qPrintable(cpu.error().toString()));
        QCOMPARE(*cpu, expectedMs);
    }

    void readsSystemMemory()
    {
        ProcProbe probe(QDir::tempPath(), fixture("proc"), 100);
        auto memory = probe.systemMemory();
        QVERIFY2(memory, qPrintable(memory.error().toString()));
        QCOMPARE(memory->totalBytes, qint64(16318432) * 1024);
        QCOMPARE(memory->availableBytes, qint64(9876540) * 1024); // MemAvailable, not MemFree
    }

    void malformedFilesAreErrors()
    {
        ProcProbe probe(QDir::tempPath(), fixture("malformed"), 100);
        auto rss = probe.processRssBytes(); // "VmRSS: lots kB"
        QVERIFY(!rss);
        QVERIFY(rss.error().message.contains(QStringLiteral("VmRSS")));
        QVERIFY(rss.error().message.contains(QStringLiteral("self/status")));
        auto cpu = probe.processCpuTimeMs(); // truncated before utime
        QVERIFY(!cpu);
        QVERIFY(cpu.error().message.contains(QStringLiteral("self/stat")));
        auto memory = probe.systemMemory(); // no MemAvailable line
        QVERIFY(!memory);
        QVERIFY(memory.error().message.contains(QStringLiteral("MemAvailable")));
    }

    void missingFilesAreErrors()
    {
        QTemporaryDir empty;
        ProcProbe probe(empty.path(), empty.path() + QStringLiteral("/no-proc"), 100);
        QVERIFY(!probe.processRssBytes());
        QVERIFY(!probe.processCpuTimeMs());
        auto memory = probe.systemMemory();
        QVERIFY(!memory);
        QVERIFY(memory.error().message.contains(QStringLiteral("meminfo")));
    }

    void freeDiskOfTheDataDirectory()
    {
        QTemporaryDir dir;
        ProcProbe probe(dir.path(), fixture("proc"), 100);
        // Other tests write to the same disk meanwhile: the probe's reading must fall between
        // QStorageInfo's readings just before and after it (give or take what they write).
        const qint64 before = QStorageInfo(dir.path()).bytesAvailable();
        auto free = probe.freeDiskBytes();
        const qint64 after = QStorageInfo(dir.path()).bytesAvailable();
        QVERIFY2(free, qPrintable(free.error().toString()));
        constexpr qint64 Slack = qint64(256) << 20;
        QVERIFY2(*free >= qMin(before, after) - Slack && *free <= qMax(before, after) + Slack,
                 qPrintable(QStringLiteral("probe %1, QStorageInfo %2 then %3")
                                .arg(*free)
                                .arg(before)
                                .arg(after)));
        ProcProbe nowhere(dir.path() + QStringLiteral("/does/not/exist"), fixture("proc"), 100);
        QVERIFY(!nowhere.freeDiskBytes());
    }

    void readsThisProcess()
    {
        // The real /proc parses too (its values change, so only their sanity is checked).
        QTemporaryDir dir;
        ProcProbe probe(dir.path());
        auto rss = probe.processRssBytes();
        QVERIFY2(rss, qPrintable(rss.error().toString()));
        QVERIFY(*rss > 0);
        auto cpu = probe.processCpuTimeMs();
        QVERIFY2(cpu, qPrintable(cpu.error().toString()));
        QVERIFY(*cpu >= 0);
        auto memory = probe.systemMemory();
        QVERIFY2(memory, qPrintable(memory.error().toString()));
        QVERIFY(memory->totalBytes >= memory->availableBytes && memory->availableBytes > 0);
    }
};

QTEST_GUILESS_MAIN(tst_ProcProbe)
#include "tst_procprobe.moc"
