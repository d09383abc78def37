// The crash acceptance test: an engine killed with SIGKILL mid-work loses no job. The restarted
// engine rescues what the dead one left running at once, records each interrupted attempt as
// 'lost', and runs every job to completion exactly once more.
#include "testsupport.h"

#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QProcess>
#include <QSet>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QSqlRecord>
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>
#include <limits>
#include <memory>

using Ferry::Test::readRows;

namespace {

constexpr int JobCount = 40;
constexpr int ProcessTimeoutMs = 30'000;
constexpr int SettleTimeoutMs = 60'000;
constexpr qint64 PromptRescueMs = 30'000;

struct Attempt
{
    QString outcome;
    qint64 startedAt = 0;
    qint64 finishedAt = 0;
};

} // namespace

class tst_CrashRecovery : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup();

    void killedEngineLosesNoJob();
    void secondEngineOnSameStoreRefused_data();
    void secondEngineOnSameStoreRefused();

private:
    QString dataDir() const { return m_dir->path() + QStringLiteral("/data"); }
    QString databasePath() const { return dataDir() + QStringLiteral("/ferry.db"); }
    QProcessEnvironment childEnvironment() const;
    // ferry --headless on dir, with the acceptance test's options and any extra ones.
    std::unique_ptr<QProcess> startEngine(const QString &dir, const QStringList &extra = {}) const;
    // Job counts by status; empty while the database cannot be read.
    QHash<QString, int> counts(const QString &database) const;
    QHash<QString, int> counts() const { return counts(databasePath()); }

    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<QProcess> m_first;
    std::unique_ptr<QProcess> m_second;
};

void tst_CrashRecovery::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());
    QVERIFY(QDir(m_dir->path()).mkpath(QStringLiteral("runtime")));
    QVERIFY(QFile::setPermissions(m_dir->path() + QStringLiteral("/runtime"),
                                  QFileDevice::ReadOwner | QFileDevice::WriteOwner |
                                      QFileDevice::ExeOwner));
}

void tst_CrashRecovery::cleanup()
{
    // Runs after a failed assertion too: no engine outlives the test.
    for (auto *child : {&m_first, &m_second}) {
        QProcess *process = child->get();
        if (!process)
            continue;
        if (process->state() != QProcess::NotRunning) {
            process->kill();
            process->waitForFinished(ProcessTimeoutMs);
        }
        if (QTest::currentTestFailed()) {
            qInfo("engine %s output:\n%s", child == &m_first ? "1" : "2",
                  process->readAll().constData());
        }
        child->reset();
    }
    m_dir.reset();
}

QProcessEnvironment tst_CrashRecovery::childEnvironment() const
{
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(QStringLiteral("QT_QPA_PLATFORM"), QStringLiteral("offscreen"));
    env.insert(QStringLiteral("XDG_RUNTIME_DIR"), m_dir->path() + QStringLiteral("/runtime"));
    env.insert(QStringLiteral("XDG_DATA_HOME"), m_dir->path() + QStringLiteral("/xdg-data"));
    env.insert(QStringLiteral("QT_LOGGING_RULES"), QStringLiteral("ferry.*.info=true"));
    return env;
}

std::unique_ptr<QProcess> tst_CrashRecovery::startEngine(const QString &dir,
                                                         const QStringList &extra) const
{
    auto process = std::make_unique<QProcess>();
    process->setProcessEnvironment(childEnvironment());
    process->setProcessChannelMode(QProcess::MergedChannels);
    process->start(QStringLiteral(FERRY_BINARY),
                   QStringList{QStringLiteral("--headless"), QStringLiteral("--listen"),
                               QStringLiteral("127.0.0.1:0"), QStringLiteral("--data-dir"), dir,
                               QStringLiteral("--max-concurrency"), QStringLiteral("4"),
                               QStringLiteral("--poll-interval-ms"), QStringLiteral("50")} +
                       extra);
    return process;
}

QHash<QString, int> tst_CrashRecovery::counts(const QString &database) const
{
    QString error;
    const auto rows = readRows(
        database, QStringLiteral("SELECT status, count(*) FROM jobs GROUP BY status"), &error);
    QHash<QString, int> result;
    if (!error.isEmpty())
        return result;
    result.insert(QStringLiteral("total"), 0);
    for (const QVariantList &row : rows) {
        result.insert(row.at(0).toString(), row.at(1).toInt());
        result[QStringLiteral("total")] += row.at(1).toInt();
    }
    return result;
}

