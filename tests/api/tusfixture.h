#pragma once

// A real API server on loopback with the tus routes over a temporary store (SQLite or, under
// FERRY_TEST_BACKEND=postgres, PostgreSQL), the blob
// store and the migrate handler (as app/enginehost.cpp wires them), and a real HTTP client.
#include "api/apihandler.h"
#include "api/jobroutes.h"
#include "api/tusroutes.h"
#include "datasets/datasetexport.h"
#include "http/httpserver.h"
#include "httpclient.h"
#include "migrate/migratehandler.h"
#include "queue/builtinhandlers.h"
#include "queue/dispatcher.h"
#include "storage/fileblobstore.h"
#include "testsupport.h"

#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QTest>

namespace Ferry::Test {

using TusReply = HttpReply;

struct TusFixture
{
    explicit TusFixture(qint64 maxSize = 1 << 20,
                        UploadQuota *quota = nullptr,
                        qint64 freeDiskFloor = 0)
        : blobs(t.dir.path() + QStringLiteral("/blobs"), freeDiskFloor)
    {
        registerBuiltinHandlers(handlers);
        handlers.add(
            QStringLiteral("migrate"),
            std::make_shared<MigrateHandler>(t.store->datasets(), blobs, clock, MigrateConfig{}));
        QueueConfig config;
        config.pollIntervalMs = 20;
        config.backoffBaseMs = 10;
        queue = std::make_unique<JobQueue>(*t.store, handlers, clock, config);
        dispatcher = std::make_unique<Dispatcher>(*queue, handlers, clock, QStringLiteral("test"));
        users = std::make_unique<UserDirectory>(*t.store, t.clock);
        auto a = users->addUser(QStringLiteral("alice"));
        auto b = users->addUser(QStringLiteral("bob"));
        alice = a->user;
        bob = b->user;
        aliceToken = a->token.toUtf8();
        bobToken = b->token.toUtf8();
        RateLimitPolicy policy;
        policy.limit = 10'000;
        policy.window = std::chrono::seconds(60);
        limiter = std::move(RateLimiter::create(policy, t.clock).value());
        TusOptions options;
        options.directory = tusDir(); // under the blob root, as the app has it (links work)
        options.maxSize = maxSize;
        // The uploads' clock is the manual one: expiry is tested by moving it.
        uploads = std::make_unique<TusUploads>(*t.store, *queue, blobs, t.clock, quota, options);
        handler = std::make_unique<ApiHandler>(*users, *limiter, ClientAddress(), &log);
        jobs = std::make_unique<JobRoutes>(*t.store, *queue);
        tus = std::make_unique<TusRoutes>(*uploads);
        handler->addRoutes(*jobs);
        handler->addRoutes(*tus);
        server = std::make_unique<Http::HttpServer>(*handler);
        port = *server->listen(QHostAddress::LocalHost, 0);
    }
    ~TusFixture()
    {
        server.reset();
        handler.reset();
        dispatcher.reset();
    }

    QString tusDir() const { return t.dir.path() + QStringLiteral("/blobs/tus"); }
    QString partPath(const QString &id) const { return tusDir() + u'/' + id + u".part"; }
    QString url(const QString &path) const
    {
        return QStringLiteral("http://127.0.0.1:%1%2").arg(port).arg(path);
    }

    TusReply call(const QByteArray &method,
                  const QString &path,
                  const QByteArray &token,
                  QList<std::pair<QByteArray, QByteArray>> headers = {},
                  const QByteArray &body = {})
    {
        // Always with a body (an empty one too), so every request carries a Content-Length.
        return sendHttp(network, method, QUrl(url(path)), token, headers, body);
    }

    static QByteArray metadata(const QList<std::pair<QByteArray, QByteArray>> &pairs)
    {
        QByteArrayList parts;
        for (const auto &[key, value] : pairs)
            parts.append(key + ' ' + value.toBase64());
        return parts.join(',');
    }

    // POST /api/v1/tus; the upload's id, or empty (with the reply in *out).
    QString create(qint64 length,
                   const QByteArray &uploadMetadata,
                   const QByteArray &token,
                   TusReply *out = nullptr)
    {
        TusReply reply = call("POST", QStringLiteral("/api/v1/tus"), token,
                              {{"Tus-Resumable", "1.0.0"},
                               {"Upload-Length", QByteArray::number(length)},
                               {"Upload-Metadata", uploadMetadata}});
        if (out)
            *out = reply;
        const QByteArray location = reply.header("location");
        if (reply.status != 201 || !location.startsWith("/api/v1/tus/"))
            return {};
        return QString::fromLatin1(location.mid(12));
    }

    TusReply head(const QString &id, const QByteArray &token)
    {
        return call("HEAD", QStringLiteral("/api/v1/tus/") + id, token,
                    {{"Tus-Resumable", "1.0.0"}});
    }

    TusReply
    patch(const QString &id, qint64 offset, const QByteArray &data, const QByteArray &token)
    {
        return call("PATCH", QStringLiteral("/api/v1/tus/") + id, token,
                    {{"Tus-Resumable", "1.0.0"},
                     {"Upload-Offset", QByteArray::number(offset)},
                     {"Content-Type", "application/offset+octet-stream"}},
                    data);
    }

    Job job(qint64 id) { return **t.store->job(id, std::nullopt); }
    qint64 jobCount()
    {
        QString error;
        const auto rows =
            readRows(t.location(), QStringLiteral("SELECT count(*) FROM jobs"), &error);
        if (!error.isEmpty())
            qFatal("%s", qPrintable(error));
        return rows.value(0).value(0).toLongLong();
    }
    void sql(const QString &statement)
    {
        QString error;
        writeRows(t.location(), statement, &error);
        if (!error.isEmpty())
            qFatal("%s", qPrintable(error));
    }
    bool finished(qint64 id)
    {
        return waitFor([&] { return isTerminal(job(id).status); });
    }
    QByteArray blobContent(const QString &sessionId)
    {
        auto session = t.store->session(sessionId, std::nullopt);
        if (!session || !session->has_value())
            return {};
        QFile file(*blobs.localPath((*session)->blobId));
        return file.open(QIODevice::ReadOnly) ? file.readAll() : QByteArray();
    }
    qint64 recordCount(qint64 userId, const QString &dataset)
    {
        auto info = t.store->datasets().dataset(userId, dataset);
        return info && info->has_value() ? (*info)->records : -1;
    }

    TempStore t;
    SystemClock clock; // the queue's and the dispatcher's
    FileBlobStore blobs;
    HandlerRegistry handlers;
    std::unique_ptr<JobQueue> queue;
    std::unique_ptr<Dispatcher> dispatcher;
    std::unique_ptr<UserDirectory> users;
    std::unique_ptr<RateLimiter> limiter;
    AccessLog log{AccessLog::Format::Off};
    std::unique_ptr<TusUploads> uploads;
    std::unique_ptr<JobRoutes> jobs; // outlive the handler: it calls them
    std::unique_ptr<TusRoutes> tus;
    std::unique_ptr<ApiHandler> handler;
    std::unique_ptr<Http::HttpServer> server;
    QNetworkAccessManager network;
    quint16 port = 0;
    User alice, bob;
    QByteArray aliceToken, bobToken;
};

} // namespace Ferry::Test
