// The server layer's limits as the API's clients meet them: through the real ApiHandler and
// HttpServer, every refusal comes back as Ferry's JSON error, and the refusals that the headers
// decide (413 from Content-Length, 401 on Expect: 100-continue) come before any body byte.
#include "apitestsupport.h"
#include "http/httptestsupport.h"

using namespace Ferry;
using namespace Ferry::Test;
using Ferry::Http::Test::RawClient;

class tst_ApiLimits : public QObject
{
    Q_OBJECT

    std::unique_ptr<ApiFixture> m_api;

    // The fixture's API behind a server with these limits, plus a body-taking route.
    quint16 serve(const Http::HttpLimits &limits)
    {
        m_api = std::make_unique<ApiFixture>();
        m_api->server.reset();
        ApiRoute echo;
        echo.method = "POST";
        echo.path = "/api/v1/test/echo";
        echo.handle = [](const ApiCall &call) {
            call.respond(Api::json(200, {{QStringLiteral("bytes"), call.request().body.size()}}));
        };
        m_api->handler->addRoute(echo);
        m_api->server = std::make_unique<Http::HttpServer>(*m_api->handler, limits);
        m_api->port = *m_api->server->listen(QHostAddress::LocalHost, 0);
        return m_api->port;
    }

    static void
    verifyFerryError(const Http::Test::ParsedResponse &response, int status, const QString &code)
    {
        QCOMPARE(response.status, status);
        QVERIFY(response.header("content-type").startsWith("application/json"));
        QVERIFY2(response.isFerryError(), response.body.constData());
        QCOMPARE(response.errorCode(), code);
    }

    QByteArray get(const QByteArray &extraHeaders = {}) const
    {
        return "GET /api/v1/health HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
               m_api->aliceToken + "\r\n" + extraHeaders + "\r\n";
    }

private Q_SLOTS:
    void cleanup() { m_api.reset(); }

    void oversizedHeaders_data()
    {
        QTest::addColumn<int>("headerBytes");
        QTest::addColumn<int>("headerCount");
        QTest::addColumn<QString>("code");
        QTest::newRow("one huge header") << 8000 << 1 << QStringLiteral("headers_too_large");
        QTest::newRow("too many headers") << 10 << 40 << QStringLiteral("too_many_headers");
    }
    void oversizedHeaders()
    {
        QFETCH(int, headerBytes);
        QFETCH(int, headerCount);
        QFETCH(QString, code);
        Http::HttpLimits limits;
        limits.maxHeaderBytes = 4096;
        limits.maxHeaderCount = 20;
        RawClient client(serve(limits));
        QVERIFY(client.waitConnected());
        QByteArray extra;
        for (int i = 0; i < headerCount; ++i)
            extra +=
                "X-Filler-" + QByteArray::number(i) + ": " + QByteArray(headerBytes, 'a') + "\r\n";
        client.send(get(extra));
        QVERIFY(client.waitResponses(1));
        verifyFerryError(client.responses[0], 431, code);
        QVERIFY(client.waitClosed());
    }

