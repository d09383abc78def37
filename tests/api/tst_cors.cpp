// CORS through the real API: off by default; an allowed origin gets its headers and a preflight
// answered without a token and without using the rate limit; any other origin gets none.
#include "api/corspolicy.h"
#include "apitestsupport.h"
#include "config/originlist.h"

using namespace Ferry;
using namespace Ferry::Test;

class tst_Cors : public QObject
{
    Q_OBJECT

    static std::unique_ptr<ApiFixture> withCors(const QString &origins, qint64 limit = 1000)
    {
        auto api = std::make_unique<ApiFixture>(limit);
        api->server.reset(); // the policy is set before serving
        api->handler->setCorsPolicy(CorsPolicy(parseOriginList(origins).value()));
        api->server = std::make_unique<Http::HttpServer>(*api->handler);
        api->port = *api->server->listen(QHostAddress::LocalHost, 0);
        return api;
    }

    static QList<std::pair<QByteArray, QByteArray>> from(const QByteArray &origin)
    {
        return {{"Origin", origin}};
    }

private Q_SLOTS:
    void originList_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<bool>("valid");
        QTest::addColumn<QByteArrayList>("origins");
        QTest::newRow("empty") << QString() << true << QByteArrayList{};
        QTest::newRow("two, spaced, mixed case")
            << QStringLiteral(" https://App.Example.com , http://localhost:5173") << true
            << QByteArrayList{"https://app.example.com", "http://localhost:5173"};
        QTest::newRow("default port dropped") << QStringLiteral("https://a.example:443") << true
                                              << QByteArrayList{"https://a.example"};
        QTest::newRow("ipv6") << QStringLiteral("http://[::1]:8080") << true
                              << QByteArrayList{"http://[::1]:8080"};
        QTest::newRow("path") << QStringLiteral("https://a.example/") << false << QByteArrayList{};
        QTest::newRow("wildcard") << QStringLiteral("*") << false << QByteArrayList{};
        QTest::newRow("no scheme") << QStringLiteral("a.example") << false << QByteArrayList{};
        QTest::newRow("ftp") << QStringLiteral("ftp://a.example") << false << QByteArrayList{};
    }
    void originList()
    {
        QFETCH(QString, text);
        QFETCH(bool, valid);
        QFETCH(QByteArrayList, origins);
        const auto parsed = parseOriginList(text);
        QCOMPARE(parsed.ok(), valid);
        if (valid)
            QCOMPARE(*parsed, origins);
    }

    void offByDefault()
    {
        ApiFixture api;
        const Reply reply =
            api.call("GET", QStringLiteral("/api/v1/health"), {}, from("https://app.example.com"));
        QCOMPARE(reply.status, 200);
        QVERIFY(!reply.headers.contains("access-control-allow-origin"));
        QVERIFY(!reply.headers.contains("vary"));
        const Reply preflight = api.call("OPTIONS", QStringLiteral("/api/v1/jobs/1"), {},
                                         from("https://app.example.com"));
        QCOMPARE(preflight.status, 405);
    }

    void allowedOriginGetsHeaders_data()
    {
        QTest::addColumn<QByteArray>("token");
        QTest::addColumn<int>("status");
        QTest::newRow("answer") << QByteArray("alice") << 404;
        QTest::newRow("refusal (401)") << QByteArray() << 401;
    }
    void allowedOriginGetsHeaders()
    {
        QFETCH(QByteArray, token);
        QFETCH(int, status);
        auto api = withCors(QStringLiteral("https://app.example.com,http://localhost:5173"));
        const Reply reply = api->call("GET", QStringLiteral("/api/v1/jobs/999"),
                                      token.isEmpty() ? QByteArray() : api->aliceToken,
                                      from("http://localhost:5173"));
        QCOMPARE(reply.status, status);
        QCOMPARE(reply.headers.value("access-control-allow-origin"),
                 QByteArray("http://localhost:5173"));
        QCOMPARE(reply.headers.value("vary"), QByteArray("Origin"));
        const QByteArray exposed = reply.headers.value("access-control-expose-headers");
        for (const char *name : {"RateLimit", "RateLimit-Policy", "Retry-After", "Location",
                                 "Ferry-Job-Id", "Tus-Resumable", "Upload-Offset"})
            QVERIFY2(exposed.contains(name), name);
    }

    void otherOriginGetsNone()
    {
        auto api = withCors(QStringLiteral("https://app.example.com"));
        const Reply reply = api->call("GET", QStringLiteral("/api/v1/jobs/999"), api->aliceToken,
                                      from("https://evil.example.com"));
        QCOMPARE(reply.status, 404);
        QVERIFY(!reply.headers.contains("access-control-allow-origin"));
        QVERIFY(!reply.headers.contains("access-control-expose-headers"));
        const Reply preflight = api->call("OPTIONS", QStringLiteral("/api/v1/jobs/1"), {},
                                          from("https://evil.example.com"));
        QVERIFY(preflight.status != 204);
        QVERIFY(!preflight.headers.contains("access-control-allow-methods"));
    }

    void preflightNeedsNoTokenAndNoQuota()
    {
        auto api = withCors(QStringLiteral("https://app.example.com"), 2);
        for (int i = 0; i < 5; ++i) { // more preflights than the limit allows requests
            const Reply preflight =
                api->call("OPTIONS", QStringLiteral("/api/v1/jobs/1"), {},
                          {{"Origin", "https://app.example.com"},
                           {"Access-Control-Request-Method", "GET"},
                           {"Access-Control-Request-Headers", "authorization"}});
            QCOMPARE(preflight.status, 204);
            QCOMPARE(preflight.headers.value("access-control-allow-origin"),
                     QByteArray("https://app.example.com"));
            QVERIFY(preflight.headers.value("access-control-allow-methods").contains("GET"));
            const QByteArray allowed = preflight.headers.value("access-control-allow-headers");
            for (const char *name :
                 {"Authorization", "Content-Type", "Idempotency-Key", "Tus-Resumable",
                  "Upload-Length", "Upload-Offset", "Upload-Metadata", "Content-Encoding"})
                QVERIFY2(allowed.contains(name), name);
            QCOMPARE(preflight.headers.value("access-control-max-age"),
                     QByteArray::number(CorsPolicy::MaxAgeSeconds));
            QVERIFY(!preflight.headers.contains("ratelimit"));
        }
        // The quota is untouched: both real requests still pass.
        for (int i = 0; i < 2; ++i) {
            const Reply reply = api->call("GET", QStringLiteral("/api/v1/jobs/999"),
                                          api->aliceToken, from("https://app.example.com"));
            QCOMPARE(reply.status, 404);
        }
    }
};

QTEST_GUILESS_MAIN(tst_Cors)
#include "tst_cors.moc"
