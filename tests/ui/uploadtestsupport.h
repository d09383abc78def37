#pragma once

// Console tests that need migrations: a file stored and its migration queued as an upload does
// (the session opened with the job), without the HTTP layer.

#include "queue/jobqueue.h"
#include "storage/blobstore.h"

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

} // namespace Ferry::Test
