#pragma once

// The upload and job API's test fixture: a copy of apitestsupport.h's ApiFixture (which others
// use unchanged) with every route group of the API, a real migrate handler over a blob store,
// and a dispatcher started on demand. groups() is the one list of the API's route groups: the
// isolation walk and the OpenAPI test iterate it, so a new group is one line here.
#include "api/apihandler.h"
#include "api/datasetroutes.h"
#include "api/eventroutes.h"
#include "api/jobdeleteroutes.h"
#include "api/jobroutes.h"
#include "api/migrationroutes.h"
#include "api/quotaroutes.h"
#include "api/systemroutes.h"
#include "api/tusroutes.h"
#include "api/uploadroutes.h"
#include "http/httpserver.h"
#include "httpclient.h"
#include "migrate/migratehandler.h"
#include "migrate/migrationrequest.h"
#include "queue/builtinhandlers.h"
#include "queue/dispatcher.h"
#include "quota/quotaledger.h"
#include "storage/fileblobstore.h"
#include "testsupport.h"

#include <QBuffer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QTest>

namespace Ferry::Test {

using JobsReply = HttpReply;

struct JobsApiFixture
{
    JobsApiFixture() : blobs(t.dir.path() + QStringLiteral("/blobs"), 0)
    {
        registerBuiltinHandlers(handlers);
        handlers.add(
            QStringLiteral("migrate"),
            std::make_shared<MigrateHandler>(t.store->datasets(), blobs, clock, MigrateConfig{}));
        QueueConfig config;
        config.pollIntervalMs = 20;
        config.backoffBaseMs = 10;
        queue = std::make_unique<JobQueue>(*t.store, handlers, clock, config);
        users = std::make_unique<UserDirectory>(*t.store, clock);
        auto a = users->addUser(QStringLiteral("alice"));
        auto b = users->addUser(QStringLiteral("bob"));
        alice = a->user;
        bob = b->user;
        aliceToken = a->token.toUtf8();
        bobToken = b->token.toUtf8();
        RateLimitPolicy policy;
        policy.limit = 100'000;
        policy.window = std::chrono::seconds(60);
        limiter = std::move(RateLimiter::create(policy, t.clock).value());
        handler = std::make_unique<ApiHandler>(*users, *limiter, ClientAddress(), &log);
        system = std::make_unique<SystemRoutes>(*t.store, handler->metrics(), nullptr,
                                                SystemRoutes::Options{true, "test"});
        jobs = std::make_unique<JobRoutes>(*t.store, *queue);
        datasets = std::make_unique<DatasetRoutes>(*t.store, clock);
        // Uploads, tus uploads and the quota as app/enginehost.cpp wires them: one ledger counts
        // both kinds of upload.
        quotas = std::make_unique<QuotaLedger>(*t.store, clock);
        quota = std::make_unique<QuotaRoutes>(*quotas);
        TusOptions tusOptions;
        tusOptions.directory = t.dir.path() + QStringLiteral("/tus");
        tusUploads = std::make_unique<TusUploads>(*t.store, *queue, blobs, clock, quotas.get(),
                                                  std::move(tusOptions));
        tus = std::make_unique<TusRoutes>(*tusUploads);
        keys = std::make_unique<IdempotencyKeys>(*t.store, clock, quotas->nodeId());
        uploads = std::make_unique<UploadRoutes>(*queue, blobs, clock, quotas.get(), *keys,
                                                 UploadRoutes::Options{});
        reruns = std::make_unique<UploadReruns>(*t.store, *queue, blobs, 100'000);
        migrations = std::make_unique<MigrationRoutes>(*reruns);
        // Job events, polled often so tests stay fast; deleting finished jobs and uploads.
        JobEventHubOptions eventOptions;
        eventOptions.pollInterval = std::chrono::milliseconds(100);
        eventOptions.minPollGap = std::chrono::milliseconds(50);
        eventOptions.keepAliveInterval = std::chrono::milliseconds(2000);
        eventHub = std::make_unique<JobEventHub>(*t.store, eventOptions);
        events = std::make_unique<EventRoutes>(*eventHub);
        jobDelete = std::make_unique<JobDeleteRoutes>(*t.store, blobs, clock);
        for (ApiRouteGroup *group : groups())
            handler->addRoutes(*group);
        server = std::make_unique<Http::HttpServer>(*handler);
        port = *server->listen(QHostAddress::LocalHost, 0);
    }
    ~JobsApiFixture()
    {
        server.reset();
        dispatcher.reset();
    }

    // Every route group the API registers, as app/enginehost.cpp registers them.
    QList<ApiRouteGroup *> groups()
    {
        return {system.get(), jobs.get(),       datasets.get(), quota.get(),    uploads.get(),
                tus.get(),    migrations.get(), events.get(),   jobDelete.get()};
    }

    JobsReply call(const QByteArray &method, const QString &path, const QByteArray &token = {})
    {
        return send(method, path, token, {}, {});
    }

    // A request with headers (name, value) and a body (none when null).
    JobsReply send(const QByteArray &method,
                   const QString &path,
                   const QByteArray &token,
                   const QList<std::pair<QByteArray, QByteArray>> &headers,
                   const QByteArray &body)
    {
        return sendHttp(network, method,
                        QUrl(QStringLiteral("http://127.0.0.1:%1%2").arg(port).arg(path)), token,
                        headers, body.isNull() ? std::nullopt : std::optional(body), 90'000);
    }
    JobsReply get(const QString &path, const QByteArray &token) { return call("GET", path, token); }

    qint64 enqueue(qint64 user, const QString &dataset = {}, const QString &type = {})
    {
        NewJob job;
        job.userId = user;
        job.type = type.isEmpty() ? QStringLiteral("noop") : type;
        if (!dataset.isEmpty())
            job.payload.insert(QStringLiteral("dataset"), dataset);
        return queue->enqueue(job)->id;
    }

    void startDispatcher()
    {
        if (dispatcher)
            return;
        dispatcher = std::make_unique<Dispatcher>(*queue, handlers, clock, QStringLiteral("test"));
        QVERIFY(dispatcher->start().ok());
    }

    // A migration of content into the user's dataset, run to its end by the dispatcher.
    SubmittedMigration migrate(qint64 user,
                               const QString &dataset,
                               const QByteArray &content,
                               const QJsonObject &mapping = {},
                               const QString &fileName = QStringLiteral("data.csv"))
    {
        MigrationRequest request;
        request.userId = user;
        request.dataset = dataset;
        request.fileName = fileName;
        request.contentType = QStringLiteral("text/csv");
        if (!mapping.isEmpty())
            request.mapping = mapping;
        QBuffer buffer;
        buffer.setData(content);
        buffer.open(QIODevice::ReadOnly);
        auto submitted = submitMigration(*queue, blobs, clock, request, buffer, content.size());
        if (!submitted)
            qFatal("submitMigration: %s", qPrintable(submitted.error().toString()));
        startDispatcher();
        const qint64 id = submitted->jobId;
        if (!waitFor([&] { return isTerminal((*t.store->job(id, std::nullopt))->status); }))
            qFatal("migration %lld did not finish", id);
        return *submitted;
    }

    TempStore t;
    SystemClock clock;
    FileBlobStore blobs;
    HandlerRegistry handlers;
    std::unique_ptr<JobQueue> queue;
    std::unique_ptr<UserDirectory> users;
    std::unique_ptr<RateLimiter> limiter;
    AccessLog log{AccessLog::Format::Off};
    std::unique_ptr<Dispatcher> dispatcher;
    std::unique_ptr<SystemRoutes> system; // the groups outlive the handler: it calls them
    std::unique_ptr<JobRoutes> jobs;
    std::unique_ptr<DatasetRoutes> datasets;
    std::unique_ptr<QuotaLedger> quotas;
    std::unique_ptr<QuotaRoutes> quota;
    std::unique_ptr<TusUploads> tusUploads;
    std::unique_ptr<TusRoutes> tus;
    std::unique_ptr<IdempotencyKeys> keys;
    std::unique_ptr<UploadRoutes> uploads;
    std::unique_ptr<UploadReruns> reruns;
    std::unique_ptr<MigrationRoutes> migrations;
    std::unique_ptr<JobEventHub> eventHub;
    std::unique_ptr<EventRoutes> events;
    std::unique_ptr<JobDeleteRoutes> jobDelete;
    std::unique_ptr<ApiHandler> handler;
    std::unique_ptr<Http::HttpServer> server;
    QNetworkAccessManager network;
    quint16 port = 0;
    User alice, bob;
    QByteArray aliceToken, bobToken;
};

} // namespace Ferry::Test
