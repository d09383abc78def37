#include "httptestsupport.h"

#include <QDateTime>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QRegularExpression>
#include <QSet>
#include <QThread>

using namespace Ferry;
using namespace Ferry::Http;
using namespace Ferry::Http::Test;

// The protocol side of the server layer: keep-alive, pipelining, Connection handling, HEAD,
// malformed input, streaming responses.
class tst_HttpServer : public QObject
{
    Q_OBJECT

private:
    TestHandler m_handler;
    std::unique_ptr<HttpServer> m_server;
    quint16 m_port = 0;

    static bool hasValidDate(const ParsedResponse &r)
    {
        static const QRegularExpression format(QStringLiteral(
            R"(^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT$)"));
        const QString date = QString::fromLatin1(r.header("date"));
        QDateTime parsed =
            QDateTime::fromString(date, QStringLiteral("ddd, dd MMM yyyy HH:mm:ss 'GMT'"));
        parsed.setTimeSpec(Qt::UTC);
        if (!format.match(date).hasMatch() || !parsed.isValid())
            qWarning() << "bad Date" << date << parsed;
        return format.match(date).hasMatch() && parsed.isValid() &&
               qAbs(parsed.secsTo(QDateTime::currentDateTimeUtc())) < 60;
    }

private Q_SLOTS:
    void init()
    {
        m_handler.onHeaders = {};
        m_handler.onHandle = {};
        m_handler.handled = 0;
        m_handler.headersSeen = 0;
        m_server = std::make_unique<HttpServer>(m_handler, fastLimits());
        auto port = m_server->listen(QHostAddress::LocalHost, 0);
        QVERIFY2(port.ok(), qPrintable(port.error().toString()));
        QVERIFY(*port != 0);
        m_port = *port;
    }
    void cleanup() { m_server.reset(); }

