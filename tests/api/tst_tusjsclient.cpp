// The stock tus-js-client (npm, pinned in tests/api/tus-js-client/package.json) uploads to a real
// Ferry API server from Node; the test checks the job it created and the content it stored.
#include "tusfixture.h"

#include <QProcess>
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

    void stockClientUploadsInPiecesAndTheImportRuns()
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

private:
    QString m_node;
};

QTEST_GUILESS_MAIN(tst_TusJsClient)
#include "tst_tusjsclient.moc"
