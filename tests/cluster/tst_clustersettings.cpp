// A setting saved in one node's console reaches every node of the cluster without a restart:
// a real `ferry --headless` node on the test PostgreSQL, and a second node's SettingsService (what
// its console's Settings page calls) on the same database. The node answers with the new rate
// limit policy (RateLimit-Policy header, and the limit itself) once the other saved it, and with
// the configured one again once the other reverted it.
#include "config/settingsservice.h"
#include "httpclient.h"
#include "pgtestsupport.h"
#include "ratelimit/sharedratelimit.h"
#include "store/postgresstore.h"
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

namespace {
constexpr int TimeoutMs = 60'000;
}

class tst_ClusterSettings : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void rateLimitSavedOnOneNodeAppliesOnAnother();

private:
    QProcessEnvironment environment(const QTemporaryDir &dir) const
    {
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QStringLiteral("QT_QPA_PLATFORM"), QStringLiteral("offscreen"));
        env.insert(QStringLiteral("XDG_RUNTIME_DIR"), dir.path());
        env.insert(QStringLiteral("QT_LOGGING_RULES"), QStringLiteral("ferry.*.info=true"));
        return env;
    }
};

void tst_ClusterSettings::rateLimitSavedOnOneNodeAppliesOnAnother()
{
    if (postgresTestUrl().isEmpty())
        QSKIP("no PostgreSQL test server (run through ctest, or set FERRY_TEST_PG_URL)");
    QString error;
    const QString url = createPostgresTestDatabase(QStringLiteral("clustersettings"), &error);
    QVERIFY2(!url.isEmpty(), qPrintable(error));
    QTemporaryDir dir;
    QVERIFY(dir.isValid());

    QProcess add;
    add.setProcessEnvironment(environment(dir));
    add.start(QStringLiteral(FERRY_BINARY),
              {QStringLiteral("--db"), url, QStringLiteral("--data-dir"),
               dir.filePath(QStringLiteral("cli")), QStringLiteral("user"), QStringLiteral("add"),
               QStringLiteral("alice"), QStringLiteral("--json")});
    QVERIFY(add.waitForFinished(TimeoutMs));
    const QByteArray output = add.readAllStandardOutput();
    QVERIFY2(add.exitCode() == 0, QByteArray(output + add.readAllStandardError()).constData());
    const QByteArray token =
        QJsonDocument::fromJson(output).object().value(u"token").toString().toUtf8();
    QVERIFY(!token.isEmpty());

    QProcess node;
    node.setProcessEnvironment(environment(dir));
    node.setProcessChannelMode(QProcess::MergedChannels);
    node.start(QStringLiteral(FERRY_BINARY),
               {QStringLiteral("--headless"), QStringLiteral("--db"), url,
                QStringLiteral("--data-dir"), dir.filePath(QStringLiteral("node")),
                QStringLiteral("--listen"), QStringLiteral("127.0.0.1:0"),
                QStringLiteral("--rate-limit"), QStringLiteral("50")});
    QByteArray log;
    static const QRegularExpression endpoint(
        QStringLiteral("HTTP endpoint on (http://127\\.0\\.0\\.1:\\d+)/api/v1/"));
    QString base;
    QVERIFY(waitFor(
        [&] {
            log += node.readAll();
            base = endpoint.match(QString::fromUtf8(log)).captured(1);
            return !base.isEmpty() || node.state() == QProcess::NotRunning;
        },
        TimeoutMs));
    QVERIFY2(!base.isEmpty(), log.constData());
    // The node listens for notifications once it is up (the listener starts with the cluster).
    QVERIFY(waitFor([&] {
        log += node.readAll();
        return log.contains("engine started");
    }));

    QNetworkAccessManager network;
    auto policy = [&] {
        const HttpReply reply =
            sendHttp(network, "GET", QUrl(base + QStringLiteral("/api/v1/quota")), token);
        return reply.status == 200 ? reply.header("RateLimit-Policy") : QByteArray();
    };
    QCOMPARE(policy(), QByteArray("\"default\";q=50;w=900"));

    // The other node's console saves a rate limit of 3 per 10 minutes.
    auto config = DatabaseConfig::fromUrl(url);
    QVERIFY(config.ok());
    auto opened = PostgresStore::open(*config);
    QVERIFY2(opened.ok(), qPrintable(opened ? QString() : opened.error().toString()));
    std::unique_ptr<PostgresStore> other = std::move(*opened);
    SettingsService console(*other, FerryConfig{});
    QVERIFY(console.load().ok());
    QVERIFY(console
                .save({{QStringLiteral("rate_limit"), QStringLiteral("3")},
                       {QStringLiteral("rate_window_seconds"), QStringLiteral("600")}})
                .ok());

    QByteArray now;
    QVERIFY2(waitFor([&] { return (now = policy()) == "\"default\";q=3;w=600"; }, TimeoutMs),
             now.constData());
    // The limit itself, not only the header: the new policy started everyone over and the request
    // that saw it took one of the 3, so of 5 more 2 pass, plus at most the node's credit (the
    // requests it lets through before PostgreSQL has answered a refill, SharedRateLimit: one
    // for a limit of 3, used when the node is slow, e.g. under AddressSanitizer). The old
    // limit of 50 would let all 5 through.
    const qint64 credit = SharedShareSizes::forLimit(3).credit;
    int allowed = 0;
    int refused = 0;
    for (int i = 0; i < 5; ++i) {
        const int status =
            sendHttp(network, "GET", QUrl(base + QStringLiteral("/api/v1/quota")), token).status;
        if (status == 200)
            ++allowed;
        else if (status == 429)
            ++refused;
    }
    QVERIFY2(allowed <= 2 + credit && refused >= 3 - credit,
             qPrintable(QStringLiteral("%1 allowed, %2 refused").arg(allowed).arg(refused)));

    // Reverted on the other node: the configured limit (its command line's 50) is back.
    QVERIFY(
        console.revert({QStringLiteral("rate_limit"), QStringLiteral("rate_window_seconds")}).ok());
    QVERIFY2(waitFor([&] { return (now = policy()) == "\"default\";q=50;w=900"; }, TimeoutMs),
             now.constData());
    log += node.readAll();
    QVERIFY2(log.contains("settings saved on another node applied"), log.constData());

    node.terminate();
    QVERIFY(node.waitForFinished(TimeoutMs));
}

QTEST_GUILESS_MAIN(tst_ClusterSettings)
#include "tst_clustersettings.moc"
