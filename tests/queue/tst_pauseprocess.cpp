// `ferry pause` from another process stops a running engine's claims at once (issue 18, item 4):
// a real `ferry --headless` polling every 5 s, a real `ferry pause` beside it on the same SQLite
// file. Before: the engine went on starting jobs until its next poll (23 attempts after `ferry
// pause` returned with a 3 s poll). After: the claim reads the persisted pause under its lock.
#include "testsupport.h"

#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

using namespace Ferry;
using Ferry::Test::readRows;

namespace {
constexpr int ProcessTimeoutMs = 60'000;
constexpr int JobCount = 2'000;
} // namespace

class tst_PauseProcess : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init()
    {
        m_dir = std::make_unique<QTemporaryDir>();
        QVERIFY(m_dir->isValid());
    }
    void cleanup()
    {
        if (m_engine && m_engine->state() != QProcess::NotRunning) {
            m_engine->terminate();
            if (!m_engine->waitForFinished(ProcessTimeoutMs))
                m_engine->kill();
            m_engine->waitForFinished(ProcessTimeoutMs);
        }
        m_engine.reset();
    }

    void pauseFromAnotherProcessStartsNothingMore()
    {
        m_engine = std::make_unique<QProcess>();
        m_engine->setProcessEnvironment(environment());
        m_engine->setProcessChannelMode(QProcess::MergedChannels);
        m_engine->start(QStringLiteral(FERRY_BINARY),
                        {QStringLiteral("--headless"), QStringLiteral("--listen"),
                         QStringLiteral("127.0.0.1:0"), QStringLiteral("--data-dir"), dataDir(),
                         QStringLiteral("--max-concurrency"), QStringLiteral("2"),
                         QStringLiteral("--poll-interval-ms"), QStringLiteral("5000")});
        QVERIFY2(m_engine->waitForStarted(ProcessTimeoutMs), qPrintable(m_engine->errorString()));
        QTRY_VERIFY_WITH_TIMEOUT(claimed() >= 0 || m_engine->state() != QProcess::Running,
                                 ProcessTimeoutMs); // the schema exists
        QCOMPARE(m_engine->state(), QProcess::Running);

        QVERIFY(runFerry({QStringLiteral("enqueue"), QStringLiteral("sleep"),
                          QStringLiteral("--count"), QString::number(JobCount),
                          QStringLiteral("--payload"), QStringLiteral("{\"ms\":20}")}));
        // The enqueue woke nobody in the engine's process: its poll (5 s) finds the jobs.
        QTRY_VERIFY_WITH_TIMEOUT(claimed() >= 10, ProcessTimeoutMs);

        QVERIFY(runFerry({QStringLiteral("pause")}));
        const qint64 atPause = claimed();
        QVERIFY(atPause < JobCount);
        // Well inside the engine's 5 s poll: not one more job is claimed (jobs it had claimed
        // ahead may go back to pending, so the count may fall).
        for (int i = 0; i < 20; ++i) {
            QTest::qWait(100);
            QVERIFY2(claimed() <= atPause,
                     qPrintable(QStringLiteral("%1 jobs claimed after `ferry pause` returned")
                                    .arg(claimed() - atPause)));
        }
        QCOMPARE(m_engine->state(), QProcess::Running);
    }

private:
    QString dataDir() const { return m_dir->path() + QStringLiteral("/data"); }

    QProcessEnvironment environment() const
    {
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QStringLiteral("QT_QPA_PLATFORM"), QStringLiteral("offscreen"));
        env.insert(QStringLiteral("XDG_RUNTIME_DIR"), m_dir->path() + QStringLiteral("/runtime"));
        env.insert(QStringLiteral("XDG_DATA_HOME"), m_dir->path() + QStringLiteral("/xdg-data"));
        return env;
    }

    bool runFerry(const QStringList &arguments) const
    {
        QProcess ferry;
        ferry.setProcessEnvironment(environment());
        ferry.start(QStringLiteral(FERRY_BINARY),
                    QStringList{QStringLiteral("--data-dir"), dataDir()} + arguments);
        if (!ferry.waitForFinished(ProcessTimeoutMs) ||
            ferry.exitStatus() != QProcess::NormalExit || ferry.exitCode() != 0) {
            qWarning("ferry %s: %s", qPrintable(arguments.join(u' ')),
                     ferry.readAllStandardError().constData());
            return false;
        }
        return true;
    }

    // Jobs that left `pending` (claimed, running or finished); -1 before the schema exists.
    qint64 claimed() const
    {
        QString error;
        const auto rows =
            readRows(dataDir() + QStringLiteral("/ferry.db"),
                     QStringLiteral("SELECT count(*) FROM jobs WHERE status <> 'pending'"), &error);
        if (!error.isEmpty() || rows.isEmpty())
            return -1;
        return rows.first().first().toLongLong();
    }

    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<QProcess> m_engine;
};

QTEST_GUILESS_MAIN(tst_PauseProcess)
#include "tst_pauseprocess.moc"
