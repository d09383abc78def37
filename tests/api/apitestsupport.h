#pragma once

// A real API server on loopback over a temporary store (SQLite, or PostgreSQL under
// FERRY_TEST_BACKEND=postgres: tests/support/testbackend.h), and a real HTTP client
// (QNetworkAccessManager), for the API tests. Route groups are added by each test as needed.
#include "api/apihandler.h"
#include "api/jobroutes.h"
#include "api/quotaroutes.h"
#include "api/systemroutes.h"
#include "http/httpserver.h"
#include "httpclient.h"
#include "queue/builtinhandlers.h"
#include "queue/dispatcher.h"
#include "testsupport.h"

#include <QNetworkAccessManager>
#include <QTest>

namespace Ferry::Test {

using Reply = HttpReply;

struct ApiFixture
{
    explicit ApiFixture(qint64 limit = 1000)
    {
        registerBuiltinHandlers(handlers);
        queue = std::make_unique<JobQueue>(*t.store, handlers, t.clock, QueueConfig{});
        users = std::make_unique<UserDirectory>(*t.store, t.clock);
        auto a = users->addUser(QStringLiteral("alice"));
        auto b = users->addUser(QStringLiteral("bob"));
        alice = a->user;
        bob = b->user;
        aliceToken = a->token.toUtf8();
        bobToken = b->token.toUtf8();
        RateLimitPolicy policy;
        policy.limit = limit;
        policy.window = std::chrono::seconds(60);
        auto created = RateLimiter::create(policy, t.clock);
        limiter = std::move(created.value());
        handler = std::make_unique<ApiHandler>(*users, *limiter, ClientAddress(), &log);
        // Never started: /metrics reads its limits (tests set them), it claims nothing.
        dispatcher =
            std::make_unique<Dispatcher>(*queue, handlers, t.clock, QStringLiteral("api-test"));
        system = std::make_unique<SystemRoutes>(*t.store, handler->metrics(), dispatcher.get(),
                                                SystemRoutes::Options{true, "test"});
        jobs = std::make_unique<JobRoutes>(*t.store, *queue);
        handler->addRoutes(*system);
        handler->addRoutes(*jobs);
        quotas = std::make_unique<QuotaLedger>(*t.store, t.clock);
        quotaRoutes = std::make_unique<QuotaRoutes>(*quotas);
        handler->addRoutes(*quotaRoutes);
        server = std::make_unique<Http::HttpServer>(*handler);
        port = *server->listen(QHostAddress::LocalHost, 0);
    }
    ~ApiFixture() { server.reset(); }

    Reply call(const QByteArray &method,
               const QString &path,
               const QByteArray &token = {},
               QList<std::pair<QByteArray, QByteArray>> extra = {})
    {
        return sendHttp(network, method,
                        QUrl(QStringLiteral("http://127.0.0.1:%1%2").arg(port).arg(path)), token,
                        extra);
    }

    TempStore t;
    HandlerRegistry handlers;
    std::unique_ptr<JobQueue> queue;
    std::unique_ptr<UserDirectory> users;
    std::unique_ptr<RateLimiter> limiter;
    std::unique_ptr<Dispatcher> dispatcher;
    AccessLog log{AccessLog::Format::Off};
    std::unique_ptr<SystemRoutes> system; // outlive the handler: it calls them
    std::unique_ptr<JobRoutes> jobs;
    std::unique_ptr<QuotaLedger> quotas;
    std::unique_ptr<QuotaRoutes> quotaRoutes;
    std::unique_ptr<ApiHandler> handler;
    std::unique_ptr<Http::HttpServer> server;
    QNetworkAccessManager network;
    quint16 port = 0;
    User alice, bob;
    QByteArray aliceToken, bobToken;
};

} // namespace Ferry::Test