void tst_CrashRecovery::killedEngineLosesNoJob()
{
    m_first = startEngine(dataDir());
    QVERIFY2(m_first->waitForStarted(ProcessTimeoutMs), qPrintable(m_first->errorString()));
    // Enqueue once the engine has created the schema, so the two processes do not race to.
    QTRY_VERIFY_WITH_TIMEOUT(!counts().isEmpty() || m_first->state() != QProcess::Running,
                             ProcessTimeoutMs);
    QCOMPARE(m_first->state(), QProcess::Running);

    QProcess enqueue;
    enqueue.setProcessEnvironment(childEnvironment());
    enqueue.start(QStringLiteral(FERRY_BINARY),
                  {QStringLiteral("--data-dir"), dataDir(), QStringLiteral("enqueue"),
                   QStringLiteral("sleep"), QStringLiteral("--count"), QString::number(JobCount),
                   QStringLiteral("--payload"), QStringLiteral("{\"ms\":300}")});
    QVERIFY(enqueue.waitForFinished(ProcessTimeoutMs));
    QVERIFY2(enqueue.exitStatus() == QProcess::NormalExit && enqueue.exitCode() == 0,
             enqueue.readAllStandardError().constData());

    // Kill mid-work: some done, several running, and (to stay clear of the end) some waiting.
    auto midWork = [this] {
        const auto c = counts();
        return c.value(QStringLiteral("running")) >= 2 &&
               c.value(QStringLiteral("completed")) >= 1 && c.value(QStringLiteral("pending")) >= 4;
    };
    QTRY_VERIFY_WITH_TIMEOUT(midWork(), ProcessTimeoutMs);
    m_first->kill(); // SIGKILL: no shutdown code runs
    QVERIFY(m_first->waitForFinished(ProcessTimeoutMs));
    QCOMPARE(m_first->exitStatus(), QProcess::CrashExit);

    QString error;
    const auto leftRunning = readRows(
        databasePath(),
        QStringLiteral("SELECT id, lease_expires_at FROM jobs WHERE status = 'running'"), &error);
    QVERIFY2(error.isEmpty(), qPrintable(error));
    QVERIFY2(!leftRunning.isEmpty(), "no job was left running by the killed engine");
    QSet<qint64> runningAtKill;
    qint64 firstLeaseExpiry = std::numeric_limits<qint64>::max();
    for (const QVariantList &row : leftRunning) {
        runningAtKill.insert(row.at(0).toLongLong());
        firstLeaseExpiry = qMin(firstLeaseExpiry, row.at(1).toLongLong());
    }
    const auto atKill = counts();
    QCOMPARE(atKill.value(QStringLiteral("total")), JobCount);
    qInfo("killed the engine with %d running, %d completed, %d pending",
          atKill.value(QStringLiteral("running")), atKill.value(QStringLiteral("completed")),
          atKill.value(QStringLiteral("pending")));

    const qint64 restartedAt = QDateTime::currentMSecsSinceEpoch();
    m_second = startEngine(dataDir());
    QVERIFY2(m_second->waitForStarted(ProcessTimeoutMs), qPrintable(m_second->errorString()));
    auto settled = [this] {
        const auto c = counts();
        return c.value(QStringLiteral("completed")) + c.value(QStringLiteral("failed")) +
               c.value(QStringLiteral("cancelled")) + c.value(QStringLiteral("dead"));
    };
    QTRY_COMPARE_WITH_TIMEOUT(settled(), JobCount, SettleTimeoutMs);
    QCOMPARE(m_second->state(), QProcess::Running);

    const auto jobs =
        readRows(databasePath(), QStringLiteral("SELECT id, status FROM jobs"), &error);
    QVERIFY2(error.isEmpty(), qPrintable(error));
    QCOMPARE(jobs.size(), JobCount);
    const auto attemptRows =
        readRows(databasePath(),
                 QStringLiteral("SELECT job_id, outcome, started_at, finished_at FROM job_attempts "
                                "ORDER BY job_id, attempt"),
                 &error);
    QVERIFY2(error.isEmpty(), qPrintable(error));
    QHash<qint64, QList<Attempt>> attempts;
    for (const QVariantList &row : attemptRows) {
        attempts[row.at(0).toLongLong()].append(
            {row.at(1).toString(), row.at(2).toLongLong(), row.at(3).toLongLong()});
    }

    for (const QVariantList &row : jobs) {
        const qint64 id = row.at(0).toLongLong();
        const QString which = QStringLiteral("job %1").arg(id);
        QVERIFY2(row.at(1).toString() == u"completed",
                 qPrintable(which + QStringLiteral(" ended ") + row.at(1).toString()));
        const QList<Attempt> history = attempts.value(id);
        const auto count = [&](const QString &outcome) {
            return int(std::count_if(history.cbegin(), history.cend(),
                                     [&](const Attempt &a) { return a.outcome == outcome; }));
        };
        const int completed = count(QStringLiteral("completed"));
        const int lost = count(QStringLiteral("lost"));
        const bool wasRunning = runningAtKill.contains(id);
        QVERIFY2(completed == 1,
                 qPrintable(QStringLiteral("%1 completed %2 times").arg(which).arg(completed)));
        QVERIFY2(lost == (wasRunning ? 1 : 0),
                 qPrintable(QStringLiteral("%1 has %2 lost attempts; running at the kill: %3")
                                .arg(which)
                                .arg(lost)
                                .arg(wasRunning)));
        QVERIFY2(history.size() == 1 + lost,
                 qPrintable(QStringLiteral("%1 has %2 attempts").arg(which).arg(history.size())));
        if (!wasRunning)
            continue;

        // The restarted engine rescued it at start-up, not after the dead engine's lease.
        const Attempt &lostAttempt = history.first();
        const Attempt &rerun = history.last();
        QCOMPARE(lostAttempt.outcome, QStringLiteral("lost"));
        QVERIFY2(lostAttempt.finishedAt >= restartedAt,
                 qPrintable(which + QStringLiteral(" was declared lost before the restart")));
        QVERIFY2(rerun.startedAt >= restartedAt && rerun.startedAt - restartedAt < PromptRescueMs,
                 qPrintable(QStringLiteral("%1 ran again %2 ms after the restart")
                                .arg(which)
                                .arg(rerun.startedAt - restartedAt)));
        qInfo("%s: lost, then ran again %lld ms after the restart", qPrintable(which),
              rerun.startedAt - restartedAt);
        QVERIFY2(rerun.startedAt < firstLeaseExpiry,
                 qPrintable(which + QStringLiteral(" waited for the dead engine's lease")));
    }

    m_second->terminate(); // SIGTERM: a clean shutdown
    QVERIFY(m_second->waitForFinished(ProcessTimeoutMs));
    QCOMPARE(m_second->exitStatus(), QProcess::NormalExit);
    QCOMPARE(m_second->exitCode(), 0);
}

