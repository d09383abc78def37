// The API over the server layer, against what a hostile or unlucky client meets: the layer's own
// answers in the access log and /metrics, 5xx bodies without internals, a store error during
// authentication, the Bearer scheme in any case, one notion of client for the connection cap,
// and /metrics behind a proxy.
#include "apitestsupport.h"
#include "http/httptestsupport.h"

#include <QFile>
#include <QTemporaryFile>

using namespace Ferry;
using namespace Ferry::Test;
using Ferry::Http::Test::RawClient;

namespace {

QStringList g_messages;
QMutex g_messagesMutex;

void captureMessages(QtMsgType, const QMessageLogContext &, const QString &message)
{
    QMutexLocker lock(&g_messagesMutex);
    g_messages.append(message);
}

QString loggedLine(const QString &needle)
{
    QMutexLocker lock(&g_messagesMutex);
    for (const QString &message : std::as_const(g_messages)) {
        if (message.contains(needle))
            return message;
    }
    return {};
}

// An API handler of our own over ApiFixture's store and users: a JSON access log in a file,
// /metrics with its options, routes that fail, and a server with the given limits.
struct HostileApi
{
    explicit HostileApi(Http::HttpLimits limits = {}, int jobCountsMaxAgeMs = 5'000)
    {
        logFile.open();
        logStream = std::fopen(logFile.fileName().toLocal8Bit().constData(), "w");
        log = std::make_unique<AccessLog>(AccessLog::Format::Json, logStream);
        handler =
            std::make_unique<ApiHandler>(*api.users, *api.limiter, ClientAddress(), log.get());
        SystemRoutes::Options options{true, "test"};
        options.jobCountsMaxAgeMs = jobCountsMaxAgeMs;
        system = std::make_unique<SystemRoutes>(*api.t.store, handler->metrics(), nullptr, options);
        handler->addRoutes(*system);
        jobs = std::make_unique<JobRoutes>(*api.t.store, *api.queue);
        handler->addRoutes(*jobs);
        ApiRoute boom;
        boom.method = "GET";
        boom.path = "/api/v1/boom/{kind}";
        boom.handle = [](const ApiCall &call) {
            const ErrorCode code =
                call.param(0) == "storage" ? ErrorCode::Storage : ErrorCode::Internal;
            call.respond(Api::fromError(
                makeError(code, QStringLiteral("SQL error near \"SELECT token_hash FROM users\" in "
                                               "/var/lib/ferry/ferry.db"))));
        };
        handler->addRoute(boom);
        server = std::make_unique<Http::HttpServer>(*handler, limits);
        port = *server->listen(QHostAddress::LocalHost, 0);
    }
    ~HostileApi()
    {
        server.reset();
        handler.reset();
        log.reset();
        std::fclose(logStream);
    }

    Reply call(const QByteArray &method,
               const QString &path,
               const QByteArray &authorization = {},
               QList<std::pair<QByteArray, QByteArray>> extra = {})
    {
        if (!authorization.isEmpty())
            extra.append({"Authorization", authorization});
        api.port = port;
        return api.call(method, path, {}, extra);
    }
    QByteArray accessLog()
    {
        log->flush();
        QFile file(logFile.fileName());
        return file.open(QIODevice::ReadOnly) ? file.readAll() : QByteArray();
    }
    // One raw request on its own connection; the connection's first response.
    Http::Test::ParsedResponse raw(const QByteArray &request)
    {
        RawClient client(port);
        if (!client.waitConnected())
            return {};
        client.send(request);
        client.waitResponses(1, 20'000);
        return client.responses.value(0);
    }

    ApiFixture api;
    QTemporaryFile logFile;
    std::FILE *logStream = nullptr;
    std::unique_ptr<AccessLog> log;
    std::unique_ptr<SystemRoutes> system;
    std::unique_ptr<JobRoutes> jobs;
    std::unique_ptr<ApiHandler> handler;
    std::unique_ptr<Http::HttpServer> server;
    quint16 port = 0;
};

} // namespace

class tst_ApiHostile : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init()
    {
        QMutexLocker lock(&g_messagesMutex);
        g_messages.clear();
    }

