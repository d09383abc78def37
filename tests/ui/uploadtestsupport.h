#pragma once

// Console tests that need migrations: an engine that runs them (store, blob store, queue,
// dispatcher, migrate handler, re-runs), and a file stored with its migration queued as an upload
// does (the session opened with the job), without the HTTP layer.

#include "migrate/migratehandler.h"
#include "migrate/uploadreruns.h"
#include "queue/builtinhandlers.h"
#include "queue/dispatcher.h"
#include "queue/jobqueue.h"
#include "quota/quotaledger.h"
#include "storage/fileblobstore.h"
#include "testsupport.h"
#include "users/userdirectory.h"

#include <QThreadPool>

#include <QDateTime>
#include <QJsonObject>
#include <QUuid>

namespace Ferry::Test {

struct QueuedUpload
{
    qint64 jobId = 0;
    QString sessionId;
};

// Stores `csv` in `blobs` and queues the user's migration of it with `options` (dataset,
// mapping, key…); fails the test run on any error.
inline QueuedUpload queueCsvUpload(JobQueue &queue,
                                   BlobStore &blobs,
                                   qint64 userId,
                                   const QByteArray &csv,
                                   const QJsonObject &options)
{
    auto writer = blobs.create(csv.size());
    if (!writer || !(*writer)->write(csv.constData(), csv.size()))
        qFatal("cannot store the upload");
    auto blob = (*writer)->commit();
    if (!blob)
        qFatal("cannot commit the upload");
    NewJob job;
    job.userId = userId;
    job.type = QStringLiteral("migrate");
    job.payload = options;
    job.payload.insert(QStringLiteral("blob"), blob->id);
    job.payload.insert(QStringLiteral("format"), QStringLiteral("csv"));
    UploadSession session;
    session.id = QUuid::createUuid().toString(QUuid::WithoutBraces);
    session.userId = userId;
    session.fileName = QStringLiteral("upload.csv");
    session.contentType = QStringLiteral("text/csv");
    session.sizeBytes = csv.size();
    session.blobId = blob->id;
    session.createdAt = QDateTime::currentMSecsSinceEpoch();
    job.sessionId = session.id;
    job.session = session;
    auto enqueued = queue.enqueue(job);
    if (!enqueued)
        qFatal("cannot enqueue: %s", qPrintable(enqueued.error().toString()));
    return {enqueued->id, session.id};
}

// The engine a console page works with, migrations included; users alice and bob. The
// dispatcher is started by the test. A derived fixture resets its pages in its own destructor,
// before this one waits for the reader thread and stops the dispatcher.
struct MigrationEngine
{
    MigrationEngine() : blobs(t.dir.path() + QStringLiteral("/blobs"), 0)
    {
        registerBuiltinHandlers(handlers);
        handlers.add(
            QStringLiteral("migrate"),
            std::make_shared<MigrateHandler>(t.store->datasets(), blobs, clock, MigrateConfig{}));
        QueueConfig config;
        config.pollIntervalMs = 20;
        queue = std::make_unique<JobQueue>(*t.store, handlers, clock, config);
        dispatcher = std::make_unique<Dispatcher>(*queue, handlers, clock, QStringLiteral("ui"));
        users = std::make_unique<UserDirectory>(*t.store, clock);
        quotas = std::make_unique<QuotaLedger>(*t.store, clock);
        reruns = std::make_unique<UploadReruns>(*t.store, *queue, blobs, 1000);
        readers.setMaxThreadCount(1);
        alice = t.addUser(QStringLiteral("alice"));
        bob = t.addUser(QStringLiteral("bob"));
    }
    ~MigrationEngine()
    {
        readers.waitForDone();
        dispatcher.reset();
    }
    Q_DISABLE_COPY_MOVE(MigrationEngine)

    TempStore t;
    SystemClock clock;
    FileBlobStore blobs;
    HandlerRegistry handlers;
    std::unique_ptr<JobQueue> queue;
    std::unique_ptr<Dispatcher> dispatcher;
    std::unique_ptr<UserDirectory> users;
    std::unique_ptr<QuotaLedger> quotas;
    std::unique_ptr<UploadReruns> reruns;
    QThreadPool readers;
    qint64 alice = 0;
    qint64 bob = 0;
};

} // namespace Ferry::Test