void tst_CrashRecovery::secondEngineOnSameStoreRefused_data()
{
    QTest::addColumn<bool>("viaDbOption");

    QTest::newRow("same data dir") << false;
    QTest::newRow("same --db, other data dir") << true;
}

// The start-up rescue above is only sound while one engine owns a SQLite store: it takes every
// running job of another node for a leftover of a crash.
void tst_CrashRecovery::secondEngineOnSameStoreRefused()
{
    QFETCH(bool, viaDbOption);

    const QString store =
        viaDbOption ? m_dir->path() + QStringLiteral("/shared.db") : databasePath();
    const QStringList extra =
        viaDbOption ? QStringList{QStringLiteral("--db"), store} : QStringList{};
    m_first = startEngine(dataDir(), extra);
    QVERIFY2(m_first->waitForStarted(ProcessTimeoutMs), qPrintable(m_first->errorString()));
    QTRY_VERIFY_WITH_TIMEOUT(!counts(store).isEmpty() || m_first->state() != QProcess::Running,
                             ProcessTimeoutMs);
    QCOMPARE(m_first->state(), QProcess::Running);

    m_second =
        startEngine(viaDbOption ? m_dir->path() + QStringLiteral("/other") : dataDir(), extra);
    QVERIFY2(m_second->waitForStarted(ProcessTimeoutMs), qPrintable(m_second->errorString()));
    // Either it gives up, or it gets as far as announcing a running engine.
    QByteArray output;
    QTRY_VERIFY_WITH_TIMEOUT(
        (output += m_second->readAll(),
         m_second->state() == QProcess::NotRunning || output.contains("engine started")),
        ProcessTimeoutMs);
    QVERIFY2(m_second->state() == QProcess::NotRunning, output.constData());
    output += m_second->readAll();
    QCOMPARE(m_second->exitStatus(), QProcess::NormalExit);
    QCOMPARE(m_second->exitCode(), 1);
    QVERIFY2(output.contains("Another Ferry engine"), output.constData());
    QCOMPARE(m_first->state(), QProcess::Running);
}

QTEST_GUILESS_MAIN(tst_CrashRecovery)
#include "tst_crashrecovery.moc"
