#include "httptestsupport.h"
#include "rssmeaningful.h"

#include <QElapsedTimer>
#include <QFile>
#include <QTemporaryFile>

using namespace Ferry;
using namespace Ferry::Http;
using namespace Ferry::Http::Test;

namespace {

qint64 residentKb()
{
    QFile status(QStringLiteral("/proc/self/status"));
    if (!status.open(QIODevice::ReadOnly))
        return -1;
    for (const QByteArray &line : status.readAll().split('\n')) {
        if (line.startsWith("VmRSS:"))
            return line.mid(6).trimmed().split(' ').value(0).toLongLong();
    }
    return -1;
}

// Streams into a temporary file, as an upload route would.
class FileConsumer final : public BodyConsumer
{
public:
    FileConsumer() { m_file.open(); }
    bool write(QByteArrayView data) override
    {
        ++writes;
        return m_file.write(data.data(), data.size()) == data.size();
    }
    bool finish() override { return m_file.flush(); }
    void abort() override {}
    qint64 size() const { return m_file.size(); }
    int writes = 0;

private:
    QTemporaryFile m_file;
};

} // namespace

// Limits, timeouts, connection caps, 100-continue and streamed request bodies.
class tst_HttpLimits : public QObject
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
        m_handler.handled = 0;
        m_handler.headersSeen = 0;
        CountingConsumer::aborted = 0;
    }
    void cleanup() { m_server.reset(); }

    void oversizedHeadersAre431_data()
    {
        QTest::addColumn<QByteArray>("request");
        QTest::addColumn<QString>("code");
        QTest::newRow("one huge header")
            << ("GET / HTTP/1.1\r\nX-Big: " + QByteArray(5000, 'a') + "\r\n\r\n")
            << QStringLiteral("headers_too_large");
        QTest::newRow("long target") << ("GET /" + QByteArray(5000, 'a') + " HTTP/1.1\r\n\r\n")
                                     << QStringLiteral("headers_too_large");
        QByteArray many = "GET / HTTP/1.1\r\n";
        for (int i = 0; i < 21; ++i)
            many += "X-H" + QByteArray::number(i) + ": v\r\n";
        QTest::newRow("too many headers") << (many + "\r\n") << QStringLiteral("too_many_headers");
    }
    void oversizedHeadersAre431()
    {
        QFETCH(QByteArray, request);
        QFETCH(QString, code);
        HttpLimits limits = fastLimits();
        limits.maxHeaderBytes = 4096;
        limits.maxHeaderCount = 20;
        QVERIFY(start(limits));
        RawClient client(m_port);
        QVERIFY(client.waitConnected());
        client.send(request);
        QVERIFY(client.waitClosed());
        QCOMPARE(client.responses.size(), 1);
        QCOMPARE(client.responses[0].status, 431);
        QCOMPARE(client.responses[0].header("connection"), QByteArray("close"));
        QVERIFY(client.responses[0].isFerryError());
        QCOMPARE(client.responses[0].errorCode(), code);
        QCOMPARE(m_handler.headersSeen.load(), 0);
    }

    void headersAtTheLimitPass()
    {
        HttpLimits limits = fastLimits();
        limits.maxHeaderCount = 20;
        QVERIFY(start(limits));
        QByteArray request = "GET / HTTP/1.1\r\n";
        for (int i = 0; i < 20; ++i)
            request += "X-H" + QByteArray::number(i) + ": v\r\n";
        RawClient client(m_port);
        QVERIFY(client.waitConnected());
        client.send(request + "\r\n");
        QVERIFY(client.waitResponses(1));
        QCOMPARE(client.responses[0].status, 200);
    }

    void bodyOverLimitIs413_data()
    {
        QTest::addColumn<QByteArray>("request");
        QTest::addColumn<bool>("sendsBody");
        QTest::newRow("content-length, body never sent")
            << QByteArray("POST /u HTTP/1.1\r\nContent-Length: 1001\r\n\r\n") << false;
        QTest::newRow("chunked, counted")
            << QByteArray("POST /u HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                          "200\r\n" +
                          QByteArray(512, 'x') + "\r\n200\r\n" + QByteArray(512, 'y') + "\r\n")
            << true;
    }
    void bodyOverLimitIs413()
    {
        QFETCH(QByteArray, request);
        HttpLimits limits = fastLimits();
        limits.maxBodyBytes = 1000;
        limits.bodyStallTimeoutMs = 20'000; // the answer must not come from a timeout
        QVERIFY(start(limits));
        m_handler.onHeaders = [](const Request &) {
            return HeaderDecision::streamInto(std::make_unique<CountingConsumer>());
        };
        RawClient client(m_port);
        QVERIFY(client.waitConnected());
        client.send(request); // the chunked body never ends: only the count can trigger 413
        QVERIFY(client.waitResponses(1));
        QCOMPARE(client.responses[0].status, 413);
        QVERIFY(client.responses[0].isFerryError());
        QCOMPARE(client.responses[0].errorCode(), QStringLiteral("body_too_large"));
        QCOMPARE(client.responses[0].header("connection"), QByteArray("close"));
        QVERIFY(client.waitClosed());
        QCOMPARE(m_handler.handled.load(), 0);
        QTRY_COMPARE_WITH_TIMEOUT(CountingConsumer::alive.load(), 0, 10'000);
    }

    void expectContinue_data()
    {
        QTest::addColumn<int>("contentLength");
        QTest::addColumn<bool>("unauthorized");
        QTest::addColumn<int>("status");
        QTest::newRow("accepted: 100 then the answer") << 10 << false << 200;
        QTest::newRow("refused by the handler: 401, no 100") << 10 << true << 401;
        QTest::newRow("refused by size: 413, no 100") << 5000 << false << 413;
    }
    void expectContinue()
    {
        QFETCH(int, contentLength);
        QFETCH(bool, unauthorized);
        QFETCH(int, status);
        HttpLimits limits = fastLimits();
        limits.maxBodyBytes = 1000;
        limits.bodyStallTimeoutMs = 20'000;
        QVERIFY(start(limits));
        m_handler.onHeaders = [&](const Request &r) {
            if (unauthorized && r.header("authorization").isEmpty()) {
                return HeaderDecision::refuse(Response::error(401, QStringLiteral("Unauthorized"),
                                                              QStringLiteral("Send a token."),
                                                              QStringLiteral("unauthorized")));
            }
            return HeaderDecision::accept();
        };
        RawClient client(m_port);
        QVERIFY(client.waitConnected());
        client.send("PUT /u HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: " +
                    QByteArray::number(contentLength) + "\r\n\r\n");
        QVERIFY(client.waitResponses(1));
        if (status == 200) {
            QCOMPARE(client.responses[0].status, 100);
            QCOMPARE(m_handler.handled.load(), 0);
            client.send(QByteArray(contentLength, 'b'));
            QVERIFY(client.waitResponses(2));
            QCOMPARE(client.responses[1].status, 200);
            QCOMPARE(client.responses[1].json().value(QStringLiteral("bodyBytes")).toInt(),
                     contentLength);
            QVERIFY(client.isOpen());
        } else {
            QCOMPARE(client.responses[0].status, status);
            QVERIFY(client.responses[0].isFerryError());
            QVERIFY(client.waitClosed()); // the client may still send the body
            QCOMPARE(client.responses.size(), 1);
            QCOMPARE(m_handler.handled.load(), 0);
        }
    }

    void rejectionWithoutBodyKeepsConnection()
    {
        QVERIFY(start(fastLimits()));
        m_handler.onHeaders = [](const Request &r) {
            return r.path == "/denied" ? HeaderDecision::refuse(Response::json(429, {}))
                                       : HeaderDecision::accept();
        };
        RawClient client(m_port);
        QVERIFY(client.waitConnected());
        client.send("GET /denied HTTP/1.1\r\n\r\nGET /ok HTTP/1.1\r\n\r\n");
        QVERIFY(client.waitResponses(2));
        QCOMPARE(client.responses[0].status, 429);
        QCOMPARE(client.responses[1].status, 200);
        QCOMPARE(m_handler.handled.load(), 1);
        QVERIFY(client.isOpen());
    }

    void largeBodyIsStreamedWithBoundedMemory()
    {
        constexpr qint64 total = 50 * 1024 * 1024;
        HttpLimits limits = fastLimits();
        limits.bodyStallTimeoutMs = 20'000;
        QVERIFY(start(limits));
        std::atomic<qint64> stored{-1};
        std::atomic<int> writes{0};
        m_handler.onHeaders = [](const Request &) {
            return HeaderDecision::streamInto(std::make_unique<FileConsumer>(), total);
        };
        m_handler.onHandle = [&](Request r, std::unique_ptr<BodyConsumer> body, Responder respond) {
            auto *file = static_cast<FileConsumer *>(body.get());
            writes = file->writes;
            stored = file->size();
            respond(Response::json(200, {{QStringLiteral("buffered"), r.body.size()}}));
        };
        RawClient client(m_port);
        QVERIFY(client.waitConnected());
        const qint64 before = residentKb();
        QVERIFY(before > 0);
        client.send("POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: " +
                    QByteArray::number(total) + "\r\n\r\n");
        const QByteArray piece(256 * 1024, 'z');
        qint64 sent = 0;
        qint64 peak = before;
        const bool done = QTest::qWaitFor(
            [&] {
                while (sent < total && client.m_socket.bytesToWrite() < 2 * piece.size()) {
                    client.send(piece);
                    sent += piece.size();
                }
                peak = qMax(peak, residentKb());
                return client.pump() >= 1;
            },
            120'000);
        QVERIFY(done);
        QCOMPARE(client.responses[0].status, 200);
        QCOMPARE(client.responses[0].json().value(QStringLiteral("buffered")).toInt(), 0);
        QCOMPARE(stored.load(), total);
        QVERIFY2(writes.load() > 100, "the body must arrive in many pieces");
        const qint64 growthKb = peak - before;
        qInfo() << "RSS before" << before << "kB, peak" << peak << "kB, growth" << growthKb << "kB";
        if (FERRY_RSS_MEANINGFUL) {
            QVERIFY2(growthKb < 16 * 1024,
                     qPrintable(QStringLiteral("RSS grew by %1 kB").arg(growthKb)));
        }
    }

    void slowHeadersGet408()
    {
        QVERIFY(start(fastLimits()));
        RawClient client(m_port);
        QVERIFY(client.waitConnected());
        QElapsedTimer timer;
        timer.start();
        client.send("GET / HTTP/1.1\r\nHost: h\r\n");
        // A slowloris keeps trickling bytes; that must not extend the deadline.
        const bool closed = QTest::qWaitFor(
            [&] {
                if (client.isOpen() && timer.elapsed() % 50 < 15)
                    client.send("X-Drip: 1\r\n");
                client.pump();
                return !client.isOpen();
            },
            20'000);
        QVERIFY(closed);
        QVERIFY(timer.elapsed() >= 280);
        QVERIFY(client.waitClosed());
        QCOMPARE(client.responses.size(), 1);
        QCOMPARE(client.responses[0].status, 408);
        QCOMPARE(client.responses[0].errorCode(), QStringLiteral("request_timeout"));
        QCOMPARE(m_handler.headersSeen.load(), 0);
    }

    void stalledBodyCloses()
    {
        QVERIFY(start(fastLimits()));
        m_handler.onHeaders = [](const Request &) {
            return HeaderDecision::streamInto(std::make_unique<CountingConsumer>());
        };
        RawClient client(m_port);
        QVERIFY(client.waitConnected());
        client.send("POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\nonly a part");
        QVERIFY(client.waitClosed());
        QCOMPARE(client.responses.size(), 1);
        QCOMPARE(client.responses[0].status, 408);
        QCOMPARE(client.responses[0].errorCode(), QStringLiteral("body_timeout"));
        QCOMPARE(m_handler.handled.load(), 0);
        QCOMPARE(CountingConsumer::aborted.load(), 1);
        QTRY_COMPARE_WITH_TIMEOUT(m_server->openConnections(), 0, 10'000);
    }

    void idleKeepAliveCloses_data()
    {
        QTest::addColumn<bool>("afterRequest");
        QTest::newRow("never sent anything") << false;
        QTest::newRow("idle after a response") << true;
    }
    void idleKeepAliveCloses()
    {
        QFETCH(bool, afterRequest);
        QVERIFY(start(fastLimits()));
        RawClient client(m_port);
        QVERIFY(client.waitConnected());
        QElapsedTimer timer;
        timer.start();
        if (afterRequest) {
            client.send("GET / HTTP/1.1\r\n\r\n");
            QVERIFY(client.waitResponses(1));
        }
        QVERIFY(client.waitClosed());
        QVERIFY(timer.elapsed() >= 280);
        QCOMPARE(client.responses.size(), afterRequest ? 1 : 0); // closed silently
        QTRY_COMPARE_WITH_TIMEOUT(m_server->openConnections(), 0, 10'000);
    }

    void connectionCaps_data()
    {
        QTest::addColumn<int>("overall");
        QTest::addColumn<int>("perIp");
        QTest::newRow("per client address") << 100 << 3;
        QTest::newRow("overall") << 3 << 100;
    }
    void connectionCaps()
    {
        QFETCH(int, overall);
        QFETCH(int, perIp);
        HttpLimits limits = fastLimits();
        limits.idleTimeoutMs = limits.headerTimeoutMs = 30'000;
        limits.maxConnections = overall;
        limits.maxConnectionsPerIp = perIp;
        QVERIFY(start(limits));
        std::vector<std::unique_ptr<RawClient>> clients;
        for (int i = 0; i < 3; ++i) {
            clients.push_back(std::make_unique<RawClient>(m_port));
            QVERIFY(clients.back()->waitConnected());
        }
        QTRY_COMPARE_WITH_TIMEOUT(m_server->openConnections(), 3, 10'000);
        RawClient refused(m_port);
        QVERIFY(refused.waitConnected());
        refused.send("GET / HTTP/1.1\r\n\r\n");
        QVERIFY(refused.waitClosed());
        QCOMPARE(refused.responses.size(), 1);
        QCOMPARE(refused.responses[0].status, 503);
        QCOMPARE(refused.responses[0].errorCode(), QStringLiteral("too_many_connections"));
        QCOMPARE(refused.responses[0].header("connection"), QByteArray("close"));
        QCOMPARE(m_handler.headersSeen.load(), 0);

        clients.front().reset(); // frees a slot
        QTRY_COMPARE_WITH_TIMEOUT(m_server->openConnections(), 2, 10'000);
        RawClient accepted(m_port);
        QVERIFY(accepted.waitConnected());
        accepted.send("GET / HTTP/1.1\r\n\r\n");
        QVERIFY(accepted.waitResponses(1));
        QCOMPARE(accepted.responses[0].status, 200);
    }
};

QTEST_GUILESS_MAIN(tst_HttpLimits)
#include "tst_httplimits.moc"
