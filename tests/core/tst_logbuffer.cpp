#include "core/logbuffer.h"

#include <QLoggingCategory>
#include <QSignalSpy>
#include <QTest>
#include <QThread>

using namespace Ferry;

namespace {
Q_LOGGING_CATEGORY(lcTest, "ferry.test")

QStringList s_passedOn; // what the previous handler received
void previousHandler(QtMsgType, const QMessageLogContext &, const QString &message)
{
    s_passedOn.append(message);
}
} // namespace

// The console's log buffer: bounded, thread-safe, and installed without taking the log away
// from the handler that was there before (stderr in the app).
class tst_LogBuffer : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void keepsTheLastRecordsInOrder()
    {
        LogBuffer buffer(3);
        for (int i = 1; i <= 5; ++i)
            buffer.append(QtInfoMsg, QStringLiteral("ferry.test"), QString::number(i), i);
        const QList<LogRecord> records = buffer.recordsAfter();
        QCOMPARE(records.size(), 3);
        QCOMPARE(records.at(0).message, QStringLiteral("3"));
        QCOMPARE(records.at(2).message, QStringLiteral("5"));
        QCOMPARE(records.at(2).sequence, 5);
        const QList<LogRecord> newer = buffer.recordsAfter(4);
        QCOMPARE(newer.size(), 1);
        QCOMPARE(newer.at(0).message, QStringLiteral("5"));
    }

    void installedItRecordsAndChains()
    {
        s_passedOn.clear();
        const QtMessageHandler before = qInstallMessageHandler(previousHandler);
        {
            LogBuffer buffer(10);
            QSignalSpy appended(&buffer, &LogBuffer::appended);
            buffer.install();
            qCCritical(lcTest) << "queue paused"; // ctest turns ferry.*.info off
            qCWarning(lcTest) << "memory high";
            const QList<LogRecord> records = buffer.recordsAfter();
            QCOMPARE(records.size(), 2);
            QCOMPARE(records.at(0).category, QStringLiteral("ferry.test"));
            QCOMPARE(records.at(0).level, QtCriticalMsg);
            QCOMPARE(records.at(0).message, QStringLiteral("queue paused"));
            QCOMPARE(records.at(1).level, QtWarningMsg);
            QCOMPARE(appended.size(), 1); // once until read
            qCWarning(lcTest) << "after the read";
            QCOMPARE(appended.size(), 2);
            QCOMPARE(s_passedOn,
                     (QStringList{QStringLiteral("queue paused"), QStringLiteral("memory high"),
                                  QStringLiteral("after the read")}));
        } // the buffer uninstalls itself
        qCWarning(lcTest) << "after";
        QCOMPARE(s_passedOn.size(), 4);
        qInstallMessageHandler(before);
    }

    void appendsFromManyThreads()
    {
        LogBuffer buffer(1000);
        QList<QThread *> threads;
        for (int t = 0; t < 4; ++t) {
            threads.append(QThread::create([&buffer] {
                for (int i = 0; i < 200; ++i)
                    buffer.append(QtInfoMsg, QStringLiteral("ferry.test"), QString::number(i), i);
            }));
            threads.last()->start();
        }
        for (QThread *thread : std::as_const(threads)) {
            thread->wait();
            delete thread;
        }
        const QList<LogRecord> records = buffer.recordsAfter();
        QCOMPARE(records.size(), 800);
        for (int i = 1; i < records.size(); ++i)
            QCOMPARE(records.at(i).sequence, records.at(i - 1).sequence + 1);
    }

    void severityOrdersLevels()
    {
        QVERIFY(LogRecord::severity(QtDebugMsg) < LogRecord::severity(QtInfoMsg));
        QVERIFY(LogRecord::severity(QtInfoMsg) < LogRecord::severity(QtWarningMsg));
        QVERIFY(LogRecord::severity(QtWarningMsg) < LogRecord::severity(QtCriticalMsg));
        QCOMPARE(LogRecord::levelName(QtCriticalMsg), QStringLiteral("error"));
    }
};

QTEST_MAIN(tst_LogBuffer)
#include "tst_logbuffer.moc"
