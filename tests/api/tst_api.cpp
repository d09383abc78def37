// The API over real HTTP on loopback: routes, authentication, isolation, rate limits, metrics.
#include "apitestsupport.h"

#include <QTest>

using namespace Ferry;
using namespace Ferry::Test;

class tst_Api : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void routes_data()
    {
        QTest::addColumn<QByteArray>("method");
        QTest::addColumn<QString>("path");
        QTest::addColumn<bool>("withToken");
        QTest::addColumn<int>("status");
        QTest::addColumn<QString>("code");
        QTest::newRow("health") << QByteArray("GET") << "/api/v1/health" << false << 200 << "";
        QTest::newRow("health head")
            << QByteArray("HEAD") << "/api/v1/health" << false << 200 << "";
        QTest::newRow("unknown api route")
            << QByteArray("GET") << "/api/v1/nothing" << true << 404 << "not_found";
        QTest::newRow("outside api")
            << QByteArray("GET") << "/index.html" << false << 404 << "not_found";
        QTest::newRow("wrong method")
            << QByteArray("DELETE") << "/api/v1/health" << false << 405 << "method_not_allowed";
        QTest::newRow("job without token")
            << QByteArray("GET") << "/api/v1/jobs/1" << false << 401 << "unauthorized";
        QTest::newRow("job not a number")
            << QByteArray("GET") << "/api/v1/jobs/abc" << true << 404 << "not_found";
        QTest::newRow("job missing")
            << QByteArray("GET") << "/api/v1/jobs/999" << true << 404 << "not_found";
    }
    void routes()
    {
        QFETCH(QByteArray, method);
        QFETCH(QString, path);
        QFETCH(bool, withToken);
        QFETCH(int, status);
        QFETCH(QString, code);
        ApiFixture api;
        const Reply reply = api.call(method, path, withToken ? api.aliceToken : QByteArray());
        QCOMPARE(reply.status, status);
        if (method == "HEAD") {
            QVERIFY(reply.body.isEmpty());
            return;
        }
        QCOMPARE(reply.headers.value("content-type").left(16), QByteArray("application/json"));
        QCOMPARE(reply.json.value(u"success").toBool(), status < 400);
        if (!code.isEmpty()) {
            QCOMPARE(reply.json.value(u"code").toString(), code);
            QVERIFY(!reply.json.value(u"error").toString().isEmpty());
            QVERIFY(!reply.json.value(u"message").toString().isEmpty());
        }
        if (status == 405)
            QCOMPARE(reply.headers.value("allow"), QByteArray("GET, HEAD"));
        if (status == 401)
            QCOMPARE(reply.headers.value("www-authenticate"), QByteArray("Bearer"));
    }

    void healthSaysOk()
    {
        ApiFixture api;
        const Reply reply = api.call("GET", QStringLiteral("/api/v1/health"));
        QCOMPARE(reply.json.value(u"status").toString(), QStringLiteral("ok"));
        QCOMPARE(reply.json.value(u"version").toString(), QStringLiteral("test"));
        QVERIFY(!reply.headers.contains("ratelimit")); // exempt
    }

    void authenticationAndIsolation()
    {
        ApiFixture api;
        NewJob job;
        job.userId = api.alice.id;
        job.type = QStringLiteral("noop");
        const qint64 id = api.queue->enqueue(job)->id;
        const QString path = QStringLiteral("/api/v1/jobs/%1").arg(id);
        const Reply mine = api.call("GET", path, api.aliceToken);
        QCOMPARE(mine.status, 200);
        QCOMPARE(mine.json.value(u"job").toObject().value(u"id").toString(), QString::number(id));
        QCOMPARE(mine.json.value(u"job").toObject().value(u"status").toString(),
                 QStringLiteral("pending"));
        // Another user's job does not exist for them: 404, not 403.
        const Reply theirs = api.call("GET", path, api.bobToken);
        QCOMPARE(theirs.status, 404);
        QCOMPARE(api.call("GET", path, "fy_not-a-token").status, 401);
        // A disabled user's token: 403 (once its cached authentication expires, within 5 s).
        QVERIFY(api.t.store->setUserDisabled(api.bob.id, true).ok());
        ApiFixture fresh; // a new handler, no cache
        QVERIFY(fresh.t.store->setUserDisabled(fresh.bob.id, true).ok());
        const Reply disabled = fresh.call("GET", path, fresh.bobToken);
        QCOMPARE(disabled.status, 403);
        QCOMPARE(disabled.json.value(u"code").toString(), QStringLiteral("user_disabled"));
        QCOMPARE(api.call("GET", path, {}, {{"Authorization", "Basic YWxpY2U6eA=="}}).status, 401);
    }

    // 50 pass and the 51st is refused with the exact body and headers; the client recovers as
    // the window slides. Here: 5 per minute, so one more every 12 s.
    void rateLimitBoundaryAndRecovery()
    {
        ApiFixture api(5);
        const QString path = QStringLiteral("/api/v1/jobs/1");
        for (int i = 0; i < 5; ++i) {
            const Reply reply = api.call("GET", path, api.aliceToken);
            QCOMPARE(reply.status, 404);
            QCOMPARE(reply.headers.value("ratelimit-policy"), QByteArray("\"default\";q=5;w=60"));
            const QByteArray expected = "\"default\";r=" + QByteArray::number(4 - i) + ";t=";
            QVERIFY2(reply.headers.value("ratelimit").startsWith(expected),
                     reply.headers.value("ratelimit").constData());
        }
        const Reply refused = api.call("GET", path, api.aliceToken);
        QCOMPARE(refused.status, 429);
        QCOMPARE(refused.json.value(u"success"), QJsonValue(false));
        QCOMPARE(refused.json.value(u"error").toString(), QStringLiteral("Too many requests"));
        QCOMPARE(refused.json.value(u"message").toString(),
                 QStringLiteral("Rate limit exceeded. Please try again later."));
        QCOMPARE(refused.headers.value("retry-after"), QByteArray("12"));
        QVERIFY(refused.headers.value("ratelimit").startsWith("\"default\";r=0;"));
        // Unknown routes, wrong tokens and forged X-Forwarded-For count against the same address.
        QCOMPARE(api.call("GET", QStringLiteral("/api/v1/other")).status, 429);
        QCOMPARE(api.call("GET", path, api.aliceToken, {{"X-Forwarded-For", "203.0.113.9"}}).status,
                 429);
        // Health is exempt.
        QCOMPARE(api.call("GET", QStringLiteral("/api/v1/health")).status, 200);
        api.t.clock.advance(12'000);
        QCOMPARE(api.call("GET", path, api.aliceToken).status, 404);
        QCOMPARE(api.call("GET", path, api.aliceToken).status, 429);
    }

    void quotaShowsTheCallersMonth()
    {
        ApiFixture api;
        api.t.clock.set(QDateTime(QDate(2026, 11, 29), QTime(12, 0), Qt::UTC).toMSecsSinceEpoch());
        QVERIFY(api.quotas->setLimits(api.alice.id, 10, -1).ok());
        auto held = api.quotas->reserve(api.alice.id, 1234);
        QVERIFY(held->granted);
        QVERIFY(api.quotas->settle(held->reservation, 1234)->granted);
        const Reply mine = api.call("GET", QStringLiteral("/api/v1/quota"), api.aliceToken);
        QCOMPARE(mine.status, 200);
        const QJsonObject quota = mine.json.value(u"quota").toObject();
        QCOMPARE(quota.value(u"period").toString(), QStringLiteral("2026-11"));
        QCOMPARE(quota.value(u"resetsAt").toInteger(),
                 QDateTime(QDate(2026, 12, 1), QTime(0, 0), Qt::UTC).toMSecsSinceEpoch());
        QCOMPARE(quota.value(u"uploads").toObject().value(u"used").toInteger(), 1);
        QCOMPARE(quota.value(u"uploads").toObject().value(u"limit").toInteger(), 10);
        QCOMPARE(quota.value(u"bytes").toObject().value(u"used").toInteger(), 1234);
        QVERIFY(quota.value(u"bytes").toObject().value(u"limit").isNull()); // unlimited
        // Bob sees his own month, untouched by Alice's upload.
        const Reply his = api.call("GET", QStringLiteral("/api/v1/quota"), api.bobToken);
        QCOMPARE(his.json.value(u"quota")
                     .toObject()
                     .value(u"uploads")
                     .toObject()
                     .value(u"used")
                     .toInteger(),
                 0);
        QCOMPARE(api.call("GET", QStringLiteral("/api/v1/quota")).status, 401);
    }

    void metricsCountRequests()
    {
        ApiFixture api;
        QCOMPARE(api.call("GET", QStringLiteral("/api/v1/health")).status, 200);
        QCOMPARE(api.call("GET", QStringLiteral("/api/v1/jobs/1")).status, 401);
        const Reply metrics = api.call("GET", QStringLiteral("/metrics"));
        QCOMPARE(metrics.status, 200);
        QVERIFY(metrics.headers.value("content-type").startsWith("text/plain; version=0.0.4"));
        QVERIFY(metrics.body.contains(
            "ferry_http_requests_total{route=\"/api/v1/health\",status=\"200\"} 1"));
        QVERIFY(metrics.body.contains(
            "ferry_http_requests_total{route=\"/api/v1/jobs/{id}\",status=\"401\"} 1"));
        QVERIFY(metrics.body.contains("ferry_http_request_duration_seconds_count"));
        QVERIFY(metrics.body.contains("ferry_jobs{state=\"pending\"} 0"));
        QVERIFY(metrics.body.contains("process_resident_memory_bytes"));
    }
};

QTEST_GUILESS_MAIN(tst_Api)
#include "tst_api.moc"
