// Header values a client controls (lengths past 2^63, trailers), requests the handler never
// answers, and the server layer's own answers reaching the Handler: every request is answered or
// timed out, whatever it says.
#include "httptestsupport.h"

using namespace Ferry;
using namespace Ferry::Http;
using namespace Ferry::Http::Test;

class tst_HttpHostile : public QObject
{
    Q_OBJECT

private:
    TestHandler m_handler;
    std::unique_ptr<HttpServer> m_server;
    quint16 m_port = 0;

    bool start(HttpLimits limits)
    {
        m_server = std::make_unique<HttpServer>(m_handler, limits);
        auto port = m_server->listen(QHostAddress::LocalHost, 0);
        m_port = port.ok() ? *port : 0;
        return port.ok();
    }

private Q_SLOTS:
    void init()
    {
        m_handler.onHeaders = {};
        m_handler.onHandle = {};
        m_handler.onConnectionKey = {};
        m_handler.handled = 0;
        m_handler.headersSeen = 0;
        QMutexLocker lock(&m_handler.serverAnswersMutex);
        m_handler.serverAnswers.clear();
    }
    void cleanup() { m_server.reset(); }

    void oddContentLengths_data()
    {
        QTest::addColumn<QByteArray>("length");
        QTest::addColumn<int>("status");
        QTest::addColumn<QString>("code");
        const QString tooLarge = QStringLiteral("body_too_large");
        const QString bad = QStringLiteral("bad_request");
        // Past qint64: the length turned negative, the request counted as bodiless, and the
        // connection waited for a body that never ends, with no timer.
        QTest::newRow("2^63") << QByteArray("9223372036854775808") << 413 << tooLarge;
        QTest::newRow("2^64-1") << QByteArray("18446744073709551615") << 413 << tooLarge;
        QTest::newRow("2^63-1") << QByteArray("9223372036854775807") << 413 << tooLarge;
        QTest::newRow("2^63 zero-padded")
            << QByteArray("0009223372036854775808") << 413 << tooLarge;
        QTest::newRow("limit+1") << QByteArray("8388609") << 413 << tooLarge;
        QTest::newRow("2^64") << QByteArray("18446744073709551616") << 400 << bad;
        QTest::newRow("negative") << QByteArray("-1") << 400 << bad;
        QTest::newRow("hex") << QByteArray("0x10") << 400 << bad;
        QTest::newRow("exponent") << QByteArray("1e3") << 400 << bad;
        QTest::newRow("two values") << QByteArray("5, 6") << 400 << bad;
    }
    void oddContentLengths()
    {
        QFETCH(QByteArray, length);
        QFETCH(int, status);
        QFETCH(QString, code);
        QVERIFY(start(fastLimits()));
        RawClient client(m_port);
        QVERIFY(client.waitConnected());
        client.send("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: " + length +
                    "\r\n\r\nsome body bytes");
        QVERIFY2(client.waitResponses(1, 10'000), "no answer: the connection is pinned");
        QCOMPARE(client.responses[0].status, status);
        QCOMPARE(client.responses[0].errorCode(), code);
        QVERIFY(client.responses[0].isFerryError());
        QCOMPARE(client.responses[0].header("connection"), QByteArray("close"));
        QVERIFY(client.waitClosed(10'000));
        QCOMPARE(m_handler.handled.load(), 0);
        QTRY_COMPARE_WITH_TIMEOUT(m_server->openConnections(), 0, 10'000);
        // The server's own answer reached the Handler (access log, metrics).
        const auto answers = m_handler.serverAnswersSoFar();
        QCOMPARE(answers.size(), 1);
        QCOMPARE(answers[0].first, status);
    }

    // A length past qint64 is refused before the Handler sees it (it could not represent it).
    void hugeLengthNeverReachesTheHandler()
    {
        QVERIFY(start(fastLimits()));
        m_handler.onHeaders = [](const Request &) {
            HeaderDecision decision;
            decision.maxBodyBytes = std::numeric_limits<qint64>::max(); // "no limit"
            return decision;
        };
        RawClient client(m_port);
        QVERIFY(client.waitConnected());
        client.send("PUT /x HTTP/1.1\r\nContent-Length: 9223372036854775808\r\n\r\n");
        QVERIFY(client.waitResponses(1, 10'000));
        QCOMPARE(client.responses[0].status, 413);
        QVERIFY(client.waitClosed(10'000));
        QCOMPARE(m_handler.headersSeen.load(), 0);
    }

    // A handler that keeps its Responder and never calls it: the client gets 503 after
    // responseTimeoutMs and the connection closes (it was pinned forever: the idle timer ignores
    // a connection with a request in flight).
    void unansweredRequestTimesOut()
    {
        HttpLimits limits = fastLimits();
        limits.responseTimeoutMs = 500;
        QVERIFY(start(limits));
        QList<Responder> held;
        QMutex heldMutex;
        m_handler.onHandle = [&](Request, std::unique_ptr<BodyConsumer>, Responder respond) {
            QMutexLocker lock(&heldMutex);
            held.append(std::move(respond));
        };
        RawClient client(m_port);
        QVERIFY(client.waitConnected());
        client.send("GET /forever HTTP/1.1\r\n\r\n");
        QVERIFY2(client.waitResponses(1, 15'000), "the unanswered request pinned the connection");
        QCOMPARE(client.responses[0].status, 503);
        QCOMPARE(client.responses[0].errorCode(), QStringLiteral("response_timeout"));
        QVERIFY(client.waitClosed(10'000));
        const auto answers = m_handler.serverAnswersSoFar();
        QCOMPARE(answers.size(), 1);
        QCOMPARE(answers[0], std::make_pair(503, QByteArray("/forever")));
        QTRY_COMPARE_WITH_TIMEOUT(m_server->openConnections(), 0, 10'000);
        // A late answer is dropped quietly.
        QMutexLocker lock(&heldMutex);
        held.front()(Response::json(200, {}));
    }

    // The timeout holds while the client keeps the connection busy with a slow next request
    // (which re-arms the header deadline).
    void unansweredRequestTimesOutBehindPipelining()
    {
        HttpLimits limits = fastLimits();
        limits.responseTimeoutMs = 800;
        limits.headerTimeoutMs = 30'000;
        QVERIFY(start(limits));
        QList<Responder> held;
        m_handler.onHandle = [&](Request, std::unique_ptr<BodyConsumer>, Responder respond) {
            held.append(std::move(respond));
        };
        RawClient client(m_port);
        QVERIFY(client.waitConnected());
        client.send("GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\nX-Slow: ");
        QVERIFY(client.waitResponses(1, 15'000));
        QCOMPARE(client.responses[0].status, 503);
        QVERIFY(client.waitClosed(10'000));
    }

    // Trailers arrive after the request was authenticated and routed on its headers: they are
    // dropped, never appended to the headers the handler reads.
    void trailersAreIgnored()
    {
        QVERIFY(start(fastLimits()));
        HeaderList seen;
        QByteArray body;
        m_handler.onHandle = [&](Request request, std::unique_ptr<BodyConsumer>,
                                 Responder respond) {
            seen = request.headers;
            body = request.body;
            respond(TestHandler::echo(request));
        };
        RawClient client(m_port);
        QVERIFY(client.waitConnected());
        client.send("POST /t HTTP/1.1\r\nTransfer-Encoding: chunked\r\nX-Real: 1\r\n\r\n"
                    "5\r\nhello\r\n0\r\nAuthorization: Bearer stolen\r\nX-Trailer: evil\r\n\r\n");
        QVERIFY(client.waitResponses(1, 10'000));
        QCOMPARE(client.responses[0].status, 200);
        QCOMPARE(body, QByteArray("hello"));
        bool real = false;
        for (const auto &[name, value] : seen) {
            QVERIFY2(name != "authorization" && name != "x-trailer", name.constData());
            real = real || name == "x-real";
        }
        QVERIFY(real);
        // The connection still works for the next request.
        client.send("GET /next HTTP/1.1\r\n\r\n");
        QVERIFY(client.waitResponses(2, 10'000));
        QCOMPARE(client.responses[1].status, 200);
    }

    // Trailers count against the header budget: an endless trailer section gets 431.
    void endlessTrailersAre431()
    {
        HttpLimits limits = fastLimits();
        limits.maxHeaderBytes = 1024;
        QVERIFY(start(limits));
        RawClient client(m_port);
        QVERIFY(client.waitConnected());
        QByteArray request =
            "POST /t HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n";
        for (int i = 0; i < 100; ++i)
            request += "X-Trailer-" + QByteArray::number(i) + ": " + QByteArray(40, 'v') + "\r\n";
        client.send(request);
        QVERIFY(client.waitResponses(1, 10'000));
        QCOMPARE(client.responses[0].status, 431);
        QVERIFY(client.waitClosed(10'000));
    }

    // What the layer answers itself reaches Handler::answeredByServer (the API's access log and
    // /metrics): malformed, headers too large, slow headers, over a cap.
    void serverAnswersReachTheHandler()
    {
        HttpLimits limits = fastLimits();
        limits.maxHeaderBytes = 256;
        limits.maxConnectionsPerIp = 1;
        QVERIFY(start(limits));
        {
            RawClient bad(m_port);
            QVERIFY(bad.waitConnected());
            bad.send("NOT HTTP AT ALL\r\n\r\n");
            QVERIFY(bad.waitClosed(10'000));
        }
        QTRY_COMPARE_WITH_TIMEOUT(m_server->openConnections(), 0, 10'000);
        {
            RawClient large(m_port);
            QVERIFY(large.waitConnected());
            large.send("GET /" + QByteArray(1000, 'a') + " HTTP/1.1\r\n\r\n");
            QVERIFY(large.waitClosed(10'000));
        }
        QTRY_COMPARE_WITH_TIMEOUT(m_server->openConnections(), 0, 10'000);
        {
            RawClient slow(m_port);
            QVERIFY(slow.waitConnected());
            slow.send("GET /slow HTTP/1.1\r\n");
            QTRY_COMPARE_WITH_TIMEOUT(m_server->openConnections(), 1, 10'000);
            RawClient refused(m_port);
            QVERIFY(refused.waitConnected());
            QVERIFY(refused.waitClosed(10'000));
            QVERIFY(slow.waitClosed(10'000));
        }
        QList<int> statuses;
        for (const auto &answer : m_handler.serverAnswersSoFar())
            statuses.append(answer.first);
        std::sort(statuses.begin(), statuses.end());
        QCOMPARE(statuses, (QList<int>{400, 408, 431, 503}));
    }

    // The per-client connection cap counts what Handler::connectionKey() says; an empty key (a
    // trusted proxy) is capped only overall.
    void connectionKeyDecidesThePerClientCap()
    {
        HttpLimits limits = fastLimits();
        limits.idleTimeoutMs = limits.headerTimeoutMs = 30'000;
        limits.maxConnectionsPerIp = 2;
        limits.maxConnections = 5;
        m_handler.onConnectionKey = [](const QHostAddress &) { return QByteArray(); };
        QVERIFY(start(limits));
        std::vector<std::unique_ptr<RawClient>> clients;
        for (int i = 0; i < 5; ++i) {
            clients.push_back(std::make_unique<RawClient>(m_port));
            QVERIFY(clients.back()->waitConnected());
        }
        QTRY_COMPARE_WITH_TIMEOUT(m_server->openConnections(), 5, 10'000);
        clients.back()->send("GET /fifth HTTP/1.1\r\n\r\n");
        QVERIFY(clients.back()->waitResponses(1, 10'000));
        QCOMPARE(clients.back()->responses[0].status, 200);
        RawClient sixth(m_port); // the overall cap still holds
        QVERIFY(sixth.waitConnected());
        QVERIFY(sixth.waitClosed(10'000));
        QCOMPARE(sixth.responses.size(), 1);
        QCOMPARE(sixth.responses[0].status, 503);
    }
};

QTEST_GUILESS_MAIN(tst_HttpHostile)
#include "tst_httphostile.moc"
