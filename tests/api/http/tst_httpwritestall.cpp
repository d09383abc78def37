// A client that stops reading a response: once the response makes no progress for
// HttpLimits::writeStallTimeoutMs, the server drops the connection (and its buffers); a client
// that reads, however large the response, keeps it.
#include "httptestsupport.h"

using namespace Ferry;
using namespace Ferry::Http;
using namespace Ferry::Http::Test;

namespace {

constexpr qint64 ChunkBytes = 64 * 1024;

// A streamed answer of `total` bytes, produced as the socket drains.
void streamBytes(Responder respond, qint64 total)
{
    auto sent = std::make_shared<qint64>(0);
    Response response;
    response.setHeader("Content-Type", "application/octet-stream");
    response.stream = [sent, total]() -> std::optional<QByteArray> {
        if (*sent >= total)
            return std::nullopt;
        const qint64 n = std::min(ChunkBytes, total - *sent);
        *sent += n;
        return QByteArray(n, 'x');
    };
    respond(std::move(response));
}

} // namespace

class tst_HttpWriteStall : public QObject
{
    Q_OBJECT

    TestHandler m_handler;
    std::unique_ptr<HttpServer> m_server;

    quint16 start(int stallMs, qint64 responseBytes)
    {
        HttpLimits limits;
        limits.writeStallTimeoutMs = stallMs;
        m_handler.onHandle = [responseBytes](Request, std::unique_ptr<BodyConsumer>,
                                             Responder respond) {
            streamBytes(std::move(respond), responseBytes);
        };
        m_server = std::make_unique<HttpServer>(m_handler, limits);
        return *m_server->listen(QHostAddress::LocalHost, 0);
    }

private Q_SLOTS:
    void cleanup() { m_server.reset(); }

    void clientThatNeverReadsIsDropped()
    {
        // Far more than the kernel's socket buffers on both sides can hold.
        const quint16 port = start(400, qint64(1) << 30);
        QTcpSocket client;
        client.setReadBufferSize(1024); // Qt stops taking bytes from the kernel: nothing is read
        client.connectToHost(QHostAddress::LocalHost, port);
        QVERIFY(client.waitForConnected(20'000));
        client.write("GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
        QVERIFY(client.waitForBytesWritten(20'000));
        QTRY_COMPARE_WITH_TIMEOUT(m_server->openConnections(), 1, 20'000);
        // The response stalls once every buffer is full; then the stall timeout drops it.
        QTRY_COMPARE_WITH_TIMEOUT(m_server->openConnections(), 0, 30'000);
    }

    void clientThatReadsKeepsTheConnection()
    {
        const qint64 total = 8 * 1024 * 1024;
        const quint16 port = start(400, total);
        RawClient client(port);
        QVERIFY(client.waitConnected());
        client.send("GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
        QVERIFY(client.waitResponses(1, 60'000));
        QCOMPARE(client.responses[0].status, 200);
        QCOMPARE(client.responses[0].body.size(), total);
        QVERIFY(client.isOpen());
        QCOMPARE(m_server->openConnections(), 1);
    }
};

QTEST_GUILESS_MAIN(tst_HttpWriteStall)
#include "tst_httpwritestall.moc"
