#include "httptestsupport.h"

#include <QMutex>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QThread>

using namespace Ferry;
using namespace Ferry::Http;
using namespace Ferry::Http::Test;

// Clients that vanish: mid-headers, mid-body, before the response (answered afterwards from
// another thread), mid-streamed-response. Nothing may crash or leak.
class tst_HttpAbort : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void abortedRequestsNeitherCrashNorLeak()
    {
        TestHandler handler;
        QMutex mutex;
        QList<Responder> held;
        handler.onHeaders = [](const Request &r) {
            return r.method == "POST"
                       ? HeaderDecision::streamInto(std::make_unique<CountingConsumer>())
                       : HeaderDecision::accept();
        };
        handler.onHandle = [&](Request r, std::unique_ptr<BodyConsumer>, Responder respond) {
            if (r.path == "/later") {
                QMutexLocker lock(&mutex);
                held.append(respond);
                return;
            }
            if (r.path == "/stream") {
                Response response;
                response.stream = [] {
                    return std::optional<QByteArray>(QByteArray(64 * 1024, 's'));
                };
                return respond(std::move(response)); // endless: only the abort ends it
            }
            respond(TestHandler::echo(r));
        };
        HttpLimits limits = fastLimits();
        limits.headerTimeoutMs = limits.bodyStallTimeoutMs = limits.idleTimeoutMs = 30'000;
        limits.maxConnectionsPerIp = limits.maxConnections = 2000;
        HttpServer server(handler, limits);
        auto port = server.listen(QHostAddress::LocalHost, 0);
        QVERIFY(port.ok());

        const QList<QByteArray> partial = {
            "GET /half HTTP/1.1\r\nHost: h\r\nX-Unfinished",
            "POST /body HTTP/1.1\r\nContent-Length: 100000\r\n\r\n" + QByteArray(5000, 'b'),
            "GET /later HTTP/1.1\r\nHost: h\r\n\r\n",
            "GET /stream HTTP/1.1\r\nHost: h\r\n\r\n",
        };
        constexpr int rounds = 1000;
        int laterSent = 0;
        auto heldCount = [&] {
            QMutexLocker lock(&mutex);
            return int(held.size());
        };
        for (int i = 0; i < rounds; ++i) {
            RawClient client(*port);
            QVERIFY(client.waitConnected());
            const QByteArray &request = partial[i % partial.size()];
            client.send(request);
            QVERIFY(client.m_socket.waitForBytesWritten(10'000));
            if (request.startsWith("GET /later")) { // abort only once the handler holds it
                ++laterSent;
                QVERIFY(QTest::qWaitFor([&] { return heldCount() == laterSent; }, 10'000));
            }
            if (request.startsWith("GET /stream")) { // abort mid-response
                QVERIFY(
                    QTest::qWaitFor([&] { return client.m_socket.bytesAvailable() > 0; }, 10'000));
            }
            client.m_socket.abort();
        }
        QTRY_COMPARE_WITH_TIMEOUT(server.openConnections(), 0, 30'000);
        QTRY_COMPARE_WITH_TIMEOUT(CountingConsumer::alive.load(), 0, 30'000);
        QCOMPARE(CountingConsumer::aborted.load(), rounds / 4);

        // Answer the abandoned requests from another thread: each must be a quiet no-op.
        QCOMPARE(heldCount(), rounds / 4);
        std::unique_ptr<QThread> worker(QThread::create([&] {
            QMutexLocker lock(&mutex);
            for (const Responder &respond : held)
                respond(Response::json(200, {}));
        }));
        worker->start();
        QVERIFY(worker->wait(30'000));
        QMutexLocker lock(&mutex);
        for (const Responder &respond : held)
            QVERIFY(respond.answered());
        held.clear();
        lock.unlock();

        QNetworkAccessManager nam;
        std::unique_ptr<QNetworkReply> reply(
            nam.get(QNetworkRequest(QUrl(QStringLiteral("http://127.0.0.1:%1/after").arg(*port)))));
        QTRY_VERIFY_WITH_TIMEOUT(reply->isFinished(), 30'000);
        QCOMPARE(reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt(), 200);
        QCOMPARE(QJsonDocument::fromJson(reply->readAll())
                     .object()
                     .value(QStringLiteral("path"))
                     .toString(),
                 QStringLiteral("/after"));
    }

    void responderOutlivesTheServer()
    {
        TestHandler handler;
        // Written on the network thread, read here: under a lock (ThreadSanitizer).
        QMutex keptMutex;
        std::optional<Responder> kept;
        handler.onHandle = [&](Request, std::unique_ptr<BodyConsumer>, Responder respond) {
            QMutexLocker lock(&keptMutex);
            kept = respond;
        };
        auto server = std::make_unique<HttpServer>(handler, fastLimits());
        auto port = server->listen(QHostAddress::LocalHost, 0);
        QVERIFY(port.ok());
        RawClient client(*port);
        QVERIFY(client.waitConnected());
        client.send("GET / HTTP/1.1\r\n\r\n");
        QTRY_VERIFY_WITH_TIMEOUT(
            [&] {
                QMutexLocker lock(&keptMutex);
                return kept.has_value();
            }(),
            10'000);
        server.reset();
        (*kept)(Response::json(200, {})); // no server, no connection: nothing happens
        QVERIFY(kept->answered());
        QVERIFY(client.waitClosed());
        QCOMPARE(client.responses.size(), 0);
    }
};

QTEST_GUILESS_MAIN(tst_HttpAbort)
#include "tst_httpabort.moc"