    // 400, 431, 413 and 408 answered by the server layer show in /metrics and the access log.
    void layerAnswersAreCountedAndLogged()
    {
        Http::HttpLimits limits;
        limits.headerTimeoutMs = 300;
        HostileApi api(limits);
        QCOMPARE(api.raw("GARBAGE\r\n\r\n").status, 400);
        QCOMPARE(
            api.raw("GET /api/v1/health HTTP/1.1\r\nX-Big: " + QByteArray(20'000, 'a') + "\r\n\r\n")
                .status,
            431);
        QCOMPARE(api.raw("POST /api/v1/uploads HTTP/1.1\r\nContent-Length: 9223372036854775808"
                         "\r\n\r\n")
                     .status,
                 413);
        QCOMPARE(api.raw("GET /api/v1/health HTTP/1.1\r\n").status, 408);
        const Reply metrics = api.call("GET", QStringLiteral("/metrics"));
        QCOMPARE(metrics.status, 200);
        for (const char *status : {"400", "408", "413", "431"}) {
            const QByteArray series =
                QByteArray("ferry_http_requests_total{route=\"server\",status=\"") + status +
                "\"} 1\n";
            QVERIFY2(metrics.body.contains(series), metrics.body.constData());
        }
        const QByteArray log = api.accessLog();
        for (const char *status : {"400", "408", "413", "431"})
            QVERIFY2(log.contains(QByteArray(QByteArray("\"status\":") + status)), log.constData());
        QVERIFY2(log.contains("\"path\":\"/api/v1/uploads\""), log.constData());
    }

    // A body over a route's limit, refused by the layer after the API accepted the headers, is
    // counted once, under its route.
    void layerRefusalOfAnAcceptedRequestCountsUnderItsRoute()
    {
        HostileApi api;
        QCOMPARE(api.raw("GET /api/v1/jobs/1 HTTP/1.1\r\nAuthorization: Bearer " +
                         api.api.aliceToken + "\r\nContent-Length: 9000000\r\n\r\n")
                     .status,
                 413);
        const Reply metrics = api.call("GET", QStringLiteral("/metrics"));
        QVERIFY2(metrics.body.contains(
                     "ferry_http_requests_total{route=\"/api/v1/jobs/{id}\",status=\"413\"} 1\n"),
                 metrics.body.constData());
    }

    void fiveHundredsHideDetails_data()
    {
        QTest::addColumn<QString>("kind");
        QTest::addColumn<int>("status");
        QTest::newRow("storage") << QStringLiteral("storage") << 503;
        QTest::newRow("internal") << QStringLiteral("internal") << 500;
    }
    void fiveHundredsHideDetails()
    {
        QFETCH(QString, kind);
        QFETCH(int, status);
        HostileApi api;
        const QtMessageHandler previous = qInstallMessageHandler(captureMessages);
        const Reply reply =
            api.call("GET", QStringLiteral("/api/v1/boom/") + kind, "Bearer " + api.api.aliceToken);
        qInstallMessageHandler(previous);
        QCOMPARE(reply.status, status);
        QVERIFY2(!reply.body.contains("SELECT") && !reply.body.contains("/var/lib"),
                 reply.body.constData());
        const QString reference = reply.json.value(u"reference").toString();
        QVERIFY2(reference.startsWith(u"E-"), reply.body.constData());
        QVERIFY(reply.json.value(u"message").toString().contains(reference));
        QCOMPARE(reply.json.value(u"success").toBool(true), false);
        QVERIFY(!reply.json.value(u"code").toString().isEmpty());
        // The operator finds the detail under the reference.
        const QString line = loggedLine(reference);
        QVERIFY2(line.contains(u"SELECT token_hash FROM users"), qPrintable(line));
    }

    // A storage error while looking the token up is the server's problem (503), not the
    // client's (401: "your token is bad").
    void storeErrorDuringAuthenticationIs503()
    {
        HostileApi api;
        QString error;
        writeRows(api.api.t.location(), QStringLiteral("ALTER TABLE users RENAME TO users_gone"),
                  &error);
        QVERIFY2(error.isEmpty(), qPrintable(error));
        const Reply reply =
            api.call("GET", QStringLiteral("/api/v1/jobs/1"), "Bearer " + api.api.bobToken);
        QCOMPARE(reply.status, 503);
        QVERIFY(!reply.headers.contains("www-authenticate"));
        // An unknown token is still 401 once the store answers again.
        writeRows(api.api.t.location(), QStringLiteral("ALTER TABLE users_gone RENAME TO users"),
                  &error);
        QCOMPARE(api.call("GET", QStringLiteral("/api/v1/jobs/1"), "Bearer nope").status, 401);
    }

    void bearerSchemeIsCaseInsensitive_data()
    {
        QTest::addColumn<QByteArray>("scheme");
        QTest::newRow("Bearer") << QByteArray("Bearer");
        QTest::newRow("bearer") << QByteArray("bearer");
        QTest::newRow("BEARER") << QByteArray("BEARER");
        QTest::newRow("bEaReR") << QByteArray("bEaReR");
    }
    void bearerSchemeIsCaseInsensitive()
    {
        QFETCH(QByteArray, scheme);
        HostileApi api;
        const Reply reply = api.call("GET", QStringLiteral("/api/v1/jobs/424242"),
                                     scheme + ' ' + api.api.aliceToken);
        QCOMPARE(reply.status, 404); // authenticated; the job does not exist
        QCOMPARE(
            api.call("GET", QStringLiteral("/api/v1/jobs/1"), "Basic " + api.api.aliceToken).status,
            401);
    }

    // The connection cap keys clients like the rate limit: IPv4 address, IPv6 /56, mapped IPv4
    // as IPv4; a trusted proxy is not capped per client.
    void connectionKeyIsTheRateLimitsClient()
    {
        HostileApi api;
        ApiHandler &handler = *api.handler;
        const auto key = [&](const char *address) {
            return handler.connectionKey(QHostAddress(QString::fromLatin1(address)));
        };
        QCOMPARE(key("2001:db8:aa00::1"), key("2001:db8:aa00:ff::2"));
        QVERIFY(key("2001:db8:aa00::1") != key("2001:db8:ab00::1"));
        QCOMPARE(key("::ffff:192.0.2.7"), key("192.0.2.7"));
        QVERIFY(key("192.0.2.7") != key("192.0.2.8"));
        handler.setClientAddress(*ClientAddress::fromTrustedProxies(QStringLiteral("10.0.0.0/8")));
        QVERIFY(key("10.1.2.3").isEmpty());
        QVERIFY(!key("192.0.2.7").isEmpty());
    }

    void trustedProxyIsNotCappedPerClient()
    {
        Http::HttpLimits limits;
        limits.maxConnectionsPerIp = 2;
        HostileApi api(limits);
        api.handler->setClientAddress(
            *ClientAddress::fromTrustedProxies(QStringLiteral("127.0.0.1")));
        std::vector<std::unique_ptr<RawClient>> clients;
        for (int i = 0; i < 4; ++i) {
            clients.push_back(std::make_unique<RawClient>(api.port));
            QVERIFY(clients.back()->waitConnected());
        }
        QTRY_COMPARE_WITH_TIMEOUT(api.server->openConnections(), 4, 10'000);
        for (auto &client : clients) {
            client->send("GET /api/v1/health HTTP/1.1\r\nX-Forwarded-For: 192.0.2.1\r\n\r\n");
            QVERIFY(client->waitResponses(1, 10'000));
            QCOMPARE(client->responses[0].status, 200);
        }
        // An untrusted peer is capped: drop trust, and a third connection is refused.
        clients.clear();
        QTRY_COMPARE_WITH_TIMEOUT(api.server->openConnections(), 0, 10'000);
        api.handler->setClientAddress(ClientAddress());
        for (int i = 0; i < 2; ++i) {
            clients.push_back(std::make_unique<RawClient>(api.port));
            QVERIFY(clients.back()->waitConnected());
        }
        QTRY_COMPARE_WITH_TIMEOUT(api.server->openConnections(), 2, 10'000);
        RawClient third(api.port);
        QVERIFY(third.waitConnected());
        QVERIFY(third.waitClosed(10'000));
        QCOMPARE(third.responses.value(0).status, 503);
    }

    // A same-host reverse proxy connects from loopback: what it relays is not a local scrape.
    void metricsRefuseProxiedRequests_data()
    {
        QTest::addColumn<QByteArray>("header");
        QTest::addColumn<bool>("trusted");
        QTest::newRow("X-Forwarded-For, trusted proxy") << QByteArray("X-Forwarded-For") << true;
        QTest::newRow("X-Forwarded-For, untrusted") << QByteArray("X-Forwarded-For") << false;
        QTest::newRow("Forwarded") << QByteArray("Forwarded") << false;
        QTest::newRow("X-Real-IP") << QByteArray("X-Real-IP") << false;
    }
    void metricsRefuseProxiedRequests()
    {
        QFETCH(QByteArray, header);
        QFETCH(bool, trusted);
        HostileApi api;
        if (trusted) {
            api.handler->setClientAddress(
                *ClientAddress::fromTrustedProxies(QStringLiteral("127.0.0.1")));
        }
        const QByteArray value = header == "Forwarded" ? "for=192.0.2.1" : "192.0.2.1";
        const Reply relayed = api.call("GET", QStringLiteral("/metrics"), {}, {{header, value}});
        QCOMPARE(relayed.status, 403);
        QCOMPARE(api.call("GET", QStringLiteral("/metrics")).status, 200);
    }

    // The job counts are read at most once per max age, however often /metrics is scraped.
    void metricsJobCountsAreCached()
    {
        HostileApi api({}, 3'600'000);
        const auto pending = [&] {
            const Reply metrics = api.call("GET", QStringLiteral("/metrics"));
            for (const QByteArray &line : metrics.body.split('\n')) {
                if (line.startsWith("ferry_jobs{state=\"pending\"} "))
                    return line.mid(28).toInt();
            }
            return -1;
        };
        QCOMPARE(pending(), 0);
        NewJob job;
        job.userId = api.api.alice.id;
        job.type = QStringLiteral("noop");
        QVERIFY(api.api.queue->enqueue(job).ok());
        for (int i = 0; i < 20; ++i)
            QCOMPARE(pending(), 0); // the cached figure: no COUNT per scrape
        HostileApi fresh({}, 0);
        QVERIFY(fresh.api.queue->enqueue(job).ok());
        const Reply metrics = fresh.call("GET", QStringLiteral("/metrics"));
        QVERIFY2(metrics.body.contains("ferry_jobs{state=\"pending\"} 1\n"),
                 metrics.body.constData());
    }
};

QTEST_GUILESS_MAIN(tst_ApiHostile)
#include "tst_apihostile.moc"
