// Header decisions made later (HeaderDecision::decideLater): the handler asks something slow on
// another thread while the connection reads nothing more, other connections on the same network
// thread are served meanwhile, and every way the decision can end (accept, refuse, never, too
// late, after the client left) answers the request and leaves no consumer behind.
#include "httptestsupport.h"

#include <QPromise>

#include <deque>

using namespace Ferry;
using namespace Ferry::Http;
using namespace Ferry::Http::Test;

namespace {

using Decision = std::shared_ptr<HeaderDecision>;

// One decision the test makes by hand, from the test's thread (not the network thread).
struct ManualDecision
{
    ManualDecision() { promise.start(); }
    QFuture<Decision> future() { return promise.future(); }
    void give(HeaderDecision decision)
    {
        promise.addResult(std::make_shared<HeaderDecision>(std::move(decision)));
        promise.finish();
    }
    QPromise<Decision> promise;
};

QByteArray post(const QByteArray &path, const QByteArray &body)
{
    return "POST " + path +
           " HTTP/1.1\r\nHost: x\r\nContent-Length: " + QByteArray::number(body.size()) +
           "\r\n\r\n" + body;
}

// A consumer that asks the connection to pause after every `everyBytes` it took, until the test
// lets it go on (BodyConsumer::readyForMore): what a PostgreSQL blob writer does when its queue
// of chunks is full. The test reads and steers it through a Control it shares (the consumer
// itself is freed once the request was handled).
class PausingConsumer final : public BodyConsumer
{
public:
    struct Control
    {
        // Lets the body go on (from the test's thread).
        void goOn()
        {
            QMutexLocker lock(&mutex);
            if (promise) {
                promise->finish();
                promise.reset();
            }
        }
        bool paused()
        {
            QMutexLocker lock(&mutex);
            return promise.has_value();
        }
        std::atomic<qint64> bytes = 0;
        std::atomic<int> pauses = 0;
        std::atomic<bool> finished = false;
        std::atomic<bool> aborted = false;
        QMutex mutex;
        std::optional<QPromise<void>> promise;
    };

    PausingConsumer(std::shared_ptr<Control> control, qint64 everyBytes)
        : m_control(std::move(control)), m_every(everyBytes)
    {}
    bool write(QByteArrayView data) override
    {
        m_control->bytes += data.size();
        return true;
    }
    bool finish() override
    {
        m_control->finished = true;
        return true;
    }
    void abort() override { m_control->aborted = true; }
    std::optional<QFuture<void>> readyForMore() override
    {
        const qint64 bytes = m_control->bytes.load();
        if (bytes < m_nextPause)
            return std::nullopt;
        m_nextPause = bytes + m_every;
        QMutexLocker lock(&m_control->mutex);
        m_control->promise.emplace();
        m_control->promise->start();
        ++m_control->pauses;
        return m_control->promise->future();
    }

private:
    std::shared_ptr<Control> m_control;
    const qint64 m_every;
    qint64 m_nextPause = 0;
};

} // namespace

class tst_HttpDecideLater : public QObject
{
    Q_OBJECT

private:
    TestHandler m_handler;
    std::unique_ptr<HttpServer> m_server;
    quint16 m_port = 0;
    std::deque<ManualDecision> m_decisions; // one per deferred request, in arrival order
    QMutex m_decisionsMutex;