    void normalRequestWithNetworkAccessManager()
    {
        QNetworkAccessManager nam;
        QNetworkRequest request(
            QUrl(QStringLiteral("http://127.0.0.1:%1/api/v1/x?a=1").arg(m_port)));
        std::unique_ptr<QNetworkReply> reply(nam.get(request));
        QTRY_VERIFY_WITH_TIMEOUT(reply->isFinished(), 30'000);
        QCOMPARE(reply->error(), QNetworkReply::NoError);
        QCOMPARE(reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt(), 200);
        QVERIFY(reply->hasRawHeader("Date"));
        QVERIFY(reply->header(QNetworkRequest::ContentTypeHeader)
                    .toString()
                    .startsWith(u"application/json"));
        const QJsonObject body = QJsonDocument::fromJson(reply->readAll()).object();
        QCOMPARE(body.value(QStringLiteral("path")).toString(), QStringLiteral("/api/v1/x"));
        QCOMPARE(body.value(QStringLiteral("method")).toString(), QStringLiteral("GET"));
    }

    void requestFieldsAreParsed()
    {
        Request seen;
        m_handler.onHandle = [&](Request r, std::unique_ptr<BodyConsumer>, Responder respond) {
            seen = r;
            respond(Response::json(200, {}));
        };
        RawClient client(m_port);
        QVERIFY(client.waitConnected());
        client.send("POST /p/a%20b?x=1&y=2 HTTP/1.1\r\nHost: h\r\nX-Custom-Thing:  v1 \r\n"
                    "Content-Length: 5\r\n\r\nhello");
        QVERIFY(client.waitResponses(1));
        QCOMPARE(seen.method, QByteArray("POST"));
        QCOMPARE(seen.target, QByteArray("/p/a%20b?x=1&y=2"));
        QCOMPARE(seen.path, QByteArray("/p/a%20b"));
        QCOMPARE(seen.query, QByteArray("x=1&y=2"));
        QCOMPARE(seen.httpMinor, 1);
        QCOMPARE(seen.header("x-custom-thing"), QByteArray("v1"));
        QCOMPARE(seen.header("X-CUSTOM-THING"), QByteArray("v1"));
        QCOMPARE(seen.headers.value(1).first, QByteArray("x-custom-thing"));
        QCOMPARE(seen.contentLength, 5);
        QCOMPARE(seen.body, QByteArray("hello"));
        QVERIFY(seen.keepAlive);
        QCOMPARE(seen.peerAddress, QHostAddress(QHostAddress::LocalHost));
        QCOMPARE(seen.peerPort, client.m_socket.localPort());
    }

    void keepAliveServesSeveralRequests()
    {
        RawClient client(m_port);
        QVERIFY(client.waitConnected());
        for (int i = 1; i <= 3; ++i) {
            client.send("GET /k HTTP/1.1\r\nHost: h\r\n\r\n");
            QVERIFY(client.waitResponses(i));
            QCOMPARE(client.responses.last().status, 200);
            QVERIFY(!client.responses.last().hasHeader("connection"));
            QVERIFY(client.isOpen());
        }
        QCOMPARE(m_server->openConnections(), 1);
    }

    // Connections are spread over the network threads; each keeps its own order and every one
    // is answered, and the connection count stays right across threads.
    void connectionsSpreadOverNetworkThreads()
    {
        HttpLimits limits = fastLimits();
        limits.idleTimeoutMs = 20'000;
        limits.networkThreads = 3;
        TestHandler handler;
        QMutex mutex;
        QSet<QThread *> threads;
        handler.onHandle = [&](Request request, std::unique_ptr<BodyConsumer>, Responder respond) {
            {
                QMutexLocker lock(&mutex);
                threads.insert(QThread::currentThread());
            }
            respond(TestHandler::echo(request));
        };
        HttpServer server(handler, limits);
        const quint16 port = *server.listen(QHostAddress::LocalHost, 0);
        std::vector<std::unique_ptr<RawClient>> clients;
        for (int i = 0; i < 9; ++i) {
            clients.push_back(std::make_unique<RawClient>(port));
            QVERIFY(clients.back()->waitConnected());
        }
        for (int i = 0; i < 9; ++i) {
            QByteArray pipelined;
            for (int n = 0; n < 4; ++n)
                pipelined += "GET /c" + QByteArray::number(i) + "/" + QByteArray::number(n) +
                             " HTTP/1.1\r\nHost: h\r\n\r\n";
            clients[size_t(i)]->send(pipelined);
        }
        for (int i = 0; i < 9; ++i) {
            RawClient &client = *clients[size_t(i)];
            QVERIFY(client.waitResponses(4));
            for (int n = 0; n < 4; ++n) {
                QCOMPARE(client.responses.at(n).json().value(u"path").toString(),
                         QStringLiteral("/c%1/%2").arg(i).arg(n));
            }
        }
        QCOMPARE(threads.size(), 3);
        QCOMPARE(server.openConnections(), 9);
        clients.clear();
        QTRY_COMPARE(server.openConnections(), 0);
    }

    void pipelinedResponsesKeepRequestOrder_data()
    {
        QTest::addColumn<bool>("answerLater");
        QTest::newRow("answered at once") << false;
        QTest::newRow("answered in reverse from another thread") << true;
    }
    void pipelinedResponsesKeepRequestOrder()
    {
        QFETCH(bool, answerLater);
        constexpr int count = 8;
        QMutex mutex;
        QList<std::pair<QByteArray, Responder>> held;
        m_handler.onHandle = [&](Request r, std::unique_ptr<BodyConsumer>, Responder respond) {
            if (!answerLater)
                return respond(TestHandler::echo(r));
            QMutexLocker lock(&mutex);
            held.append({r.path, respond});
        };
        RawClient client(m_port);
        QVERIFY(client.waitConnected());
        QByteArray burst;
        for (int i = 0; i < count; ++i)
            burst += "GET /" + QByteArray::number(i) + " HTTP/1.1\r\nHost: h\r\n\r\n";
        client.send(burst);
        if (answerLater) {
            QTRY_COMPARE_WITH_TIMEOUT(m_handler.handled.load(), count, 30'000);
            QTest::qWait(50);
            QCOMPARE(client.pump(), 0); // nothing may overtake the first answer
            std::unique_ptr<QThread> worker(QThread::create([&] {
                QMutexLocker lock(&mutex);
                for (qsizetype i = held.size() - 1; i >= 0; --i) {
                    Request r;
                    r.path = held[i].first;
                    held[i].second(TestHandler::echo(r));
                }
            }));
            worker->start();
            QVERIFY(worker->wait(30'000));
        }
        QVERIFY(client.waitResponses(count, 30'000));
        for (int i = 0; i < count; ++i) {
            QCOMPARE(client.responses[i].json().value(QStringLiteral("path")).toString(),
                     QStringLiteral("/%1").arg(i));
        }
        QVERIFY(client.isOpen());
    }

    void connectionHandling_data()
    {
        QTest::addColumn<QByteArray>("request");
        QTest::addColumn<bool>("handlerCloses");
        QTest::addColumn<QByteArray>("expectedConnectionHeader");
        QTest::addColumn<bool>("staysOpen");
        QTest::newRow("1.1 default keep-alive")
            << QByteArray("GET / HTTP/1.1\r\nHost: h\r\n\r\n") << false << QByteArray() << true;
        QTest::newRow("1.1 Connection: close")
            << QByteArray("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n") << false
            << QByteArray("close") << false;
        QTest::newRow("1.0 default close")
            << QByteArray("GET / HTTP/1.0\r\n\r\n") << false << QByteArray("close") << false;
        QTest::newRow("1.0 keep-alive asked")
            << QByteArray("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n") << false
            << QByteArray("keep-alive") << true;
        QTest::newRow("handler answers Connection: close")
            << QByteArray("GET / HTTP/1.1\r\nHost: h\r\n\r\n") << true << QByteArray("close")
            << false;
    }
    void connectionHandling()
    {
        QFETCH(QByteArray, request);
        QFETCH(bool, handlerCloses);
        QFETCH(QByteArray, expectedConnectionHeader);
        QFETCH(bool, staysOpen);
        m_handler.onHandle = [&](Request r, std::unique_ptr<BodyConsumer>, Responder respond) {
            Response response = TestHandler::echo(r);
            if (handlerCloses)
                response.setHeader("Connection", "close");
            respond(response);
        };
        RawClient client(m_port);
        QVERIFY(client.waitConnected());
        client.send(request + request); // a second request after a closing one is never answered
        QVERIFY(client.waitResponses(1));
        const ParsedResponse &r = client.responses.first();
        QCOMPARE(r.status, 200);
        QCOMPARE(r.header("connection"), expectedConnectionHeader);
        QVERIFY(hasValidDate(r));
        QVERIFY(r.hasHeader("content-length"));
        if (staysOpen) {
            QVERIFY(client.waitResponses(2));
            QVERIFY(client.isOpen());
        } else {
            QVERIFY(client.waitClosed());
            QCOMPARE(client.responses.size(), 1);
            QCOMPARE(m_handler.handled.load() >= 1, true);
        }
    }

    void headResponseHasHeadersButNoBody()
    {
        m_handler.onHandle = [](Request, std::unique_ptr<BodyConsumer>, Responder respond) {
            respond(Response::json(200, {{QStringLiteral("fixed"), QStringLiteral("body")}}));
        };
        RawClient client(m_port);
        QVERIFY(client.waitConnected());
        client.expectHead(0);
        client.send("HEAD /h HTTP/1.1\r\nHost: h\r\n\r\nGET /h HTTP/1.1\r\nHost: h\r\n\r\n");
        QVERIFY(client.waitResponses(2));
        const ParsedResponse &head = client.responses[0];
        const ParsedResponse &get = client.responses[1];
        QCOMPARE(head.status, 200);
        QVERIFY(head.body.isEmpty());
        // Had the HEAD answer carried a body, the GET answer would not parse as a response.
        QCOMPARE(get.status, 200);
        QCOMPARE(head.header("content-length"), QByteArray::number(get.body.size()));
        QCOMPARE(get.json().value(QStringLiteral("fixed")).toString(), QStringLiteral("body"));
        QVERIFY(hasValidDate(head));
    }

    void malformedRequestIs400AndCloses_data()
    {
        QTest::addColumn<QByteArray>("request");
        QTest::newRow("not http") << QByteArray("HELLO THERE\r\n\r\n");
        QTest::newRow("bad version") << QByteArray("GET / HTTP/x.y\r\n\r\n");
        QTest::newRow("header without colon") << QByteArray("GET / HTTP/1.1\r\nNoColon\r\n\r\n");
        QTest::newRow("bad content-length")
            << QByteArray("POST / HTTP/1.1\r\nContent-Length: 12abc\r\n\r\n");
        QTest::newRow("content-length and chunked") << QByteArray(
            "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n");
        QTest::newRow("bad chunk size")
            << QByteArray("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n");
        QTest::newRow("after a good request")
            << QByteArray("GET /ok HTTP/1.1\r\nHost: h\r\n\r\nGARBAGE\x01\r\n\r\n");
    }
    void malformedRequestIs400AndCloses()
    {
        QFETCH(QByteArray, request);
        RawClient client(m_port);
        QVERIFY(client.waitConnected());
        client.send(request);
        QVERIFY(client.waitClosed());
        QVERIFY(!client.responses.isEmpty());
        const ParsedResponse &r = client.responses.last();
        QCOMPARE(r.status, 400);
        QCOMPARE(r.header("connection"), QByteArray("close"));
        QVERIFY(r.isFerryError());
        QCOMPARE(r.errorCode(), QStringLiteral("bad_request"));
        QVERIFY(hasValidDate(r));
        if (request.startsWith("GET /ok"))
            QCOMPARE(client.responses.first().status, 200);
    }

    void streamedResponseUsesChunkedEncoding_data()
    {
        QTest::addColumn<QByteArray>("version");
        QTest::newRow("HTTP/1.1") << QByteArray("1.1");
        QTest::newRow("HTTP/1.0 (raw, then close)") << QByteArray("1.0");
    }
    void streamedResponseUsesChunkedEncoding()
    {
        QFETCH(QByteArray, version);
        m_handler.onHandle = [](Request, std::unique_ptr<BodyConsumer>, Responder respond) {
            Response response;
            auto left = std::make_shared<int>(100);
            response.stream = [left]() -> std::optional<QByteArray> {
                if ((*left)-- == 0)
                    return std::nullopt;
                return QByteArray(1000, char('a' + *left % 26));
            };
            respond(std::move(response));
        };
        RawClient client(m_port);
        QVERIFY(client.waitConnected());
        client.send("GET /s HTTP/" + version + "\r\nHost: h\r\n\r\n");
        QByteArray expected;
        for (int left = 99; left >= 0; --left)
            expected += QByteArray(1000, char('a' + left % 26));
        if (version == "1.1") {
            QVERIFY(client.waitResponses(1));
            QVERIFY(client.responses[0].chunked);
            QVERIFY(!client.responses[0].hasHeader("content-length"));
            QCOMPARE(client.responses[0].body, expected);
            QVERIFY(client.isOpen());
        } else {
            QVERIFY(client.waitClosed());
            QCOMPARE(client.responses.size(), 1);
            QVERIFY(!client.responses[0].chunked);
            QVERIFY(!client.responses[0].hasHeader("content-length"));
            QCOMPARE(client.responses[0].header("connection"), QByteArray("close"));
            QCOMPARE(client.responses[0].body, expected); // no length: the body ends at EOF
        }
    }

    void droppedResponderAnswers500()
    {
        m_handler.onHandle = [](Request, std::unique_ptr<BodyConsumer>, Responder) {};
        RawClient client(m_port);
        QVERIFY(client.waitConnected());
        client.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
        QVERIFY(client.waitResponses(1));
        QCOMPARE(client.responses[0].status, 500);
        QVERIFY(client.responses[0].isFerryError());
    }

    void secondAnswerIsIgnored()
    {
        m_handler.onHandle = [](Request, std::unique_ptr<BodyConsumer>, Responder respond) {
            respond(Response::json(201, {}));
            respond(Response::json(202, {}));
            QVERIFY(respond.answered());
        };
        RawClient client(m_port);
        QVERIFY(client.waitConnected());
        client.send("GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n");
        QVERIFY(client.waitResponses(2));
        QTest::qWait(50);
        QCOMPARE(client.pump(), 2);
        QCOMPARE(client.responses[0].status, 201);
        QCOMPARE(client.responses[1].status, 201);
    }
};

QTEST_GUILESS_MAIN(tst_HttpServer)
#include "tst_httpserver.moc"
