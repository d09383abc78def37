#include "httpclient.h"
#include "testsupport.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QProcess>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QTest>

using namespace Ferry;
using namespace Ferry::Test;

// Issue 12 item 5, as an operator runs it: `ferry --headless --max-upload-mb 1` refuses an upload
// over 1 MiB on every way in, the plain upload and tus alike (tus took 8 GiB whatever the option).
class tst_UploadLimits : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void maxUploadMbBindsTusToo()
    {
        QTemporaryDir dir;
        const QString dataDir = dir.filePath(QStringLiteral("data"));
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QStringLiteral("QT_QPA_PLATFORM"), QStringLiteral("offscreen"));
        env.insert(QStringLiteral("XDG_RUNTIME_DIR"), dir.path());
        env.insert(QStringLiteral("QT_LOGGING_RULES"), QStringLiteral("ferry.*.info=true"));
        QProcess add;
        add.setProcessEnvironment(env);
        add.start(QStringLiteral(FERRY_BINARY),
                  {QStringLiteral("--data-dir"), dataDir, QStringLiteral("user"),
                   QStringLiteral("add"), QStringLiteral("alice"), QStringLiteral("--json")});
        QVERIFY(add.waitForFinished(60'000) && add.exitCode() == 0);
        const QByteArray token = QJsonDocument::fromJson(add.readAllStandardOutput())
                                     .object()
                                     .value(u"token")
                                     .toString()
                                     .toUtf8();
        QVERIFY(!token.isEmpty());

        QProcess engine;
        engine.setProcessEnvironment(env);
        engine.setProcessChannelMode(QProcess::MergedChannels);
        engine.start(QStringLiteral(FERRY_BINARY),
                     {QStringLiteral("--headless"), QStringLiteral("--listen"),
                      QStringLiteral("127.0.0.1:0"), QStringLiteral("--data-dir"), dataDir,
                      QStringLiteral("--max-upload-mb"), QStringLiteral("1")});
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

        QNetworkAccessManager network;
        auto send = [&](const QByteArray &method, const QString &path, const HttpHeaders &headers,
                        QByteArray *maxSize = nullptr) {
            const HttpReply reply = sendHttp(network, method, QUrl(base + path), token, headers);
            if (maxSize)
                *maxSize = reply.header("Tus-Max-Size");
            return reply.status;
        };
        const QByteArray twoGiB = QByteArray::number(qint64(2) << 30);
        QByteArray maxSize;
        QCOMPARE(send("OPTIONS", QStringLiteral("/api/v1/tus"), {}, &maxSize), 204);
        QCOMPARE(maxSize, QByteArray::number(1 << 20));
        const QByteArray metadata = "dataset " + QByteArray("people").toBase64();
        QCOMPARE(send("POST", QStringLiteral("/api/v1/tus"),
                      {{"Tus-Resumable", "1.0.0"},
                       {"Upload-Length", twoGiB},
                       {"Upload-Metadata", metadata}}),
                 413);
        QCOMPARE(send("POST", QStringLiteral("/api/v1/tus"),
                      {{"Tus-Resumable", "1.0.0"},
                       {"Upload-Length", QByteArray::number(1 << 20)},
                       {"Upload-Metadata", metadata}}),
                 201);

        engine.terminate();
        QVERIFY(engine.waitForFinished(30'000));
    }
};

QTEST_MAIN(tst_UploadLimits)
#include "tst_uploadlimits.moc"