    void bodyOverLimitRefusedFromContentLength()
    {
        Http::HttpLimits limits;
        limits.maxBodyBytes = 1000;
        limits.bodyStallTimeoutMs = 30'000; // the answer must not come from a timeout
        RawClient client(serve(limits));
        QVERIFY(client.waitConnected());
        // Headers only: the body is never sent, so only the announced length can decide.
        client.send("POST /api/v1/test/echo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                    m_api->aliceToken + "\r\nContent-Length: 5000000\r\n\r\n");
        QVERIFY(client.waitResponses(1));
        verifyFerryError(client.responses[0], 413, QStringLiteral("body_too_large"));
        QVERIFY(client.waitClosed());
    }

    void bodyWithinLimitPasses()
    {
        Http::HttpLimits limits;
        limits.maxBodyBytes = 1000;
        RawClient client(serve(limits));
        QVERIFY(client.waitConnected());
        client.send("POST /api/v1/test/echo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                    m_api->aliceToken + "\r\nContent-Length: 10\r\n\r\n0123456789");
        QVERIFY(client.waitResponses(1));
        QCOMPARE(client.responses[0].status, 200);
        QCOMPARE(client.responses[0].json().value(u"bytes").toInt(), 10);
    }

    void expectContinue_data()
    {
        QTest::addColumn<bool>("withToken");
        QTest::addColumn<int>("status");
        QTest::newRow("no token: 401, no 100") << false << 401;
        QTest::newRow("token: 100 then 200") << true << 200;
    }
    void expectContinue()
    {
        QFETCH(bool, withToken);
        QFETCH(int, status);
        Http::HttpLimits limits;
        limits.bodyStallTimeoutMs = 30'000;
        RawClient client(serve(limits));
        QVERIFY(client.waitConnected());
        client.send(
            "POST /api/v1/test/echo HTTP/1.1\r\nHost: x\r\n" +
            (withToken ? "Authorization: Bearer " + m_api->aliceToken + "\r\n" : QByteArray()) +
            "Content-Length: 4\r\nExpect: 100-continue\r\n\r\n");
        if (!withToken) {
            QVERIFY(client.waitResponses(1));
            verifyFerryError(client.responses[0], 401, QStringLiteral("unauthorized"));
            QCOMPARE(client.responses[0].header("www-authenticate"), QByteArray("Bearer"));
            return;
        }
        QVERIFY(client.waitResponses(1));
        QCOMPARE(client.responses[0].status, 100); // now the client may send its body
        client.send("abcd");
        QVERIFY(client.waitResponses(2));
        QCOMPARE(client.responses[1].status, status);
        QCOMPARE(client.responses[1].json().value(u"bytes").toInt(), 4);
    }

    void slowHeadersGet408()
    {
        Http::HttpLimits limits;
        limits.headerTimeoutMs = 300;
        RawClient client(serve(limits));
        QVERIFY(client.waitConnected());
        client.send("GET /api/v1/jobs/1 HTTP/1.1\r\nHost: x\r\n"); // and never the rest
        QVERIFY(client.waitResponses(1));
        verifyFerryError(client.responses[0], 408, QStringLiteral("request_timeout"));
        QVERIFY(client.waitClosed());
    }

    void idleKeepAliveCloses()
    {
        Http::HttpLimits limits;
        limits.idleTimeoutMs = 300;
        RawClient client(serve(limits));
        QVERIFY(client.waitConnected());
        client.send(get());
        QVERIFY(client.waitResponses(1));
        QCOMPARE(client.responses[0].status, 200);
        QVERIFY(client.waitClosed()); // nothing more sent: the server closes, without an answer
        QCOMPARE(client.responses.size(), 1);
    }

    void connectionCaps_data()
    {
        QTest::addColumn<int>("overall");
        QTest::addColumn<int>("perIp");
        QTest::newRow("per client address") << 100 << 2;
        QTest::newRow("overall") << 2 << 100;
    }
    void connectionCaps()
    {
        QFETCH(int, overall);
        QFETCH(int, perIp);
        Http::HttpLimits limits;
        limits.maxConnections = overall;
        limits.maxConnectionsPerIp = perIp;
        const quint16 port = serve(limits);
        RawClient first(port);
        RawClient second(port);
        QVERIFY(first.waitConnected());
        QVERIFY(second.waitConnected());
        QTRY_COMPARE(m_api->server->openConnections(), 2);
        RawClient third(port);
        QVERIFY(third.waitConnected());
        QVERIFY(third.waitResponses(1)); // answered without being asked
        verifyFerryError(third.responses[0], 503, QStringLiteral("too_many_connections"));
        QVERIFY(third.waitClosed());
        first.send(get()); // the admitted ones still work
        QVERIFY(first.waitResponses(1));
        QCOMPARE(first.responses[0].status, 200);
    }

    void malformedRequestIs400Json()
    {
        RawClient client(serve({}));
        QVERIFY(client.waitConnected());
        client.send("GET /api/v1/jobs/1 HTTP/1.1\r\nHost x\r\n\r\n");
        QVERIFY(client.waitResponses(1));
        verifyFerryError(client.responses[0], 400, QStringLiteral("bad_request"));
    }
};

QTEST_GUILESS_MAIN(tst_ApiLimits)
#include "tst_apilimits.moc"
