// A migration killed with SIGKILL in the middle of a large file resumes from its last
// checkpoint after a restart, and the dataset ends with every row exactly once; killed on its
// last attempt, it ends dead after the restart and keeps none of its rows.
#include "testsupport.h"

#include <QFile>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include <optional>

using Ferry::Test::readRows;

namespace {
constexpr int Rows = 400'000;
constexpr int TimeoutMs = 120'000;
} // namespace

class tst_ImportCrash : public QObject
{
    Q_OBJECT

private:
    QProcessEnvironment environment() const
    {
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QStringLiteral("QT_QPA_PLATFORM"), QStringLiteral("offscreen"));
        env.insert(QStringLiteral("XDG_RUNTIME_DIR"), m_dir->path());
        env.insert(QStringLiteral("XDG_DATA_HOME"), m_dir->path() + QStringLiteral("/xdg"));
        return env;
    }
    QString dataDir() const { return m_dir->path() + QStringLiteral("/data"); }
    QString db() const { return dataDir() + QStringLiteral("/ferry.db"); }

    int ferry(const QStringList &args, QByteArray *out = nullptr)
    {
        QProcess process;
        process.setProcessEnvironment(environment());
        process.start(QStringLiteral(FERRY_BINARY),
                      QStringList{QStringLiteral("--data-dir"), dataDir()} + args);
        if (!process.waitForFinished(TimeoutMs))
            return -1;
        if (out)
            *out = process.readAllStandardOutput() + process.readAllStandardError();
        return process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -1;
    }

    std::unique_ptr<QProcess> startEngine()
    {
        auto engine = std::make_unique<QProcess>();
        engine->setProcessEnvironment(environment());
        engine->setProcessChannelMode(QProcess::MergedChannels);
        engine->start(QStringLiteral(FERRY_BINARY),
                      {QStringLiteral("--headless"), QStringLiteral("--listen"),
                       QStringLiteral("127.0.0.1:0"), QStringLiteral("--data-dir"), dataDir(),
                       QStringLiteral("--poll-interval-ms"), QStringLiteral("50")});
        return engine;
    }

    qint64 scalar(const QString &sql)
    {
        QString error;
        const auto rows = readRows(db(), sql, &error);
        return error.isEmpty() && !rows.isEmpty() ? rows.first().first().toLongLong() : -1;
    }
    // Writes the CSV and queues its import (the engine is not running yet).
    void queueImport(const QStringList &globalOptions = {})
    {
        QVERIFY(m_dir->isValid());
        const QString csv = m_dir->path() + QStringLiteral("/people.csv");
        {
            QFile file(csv);
            QVERIFY(file.open(QIODevice::WriteOnly));
            QByteArray chunk = "id,name,city\n";
            for (int i = 1; i <= Rows; ++i) {
                chunk += QByteArray::number(i) + ",\"Name " + QByteArray::number(i) + "\",Oslo\n";
                if (chunk.size() > (1 << 20)) {
                    file.write(chunk);
                    chunk.clear();
                }
            }
            file.write(chunk);
        }
        QByteArray out;
        QCOMPARE(
            ferry({QStringLiteral("user"), QStringLiteral("add"), QStringLiteral("alice")}, &out),
            0);
        QCOMPARE(ferry(globalOptions +
                           QStringList{
                               QStringLiteral("import"), csv, QStringLiteral("--dataset"),
                               QStringLiteral("people"), QStringLiteral("--user"),
                               QStringLiteral("alice"), QStringLiteral("--mapping"),
                               QStringLiteral("{\"fields\":[{\"name\":\"id\",\"type\":\"integer\"},"
                                              "{\"name\":\"name\"},{\"name\":\"city\"}]}")},
                       &out),
                 0);
    }

    // Starts the engine and kills it (SIGKILL) once some batches are in; the rows it left.
    qint64 killMidImport()
    {
        auto engine = startEngine();
        if (!engine->waitForStarted())
            return -1;
        if (!QTest::qWaitFor(
                [&] {
                    return scalar(QStringLiteral("SELECT coalesce(max(rows_read), 0) FROM "
                                                 "migration_checkpoints")) >= 20'000;
                },
                TimeoutMs))
            return -1;
        engine->kill();
        if (!engine->waitForFinished(TimeoutMs))
            return -1;
        return scalar(QStringLiteral("SELECT count(*) FROM records"));
    }

    std::optional<QTemporaryDir> m_dir; // a fresh one per test function

private Q_SLOTS:
    void init() { m_dir.emplace(); }

    void killedMigrationResumesExactlyOnce()
    {
        queueImport();
        if (QTest::currentTestFailed())
            return;
        const qint64 atKill = killMidImport();
        QVERIFY(atKill >= 0);
        if (atKill >= Rows)
            QSKIP("the import finished before the kill; nothing to resume on this machine");
        QCOMPARE(scalar(QStringLiteral("SELECT count(*) FROM jobs WHERE status = 'running'")), 1);
        QCOMPARE(scalar(QStringLiteral("SELECT rows_imported FROM migration_checkpoints")), atKill);

        auto again = startEngine();
        QVERIFY(again->waitForStarted());
        QTRY_COMPARE_WITH_TIMEOUT(
            scalar(QStringLiteral("SELECT count(*) FROM jobs WHERE status = 'completed'")), 1,
            TimeoutMs);
        QCOMPARE(scalar(QStringLiteral("SELECT count(*) FROM records")), Rows);
        QCOMPARE(
            scalar(QStringLiteral("SELECT count(DISTINCT json_extract(doc, '$.id')) FROM records")),
            Rows);
        QCOMPARE(scalar(QStringLiteral("SELECT min(json_extract(doc, '$.id')) FROM records")), 1);
        QCOMPARE(scalar(QStringLiteral("SELECT max(json_extract(doc, '$.id')) FROM records")),
                 Rows);
        QCOMPARE(scalar(QStringLiteral("SELECT json_extract(result, '$.rowsImported') FROM jobs")),
                 Rows);
        QCOMPARE(scalar(QStringLiteral("SELECT count(*) FROM job_attempts WHERE outcome = 'lost'")),
                 1);
        again->terminate();
        QVERIFY(again->waitForFinished(TimeoutMs));
        QCOMPARE(again->exitCode(), 0);
    }

    // kill -9 on the last attempt (--max-attempts 1): the restarted engine's rescue ends the job
    // dead, outside any attempt, and the undo sweep removes its rows. Before: they stayed.
    void killedOnTheLastAttemptKeepsNoRows()
    {
        queueImport({QStringLiteral("--max-attempts"), QStringLiteral("1")});
        if (QTest::currentTestFailed())
            return;
        const qint64 atKill = killMidImport();
        QVERIFY(atKill >= 0);
        if (atKill >= Rows)
            QSKIP("the import finished before the kill; nothing to undo on this machine");
        QVERIFY(atKill > 0);

        auto again = startEngine();
        QVERIFY(again->waitForStarted());
        QTRY_COMPARE_WITH_TIMEOUT(
            scalar(QStringLiteral("SELECT count(*) FROM jobs WHERE status = 'dead'")), 1,
            TimeoutMs);
        QTRY_COMPARE_WITH_TIMEOUT(scalar(QStringLiteral("SELECT count(*) FROM records")), 0,
                                  TimeoutMs);
        QCOMPARE(scalar(QStringLiteral("SELECT count(*) FROM migration_checkpoints")), 0);
        again->terminate();
        QVERIFY(again->waitForFinished(TimeoutMs));
        QCOMPARE(again->exitCode(), 0);
    }
};

QTEST_GUILESS_MAIN(tst_ImportCrash)
#include "tst_importcrash.moc"
