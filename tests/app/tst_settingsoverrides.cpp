#include "config/settingsservice.h"
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

// A setting saved from the console (an override in the store) is what a real `ferry --headless`
// uses at its next start, over what its command line says.
class tst_SettingsOverrides : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void savedRateLimitBeatsTheCommandLine()
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
        {
            // What the Settings page's save() writes.
            auto store = openStore(dataDir + QStringLiteral("/ferry.db"));
            SettingsService settings(*store, FerryConfig{});
            QVERIFY(settings.load().ok());
            QVERIFY(settings.save({{QStringLiteral("rate_limit"), QStringLiteral("2")}}).ok());
        }

        QProcess engine;
        engine.setProcessEnvironment(env);
        engine.setProcessChannelMode(QProcess::MergedChannels);
        engine.start(QStringLiteral(FERRY_BINARY),
                     {QStringLiteral("--headless"), QStringLiteral("--listen"),
                      QStringLiteral("127.0.0.1:0"), QStringLiteral("--data-dir"), dataDir,
                      QStringLiteral("--rate-limit"), QStringLiteral("50")});
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
        auto get = [&](QByteArray *policy) {
            const HttpReply reply =
                sendHttp(network, "GET", QUrl(base + QStringLiteral("/api/v1/quota")), token);
            if (policy)
                *policy = reply.header("RateLimit-Policy");
            return reply.status;
        };
        QByteArray policy;
        QCOMPARE(get(&policy), 200);
        QCOMPARE(policy, QByteArray("\"default\";q=2;w=900"));
        QCOMPARE(get(nullptr), 200);
        QCOMPARE(get(nullptr), 429);

        engine.terminate();
        QVERIFY(engine.waitForFinished(30'000));
    }
};

QTEST_MAIN(tst_SettingsOverrides)
#include "tst_settingsoverrides.moc"
