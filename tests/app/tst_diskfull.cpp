// A disk that fills during an import: the data directory sits on a small tmpfs the test mounts
// itself, the real `ferry --headless` imports a file larger than the room left, and the job must
// end with a clear error and none of its rows visible (its undo also needs room in the WAL).
// With no floor at all (--min-free-disk-mb 0) the database itself fills; the reserve then gives
// the undo room, but recording the job's end can still find the disk full, so that case is not
// deterministic yet and is not asserted here (docs/architecture.md, "A full disk").
// Mounting needs root (as in CI); without it the test skips and says so.
#include "testsupport.h"

#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include <sys/mount.h>
#include <unistd.h>

using Ferry::Test::readRows;

namespace {
constexpr int Rows = 300'000;
constexpr int TimeoutMs = 120'000;
constexpr int StopMs = 30'000;
} // namespace

class tst_DiskFull : public QObject
{
    Q_OBJECT

private:
    QProcessEnvironment environment() const
    {
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QStringLiteral("QT_QPA_PLATFORM"), QStringLiteral("offscreen"));
        env.insert(QStringLiteral("XDG_RUNTIME_DIR"), m_dir.path());
        env.insert(QStringLiteral("XDG_DATA_HOME"), m_dir.path() + QStringLiteral("/xdg"));
        return env;
    }
    QString dataDir() const { return m_dir.path() + QStringLiteral("/small"); }
    QString blobDir() const { return m_dir.path() + QStringLiteral("/blobs"); }
    QString db() const { return dataDir() + QStringLiteral("/ferry.db"); }
    QStringList common() const
    {
        // Blobs live outside the small file system: only the database runs out of room.
        // One attempt: the first failure is the job's end, so its undo must run.
        return {QStringLiteral("--data-dir"),     dataDir(),
                QStringLiteral("--blob-dir"),     blobDir(),
                QStringLiteral("--max-attempts"), QStringLiteral("1")};
    }

    int ferry(const QStringList &args, QByteArray *out = nullptr)
    {
        QProcess process;
        process.setProcessEnvironment(environment());
        process.start(QStringLiteral(FERRY_BINARY), common() + args);
        if (!process.waitForFinished(TimeoutMs))
            return -1;
        if (out)
            *out = process.readAllStandardOutput() + process.readAllStandardError();
        return process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -1;
    }

    qint64 scalar(const QString &sql)
    {
        QString error;
        const auto rows = readRows(db(), sql, &error);
        return error.isEmpty() && !rows.isEmpty() ? rows.first().first().toLongLong() : -1;
    }

    QJsonObject job(qint64 id)
    {
        QByteArray out;
        if (ferry({QStringLiteral("job"), QString::number(id), QStringLiteral("--json")}, &out) !=
            0)
            return {};
        return QJsonDocument::fromJson(out).object();
    }

    void writeCsv(const QString &path)
    {
        QFile file(path);
        QVERIFY(file.open(QIODevice::WriteOnly));
        QByteArray chunk = "id,name,city,note\n";
        for (int i = 1; i <= Rows; ++i) {
            chunk += QByteArray::number(i) + ",\"Name " + QByteArray::number(i) +
                     "\",Oslo,a note long enough to take some room in each record\n";
            if (chunk.size() > (1 << 20)) {
                file.write(chunk);
                chunk.clear();
            }
        }
        file.write(chunk);
    }

    // Imports the big file with the given engine options and returns the finished job.
    QJsonObject importUntilFinished(const QStringList &engineOptions)
    {
        const QString csv = m_dir.path() + QStringLiteral("/people.csv");
        writeCsv(csv);
        QByteArray out;
        if (ferry({QStringLiteral("user"), QStringLiteral("add"), QStringLiteral("alice")}, &out) !=
            0) {
            qWarning() << "user add failed:" << out;
            return {};
        }
        if (ferry({QStringLiteral("import"), csv, QStringLiteral("--dataset"),
                   QStringLiteral("people"), QStringLiteral("--user"), QStringLiteral("alice")},
                  &out) != 0) {
            qWarning() << "import failed:" << out;
            return {};
        }
        QProcess engine;
        engine.setProcessEnvironment(environment());
        engine.setProcessChannelMode(QProcess::MergedChannels);
        engine.start(QStringLiteral(FERRY_BINARY),
                     common() +
                         QStringList{QStringLiteral("--headless"), QStringLiteral("--listen"),
                                     QStringLiteral("127.0.0.1:0"),
                                     QStringLiteral("--poll-interval-ms"), QStringLiteral("50")} +
                         engineOptions);
        if (!engine.waitForStarted())
            return {};
        QJsonObject finished;
        QElapsedTimer timer;
        timer.start();
        while (timer.elapsed() < TimeoutMs) {
            const QJsonObject j = job(1);
            const QString status = j.value(u"status").toString();
            if (status == u"failed" || status == u"dead" || status == u"completed") {
                finished = j;
                break;
            }
            QTest::qWait(200);
        }
        engine.terminate();
        m_stoppedOnTerm = engine.waitForFinished(StopMs) &&
                          engine.exitStatus() == QProcess::NormalExit && engine.exitCode() == 0;
        if (!m_stoppedOnTerm) {
            engine.kill();
            engine.waitForFinished(StopMs);
        }
        m_engineLog = engine.readAll();
        return finished;
    }

    QTemporaryDir m_dir;
    QByteArray m_engineLog;
    bool m_stoppedOnTerm = false;
    bool m_mounted = false;

private Q_SLOTS:
    void init()
    {
        QVERIFY(m_dir.isValid());
        if (geteuid() != 0)
            QSKIP("mounting the small file system needs root (CI runs as root)");
        QVERIFY(QDir().mkpath(dataDir()));
        QVERIFY(QDir().mkpath(blobDir()));
        // 16 MiB: room for the schema, the 4 MiB reserve and a few batches, far less than the
        // file's ~40 MiB of rows.
        if (mount("tmpfs", dataDir().toLocal8Bit().constData(), "tmpfs", 0, "size=16m") != 0)
            QSKIP("could not mount a tmpfs here (no CAP_SYS_ADMIN in this container)");
        m_mounted = true;
    }

    void cleanup()
    {
        if (m_mounted)
            umount2(dataDir().toLocal8Bit().constData(), MNT_DETACH);
        m_mounted = false;
    }

    // With a free-disk floor, the import stops while room remains, says why, and undoes itself.
    void importStopsAtTheFreeDiskFloor()
    {
        const QJsonObject finished =
            importUntilFinished({QStringLiteral("--min-free-disk-mb"), QStringLiteral("4")});
        QVERIFY2(!finished.isEmpty(), m_engineLog.constData());
        QCOMPARE(finished.value(u"status").toString(), QStringLiteral("dead"));
        const QString error = finished.value(u"error").toString();
        QVERIFY2(error.contains(u"--min-free-disk-mb"), qPrintable(error));
        QCOMPARE(scalar(QStringLiteral("SELECT count(*) FROM records")), 0);
        QVERIFY2(m_stoppedOnTerm, m_engineLog.right(4000).constData());
    }
};

QTEST_GUILESS_MAIN(tst_DiskFull)
#include "tst_diskfull.moc"
