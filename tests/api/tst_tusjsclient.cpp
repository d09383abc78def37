// The stock tus-js-client (npm, pinned in tests/api/tus-js-client/package.json) uploads to a real
// Ferry API server from Node; the test checks the job it created and the content it stored.
#include "tusfixture.h"

#include <QCryptographicHash>
#include <QDir>
#include <QProcess>
#include <QRegularExpression>
#include <QStandardPaths>
#include <QTemporaryDir>

using namespace Ferry;
using namespace Ferry::Test;

namespace {

const QString s_clientDir = QStringLiteral(FERRY_TUS_JS_DIR);

struct Run
{
    int exitCode = -1;
    QByteArray out;
    QByteArray err;
};

Run run(const QString &program, const QStringList &arguments, int timeoutMs)
{
    QProcess process;
    process.setWorkingDirectory(s_clientDir);
    process.start(program, arguments);
    Run result;
    if (!process.waitForStarted(30'000)) {
        result.err = process.errorString().toUtf8();
        return result;
    }
    // Spin the event loop: the server under test lives on this thread.
    if (!waitFor([&] { return process.state() == QProcess::NotRunning; }, timeoutMs)) {
        process.kill();
        process.waitForFinished(5'000);
        result.err = "timed out";
    }
    result.out = process.readAllStandardOutput();
    result.err += process.readAllStandardError();
    result.exitCode = process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -1;
    return result;
}

QByteArray csvRows(int from, int to)
{
    QByteArray csv = "id,name\n";
    for (int i = from; i <= to; ++i)
        csv += QByteArray::number(i) + ",name " + QByteArray::number(i) + "\n";
    return csv;
}

} // namespace

class tst_TusJsClient : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        m_node = QStandardPaths::findExecutable(QStringLiteral("node"));
        const QString npm = QStandardPaths::findExecutable(QStringLiteral("npm"));
        QVERIFY2(!m_node.isEmpty() && !npm.isEmpty(),
                 "node and npm are needed: run scripts/install-deps.sh (Debian's nodejs, npm)");
        if (QFile::exists(s_clientDir + QStringLiteral("/node_modules/tus-js-client/package.json")))
            return;
        const Run install = run(
            npm, {QStringLiteral("ci"), QStringLiteral("--no-audit"), QStringLiteral("--no-fund")},
            300'000);
        if (install.exitCode == 0)
            return;
        // Only an unreachable registry is a reason to skip; any other failure is a failure.
        const Run ping = run(npm, {QStringLiteral("ping")}, 60'000);
        if (ping.exitCode != 0) {
            qWarning("\n*****************************************************************\n"
                     "*** SKIPPING tst_tusjsclient: npm cannot reach the registry,  ***\n"
                     "*** so tus-js-client cannot be installed. Nothing was tested. ***\n"
                     "*****************************************************************\n%s",
                     ping.err.constData());
            QSKIP("npm cannot reach the registry: tus-js-client not installed");
        }
        QFAIL(qPrintable(QStringLiteral("npm ci failed in %1:\n%2")
                             .arg(s_clientDir, QString::fromUtf8(install.err))));
    }

    void stockClientUploadsInPiecesResumesAndTheImportRuns()
    {
        TusFixture f(1 << 20);
        QVERIFY(f.dispatcher->start().ok());
        const QByteArray csv = csvRows(1, 3000); // ~45 KB: several PATCHes of 16 KiB
        QTemporaryDir dir;
        const QString file = dir.filePath(QStringLiteral("people.csv"));
        {
            QFile out(file);
            QVERIFY(out.open(QIODevice::WriteOnly));
            out.write(csv);
        }
        const Run upload =
            run(m_node,
                {s_clientDir + QStringLiteral("/upload.mjs"), f.url(QStringLiteral("/api/v1/tus")),
                 QString::fromLatin1(f.aliceToken), file, QStringLiteral("people"),
                 QStringLiteral("16384")},
                120'000);
        QVERIFY2(upload.exitCode == 0, upload.err.constData());
        const QJsonObject result = QJsonDocument::fromJson(upload.out.trimmed()).object();
        QVERIFY2(!result.isEmpty(), upload.out.constData());
        QVERIFY(result.value(u"url").toString().startsWith(f.url(QStringLiteral("/api/v1/tus/"))));
        QVERIFY(result.value(u"patches").toInt() >= 3);
        QVERIFY(result.value(u"heads").toInt() >= 1); // the second Upload resumed via HEAD
        const qint64 jobId = result.value(u"jobId").toInteger();
        QVERIFY2(jobId > 0, upload.out.constData());
        const QString sessionId = result.value(u"sessionId").toString();

        QVERIFY(f.finished(jobId));
        const Job job = f.job(jobId);
        QCOMPARE(job.status, JobStatus::Completed);
        QCOMPARE(job.userId, f.alice.id);
        QCOMPARE(job.sessionId, sessionId);
        QCOMPARE(f.blobContent(sessionId), csv);
        QCOMPARE(f.recordCount(f.alice.id, QStringLiteral("people")), 3000);
    }

    // The same client against a real `ferry --headless` process: the routes as EngineHost wires
    // them.
    void stockClientUploadsToFerryHeadless()
    {
        QTemporaryDir dir;
        const QString dataDir = dir.filePath(QStringLiteral("data"));
        // On PostgreSQL (FERRY_TEST_BACKEND=postgres) the engine gets --db <fresh database URL>.
        const QString db = freshStoreLocation(dataDir + QStringLiteral("/ferry.db"));
        const QStringList dbArgs =
            onPostgres() ? QStringList{QStringLiteral("--db"), db} : QStringList{};
        const QString blobDir = dir.filePath(QStringLiteral("shared-blobs"));
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QStringLiteral("QT_QPA_PLATFORM"), QStringLiteral("offscreen"));
        env.insert(QStringLiteral("XDG_RUNTIME_DIR"), dir.path());
        env.insert(QStringLiteral("QT_LOGGING_RULES"), QStringLiteral("ferry.*.info=true")); // port
        QProcess add;
        add.setProcessEnvironment(env);
        add.start(QStringLiteral(FERRY_BINARY),
                  QStringList{QStringLiteral("--data-dir"), dataDir} + dbArgs +
                      QStringList{QStringLiteral("user"), QStringLiteral("add"),
                                  QStringLiteral("alice"), QStringLiteral("--json")});
        QVERIFY(add.waitForFinished(60'000) && add.exitCode() == 0);
        const QString token = QJsonDocument::fromJson(add.readAllStandardOutput())
                                  .object()
                                  .value(u"token")
                                  .toString();
        QVERIFY(!token.isEmpty());

        QProcess engine;
        engine.setProcessEnvironment(env);
        engine.setProcessChannelMode(QProcess::MergedChannels);
        engine.start(QStringLiteral(FERRY_BINARY),
                     QStringList{QStringLiteral("--headless"), QStringLiteral("--listen"),
                                 QStringLiteral("127.0.0.1:0"), QStringLiteral("--data-dir"),
                                 dataDir,
                                 // Uploads reachable from every node: blobs and tus partials
                                 // elsewhere.
                                 QStringLiteral("--blob-dir"), blobDir,
                                 QStringLiteral("--poll-interval-ms"), QStringLiteral("50")} +
                         dbArgs);
        QVERIFY(engine.waitForStarted());
        QByteArray log;
        static const QRegularExpression endpoint(
            QStringLiteral("HTTP endpoint on (http://127\\.0\\.0\\.1:\\d+)/api/v1/"));
        QString base;
        QVERIFY(waitFor([&] {
            log += engine.readAll();
            base = endpoint.match(QString::fromUtf8(log)).captured(1);
            return !base.isEmpty() || engine.state() == QProcess::NotRunning;
        }));
        QVERIFY2(!base.isEmpty(), log.constData());

        const QByteArray csv = csvRows(1, 3000);
        const QString file = dir.filePath(QStringLiteral("people.csv"));
        {
            QFile out(file);
            QVERIFY(out.open(QIODevice::WriteOnly));
            out.write(csv);
        }
        const Run upload =
            run(m_node,
                {s_clientDir + QStringLiteral("/upload.mjs"), base + QStringLiteral("/api/v1/tus"),
                 token, file, QStringLiteral("people"), QStringLiteral("16384")},
                120'000);
        if (upload.exitCode != 0)
            log += engine.readAll();
        const QByteArray failure = upload.err + "\n" + log;
        QVERIFY2(upload.exitCode == 0, failure.constData());
        const QJsonObject result = QJsonDocument::fromJson(upload.out.trimmed()).object();
        const qint64 jobId = result.value(u"jobId").toInteger();
        QVERIFY2(jobId > 0, upload.out.constData());

        // The job runs in the engine; its session's blob is the file (content-addressed).
        auto value = [&](const QString &sql) {
            QString error;
            const auto rows = readRows(db, sql, &error);
            return error.isEmpty() && !rows.isEmpty() ? rows.first().first() : QVariant();
        };
        QVERIFY(waitFor([&] {
            return value(QStringLiteral("SELECT status FROM jobs WHERE id = %1").arg(jobId)) ==
                   QVariant(QStringLiteral("completed"));
        }));
        const QString blob = value(QStringLiteral("SELECT s.sha256 FROM jobs j JOIN "
                                                  "upload_sessions s ON s.id = j.session_id "
                                                  "WHERE j.id = %1")
                                       .arg(jobId))
                                 .toString();
        QCOMPARE(blob, QString::fromLatin1(
                           QCryptographicHash::hash(csv, QCryptographicHash::Sha256).toHex()));
        if (onPostgres()) {
            // PostgreSQL keeps uploads in the database by default (--blob-store database).
            QCOMPARE(value(QStringLiteral("SELECT size FROM blobs WHERE id = '%1'").arg(blob))
                         .toLongLong(),
                     csv.size());
        } else {
            QFile stored(blobDir + u'/' + blob.left(2) + u'/' + blob);
            QVERIFY(stored.open(QIODevice::ReadOnly));
            QCOMPARE(stored.readAll(), csv);
        }
        const QString rowsImported = onPostgres()
                                         ? QStringLiteral("result::jsonb ->> 'rowsImported'")
                                         : QStringLiteral("json_extract(result, '$.rowsImported')");
        QCOMPARE(
            value(QStringLiteral("SELECT %1 FROM jobs WHERE id = %2").arg(rowsImported).arg(jobId))
                .toLongLong(),
            3000);
        // The partial file lived in <blob-dir>/tus, and went once the upload was complete (on
        // PostgreSQL the partial was rows: nothing was written there).
        if (onPostgres()) {
            QVERIFY(!QDir(blobDir).exists());
        } else {
            QVERIFY(QDir(blobDir + QStringLiteral("/tus")).exists());
            QVERIFY(QDir(blobDir + QStringLiteral("/tus")).entryList(QDir::Files).isEmpty());
        }
        QVERIFY(!QDir(dataDir + QStringLiteral("/blobs")).exists());
        engine.terminate();
        QVERIFY(engine.waitForFinished(60'000));
        QCOMPARE(engine.exitCode(), 0);
    }

private:
    QString m_node;
};

QTEST_GUILESS_MAIN(tst_TusJsClient)
#include "tst_tusjsclient.moc"