    bool start(HttpLimits limits = {})
    {
        limits.networkThreads = 1; // a wait on the network thread would hold every connection
        m_server = std::make_unique<HttpServer>(m_handler, limits);
        auto port = m_server->listen(QHostAddress::LocalHost, 0);
        m_port = port.ok() ? *port : 0;
        return port.ok();
    }
    // Requests whose path starts with /later are decided by the test; others at once.
    void deferLaterPaths()
    {
        m_handler.onHeaders = [this](const Request &request) {
            if (!request.path.startsWith("/later"))
                return HeaderDecision::accept();
            QMutexLocker lock(&m_decisionsMutex);
            return HeaderDecision::decideLater(m_decisions.emplace_back().future());
        };
    }
    ManualDecision &decision(size_t index)
    {
        QMutexLocker lock(&m_decisionsMutex);
        return m_decisions.at(index);
    }
    bool waitDeferred(size_t count)
    {
        return QTest::qWaitFor(
            [&] {
                QMutexLocker lock(&m_decisionsMutex);
                return m_decisions.size() >= count;
            },
            20'000);
    }

private Q_SLOTS:
    void init()
    {
        m_handler.onHeaders = {};
        m_handler.onHandle = {};
        m_handler.handled = 0;
        m_handler.headersSeen = 0;
        QMutexLocker lock(&m_handler.serverAnswersMutex);
        m_handler.serverAnswers.clear();
    }
    void cleanup()
    {
        m_server.reset();
        QMutexLocker lock(&m_decisionsMutex);
        m_decisions.clear();
        QCOMPARE(CountingConsumer::alive.load(), 0); // every consumer of a decision was freed
    }

    // While one request waits for its decision, another connection on the same (only) network
    // thread is answered: the wait holds no thread.
    void otherConnectionsAreServedWhileDeciding()
    {
        deferLaterPaths();
        QVERIFY(start());
        RawClient waiting(m_port);
        QVERIFY(waiting.waitConnected());
        waiting.send("GET /later HTTP/1.1\r\nHost: x\r\n\r\n");
        QVERIFY(waitDeferred(1));
        RawClient other(m_port);
        QVERIFY(other.waitConnected());
        other.send("GET /now HTTP/1.1\r\nHost: x\r\n\r\n");
        QVERIFY(other.waitResponses(1));
        QCOMPARE(other.responses[0].status, 200);
        QCOMPARE(waiting.pump(), 0);
        QCOMPARE(m_handler.handled.load(), 1); // only the other one

        decision(0).give(HeaderDecision::accept());
        QVERIFY(waiting.waitResponses(1));
        QCOMPARE(waiting.responses[0].status, 200);
        QCOMPARE(waiting.responses[0].json().value(QStringLiteral("path")).toString(),
                 QStringLiteral("/later"));
    }

    // A request without a body completes once accepted though nothing more arrives: the parser
    // goes on from where it paused.
    void bodilessRequestCompletesAfterTheDecision()
    {
        deferLaterPaths();
        QVERIFY(start());
        RawClient client(m_port);
        QVERIFY(client.waitConnected());
        client.send("DELETE /later/1 HTTP/1.1\r\nHost: x\r\n\r\n");
        QVERIFY(waitDeferred(1));
        QTest::qWait(100);
        QCOMPARE(m_handler.handled.load(), 0);
        decision(0).give(HeaderDecision::accept());
        QVERIFY(client.waitResponses(1));
        QCOMPARE(client.responses[0].status, 200);
        QCOMPARE(client.responses[0].json().value(QStringLiteral("method")).toString(),
                 QStringLiteral("DELETE"));
        QVERIFY(client.isOpen()); // keep-alive goes on
        client.send("GET /now HTTP/1.1\r\nHost: x\r\n\r\n");
        QVERIFY(client.waitResponses(2));
        QCOMPARE(client.responses[1].status, 200);
    }

    // No body byte reaches anyone before the decision; then the decided consumer gets all.
    void bodyGoesToTheConsumerDecidedLater()
    {
        deferLaterPaths();
        QVERIFY(start());
        auto *consumer = new CountingConsumer;
        std::atomic<qint64> handedBytes{-1};
        m_handler.onHandle = [&](Request request, std::unique_ptr<BodyConsumer> body,
                                 Responder respond) {
            auto *counting = dynamic_cast<CountingConsumer *>(body.get());
            handedBytes = counting && counting->finished ? counting->bytes : -2;
            respond(TestHandler::echo(request));
        };
        const QByteArray body(200'000, 'x');
        RawClient client(m_port);
        QVERIFY(client.waitConnected());
        client.send(post("/later/upload", body));
        QVERIFY(waitDeferred(1));
        QTest::qWait(100);
        QCOMPARE(consumer->bytes, 0);
        decision(0).give(HeaderDecision::streamInto(std::unique_ptr<BodyConsumer>(consumer)));
        QVERIFY(client.waitResponses(1));
        QCOMPARE(client.responses[0].status, 200);
        QCOMPARE(handedBytes.load(), qint64(body.size()));
    }

    // A body consumer whose sink is slow pauses the body (readyForMore): nothing more is read
    // from that client while it waits, while another connection on the same (only) network
    // thread is served; the body stall timeout does not count the wait; once the consumer goes
    // on, the rest of the body arrives, whole, and the request is handled.
    void slowConsumerPausesItsBodyNotTheThread()
    {
        HttpLimits limits = fastLimits(); // a 300 ms body stall timeout
        QVERIFY(start(limits));
        auto control = std::make_shared<PausingConsumer::Control>();
        m_handler.onHeaders = [&](const Request &request) {
            if (request.path != "/upload")
                return HeaderDecision::accept();
            return HeaderDecision::streamInto(
                std::make_unique<PausingConsumer>(control, 256 * 1024));
        };
        std::atomic<int> uploadsHandled{0};
        m_handler.onHandle = [&](Request request, std::unique_ptr<BodyConsumer> body,
                                 Responder respond) {
            if (request.path == "/upload" && dynamic_cast<PausingConsumer *>(body.get()))
                ++uploadsHandled;
            respond(TestHandler::echo(request));
        };
        const QByteArray body(8 * 1024 * 1024, 'x');
        // Built before connecting: under ThreadSanitizer copying 8 MiB takes about the 300 ms of
        // the header timeout, which would close the connection before its first byte.
        const QByteArray upload = post("/upload", body);
        RawClient client(m_port);
        QVERIFY(client.waitConnected());
        client.send(upload);
        QVERIFY(QTest::qWaitFor([&] { return control->paused(); }, 20'000));

        // Paused: what it took stays put (past the stall timeout: the wait is not a stall), and
        // the only network thread answers someone else.
        const qint64 atPause = control->bytes.load();
        QVERIFY(atPause < body.size());
        RawClient other(m_port);
        QVERIFY(other.waitConnected());
        other.send("GET /now HTTP/1.1\r\nHost: x\r\n\r\n");
        QVERIFY(other.waitResponses(1));
        QCOMPARE(other.responses[0].status, 200);
        QTest::qWait(600);
        QCOMPARE(control->bytes.load(), atPause);
        QCOMPARE(client.pump(), 0);
        QVERIFY(client.isOpen());

        // Going on, pause after pause, until the body is whole and handled.
        QVERIFY(QTest::qWaitFor(
            [&] {
                control->goOn();
                return uploadsHandled.load() == 1;
            },
            30'000));
        QVERIFY(client.waitResponses(1));
        QCOMPARE(client.responses[0].status, 200);
        QCOMPARE(control->bytes.load(), qint64(body.size()));
        QVERIFY(control->finished);
        QVERIFY(!control->aborted);
        QVERIFY(control->pauses.load() >= 8); // 8 MiB, a pause every 256 KiB or more
    }

    // Requests pipelined behind a deferred one wait their turn and are answered in order, and a
    // refusal decided later is sent like one decided at once.
    void pipelinedRequestsWaitAndKeepTheirOrder()
    {
        deferLaterPaths();
        QVERIFY(start());
        RawClient client(m_port);
        QVERIFY(client.waitConnected());
        client.send("GET /later/a HTTP/1.1\r\nHost: x\r\n\r\n"
                    "GET /now/b HTTP/1.1\r\nHost: x\r\n\r\n"
                    "GET /later/c HTTP/1.1\r\nHost: x\r\n\r\n");
        QVERIFY(waitDeferred(1));
        QTest::qWait(100);
        QCOMPARE(m_handler.headersSeen.load(), 1); // nothing read past the deferred headers
        decision(0).give(HeaderDecision::refuse(Response::error(403, QStringLiteral("Forbidden"),
                                                                QStringLiteral("Not yours."),
                                                                QStringLiteral("forbidden"))));
        QVERIFY(waitDeferred(2));
        decision(1).give(HeaderDecision::accept());
        QVERIFY(client.waitResponses(3));
        QCOMPARE(client.responses[0].status, 403);
        QCOMPARE(client.responses[0].errorCode(), QStringLiteral("forbidden"));
        QCOMPARE(client.responses[1].json().value(QStringLiteral("path")).toString(),
                 QStringLiteral("/now/b"));
        QCOMPARE(client.responses[2].json().value(QStringLiteral("path")).toString(),
                 QStringLiteral("/later/c"));
    }

    // A refusal decided later for a request with a body: answered, the body never read, closed.
    void laterRefusalOfABodyCloses()
    {
        deferLaterPaths();
        QVERIFY(start());
        RawClient client(m_port);
        QVERIFY(client.waitConnected());
        client.send(post("/later/upload", QByteArray(1000, 'y')));
        QVERIFY(waitDeferred(1));
        decision(0).give(HeaderDecision::refuse(Response::error(429, QStringLiteral("Too many"),
                                                                QStringLiteral("Wait."),
                                                                QStringLiteral("quota_exceeded"))));
        QVERIFY(client.waitResponses(1));
        QCOMPARE(client.responses[0].status, 429);
        QVERIFY(client.waitClosed());
        QCOMPARE(m_handler.handled.load(), 0);
    }

    // A decision ready before the connection looks is taken at once.
    void decisionReadyAtOnceIsTakenAtOnce()
    {
        m_handler.onHeaders = [](const Request &) {
            QPromise<Decision> promise;
            promise.start();
            promise.addResult(std::make_shared<HeaderDecision>(HeaderDecision::accept()));
            promise.finish();
            return HeaderDecision::decideLater(promise.future());
        };
        QVERIFY(start());
        RawClient client(m_port);
        QVERIFY(client.waitConnected());
        client.send(post("/x", "abc") + "GET /y HTTP/1.1\r\nHost: x\r\n\r\n");
        QVERIFY(client.waitResponses(2));
        QCOMPARE(client.responses[0].json().value(QStringLiteral("bodyBytes")).toInt(), 3);
        QCOMPARE(client.responses[1].json().value(QStringLiteral("path")).toString(),
                 QStringLiteral("/y"));
    }

    // A decision that never comes is bounded by responseTimeoutMs (503, closed); when it comes
    // after all, its consumer is aborted and freed, never fed.
    void decisionThatNeverComesIs503()
    {
        deferLaterPaths();
        HttpLimits limits;
        limits.responseTimeoutMs = 400;
        QVERIFY(start(limits));
        RawClient client(m_port);
        QVERIFY(client.waitConnected());
        client.send(post("/later/upload", QByteArray(1000, 'z')));
        QVERIFY(waitDeferred(1));
        QVERIFY(client.waitResponses(1));
        QCOMPARE(client.responses[0].status, 503);
        QCOMPARE(client.responses[0].errorCode(), QStringLiteral("response_timeout"));
        QVERIFY(client.waitClosed());
        const int abortedBefore = CountingConsumer::aborted.load();
        decision(0).give(HeaderDecision::streamInto(std::make_unique<CountingConsumer>()));
        QVERIFY(QTest::qWaitFor([&] { return CountingConsumer::aborted.load() > abortedBefore; },
                                20'000));
        QVERIFY(QTest::qWaitFor([] { return CountingConsumer::alive.load() == 0; }, 20'000));
        QCOMPARE(m_handler.handled.load(), 0);
    }

    // The client leaves while its request is being decided: the decision's consumer is aborted.
    void clientGoneWhileDecidingAbortsTheConsumer()
    {
        deferLaterPaths();
        QVERIFY(start());
        {
            RawClient client(m_port);
            QVERIFY(client.waitConnected());
            client.send(post("/later/upload", QByteArray(1000, 'w')));
            QVERIFY(waitDeferred(1));
            client.m_socket.abort();
        }
        QTest::qWait(200); // the server sees the close
        const int abortedBefore = CountingConsumer::aborted.load();
        decision(0).give(HeaderDecision::streamInto(std::make_unique<CountingConsumer>()));
        QVERIFY(QTest::qWaitFor([&] { return CountingConsumer::aborted.load() > abortedBefore; },
                                20'000));
        QVERIFY(QTest::qWaitFor([] { return CountingConsumer::alive.load() == 0; }, 20'000));
        QCOMPARE(m_handler.handled.load(), 0);
    }

    // A decision that ends without a result (its thread pool stopped) still answers: 503.
    void cancelledDecisionIs503()
    {
        deferLaterPaths();
        QVERIFY(start());
        RawClient client(m_port);
        QVERIFY(client.waitConnected());
        client.send("GET /later HTTP/1.1\r\nHost: x\r\n\r\n");
        QVERIFY(waitDeferred(1));
        decision(0).promise.finish(); // no result
        QVERIFY(client.waitResponses(1));
        QCOMPARE(client.responses[0].status, 503);
        QCOMPARE(client.responses[0].errorCode(), QStringLiteral("no_decision"));
    }
};

QTEST_GUILESS_MAIN(tst_HttpDecideLater)
#include "tst_httpdecidelater.moc"
