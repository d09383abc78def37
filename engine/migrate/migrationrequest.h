#pragma once

#include "core/clock.h"
#include "queue/jobqueue.h"
#include "storage/blobstore.h"

#include <QIODevice>
#include <QJsonValue>

namespace Ferry {

// An upload to import: stored as a blob, opened as an upload session, queued as a migrate job.
struct MigrationRequest
{
    qint64 userId = 0;
    QString fileName;
    QString contentType;
    QString format; // csv, tsv, ndjson, json; empty: from the content type, name, or content
    QString dataset;
    QJsonValue mapping; // undefined or null: none
    QString key;
    std::optional<bool> header;
    QString delimiter;            // one character (checkCsvCharacter); empty: the format's own
    std::optional<QString> quote; // one character; empty: no quoting; none: '"'
    int priority = 0;
    // A resumable upload the job completes, atomically with the enqueue (NewJob).
    QString completesTusUpload;
};

// A CSV delimiter or quote as a person writes it: one ASCII character other than a line end,
// or "tab" (also "\t") for a tab; for the quote, "none" turns quoting off (gives ""). The
// error names the option.
Result<QString> checkCsvCharacter(QStringView option, const QString &text);

struct SubmittedMigration
{
    QString sessionId;
    qint64 jobId = 0;
    BlobInfo blob;
    QString format;
};

// Streams content into the blob store (bounded memory), detects the format, and opens the
// session and its job in one transaction. A refused request leaves no session, job or blob.
Result<SubmittedMigration> submitMigration(JobQueue &queue,
                                           BlobStore &blobs,
                                           const Clock &clock,
                                           const MigrationRequest &request,
                                           QIODevice &content,
                                           qint64 expectedSize = -1);

// The same for content already in the blob store (a streamed HTTP upload): validates the request,
// detects the format, opens the session and its job in one transaction. On failure the blob is
// left as it is: the caller removes it when nothing else refers to it.
Result<SubmittedMigration> submitStoredMigration(JobQueue &queue,
                                                 BlobStore &blobs,
                                                 const Clock &clock,
                                                 const MigrationRequest &request,
                                                 const BlobInfo &blob);

} // namespace Ferry
