#pragma once

#include "migrate/migrationpreview.h"
#include "store/store.h"

#include <functional>

namespace Ferry {

class BlobStore;
class JobQueue;

// An upload session whose file is stored, with its last migration (the options a re-run starts
// from).
struct StoredUpload
{
    UploadSession session;
    std::optional<Job> lastJob; // its newest migrate job, if any is left
    QJsonObject lastPayload;    // that job's payload; empty when there is none
};

struct RerunResult
{
    qint64 jobId = 0;
    // A job imports the upload now (jobId): nothing was queued.
    bool inProgress = false;
};

struct DryRunResult
{
    MigrationPreview preview;
    MigrationPayload payload; // as read (the format detected when none was named)
    QString key;              // the key an import would upsert by; empty: none
    // Why it cannot be imported before any row is read (a key other than the dataset's), or
    // the preview's problem; empty when neither.
    QString problem;
    bool stoppedEarly = false; // `cancelled` said stop before the rows were read
};

// Re-running a stored upload with new options, and dry runs of an import: the engine's side of
// POST /api/v1/sessions/{id}/migrations, .../dry-run, /api/v1/dry-run and the console's "Run
// again". A re-run is a new migrate job on the same session and blob: nothing is uploaded or
// charged again. A dry run reads and converts rows only, writing nothing. Thread-safe.
class UploadReruns final
{
public:
    UploadReruns(Store &store, JobQueue &queue, BlobStore &blobs, qsizetype maxColumns);

    // userId empty: any user's (the operator's console).
    Result<std::optional<StoredUpload>> find(const QString &sessionId,
                                             std::optional<qint64> userId);
    // A new migrate job with this payload (its blob set to the upload's; its format detected
    // when it names none). InvalidArgument for a payload an import would refuse.
    Result<RerunResult> rerun(const StoredUpload &upload, QJsonObject payload, int priority);
    // The first `rows` rows of the upload as an import with this payload would read them.
    // `cancelled` is asked between reads (a deadline, a client gone).
    Result<DryRunResult> dryRun(const StoredUpload &upload,
                                QJsonObject payload,
                                int rows,
                                const std::function<bool()> &cancelled);
    // The same for the start of a file given as bytes (for the user userId's dataset, if the
    // payload names one).
    Result<DryRunResult> dryRunBytes(qint64 userId,
                                     const QByteArray &content,
                                     const QString &contentType,
                                     QJsonObject payload,
                                     int rows,
                                     const std::function<bool()> &cancelled);

private:
    Result<DryRunResult> preview(qint64 userId,
                                 ByteSource &source,
                                 MigrationPayload payload,
                                 int rows,
                                 const std::function<bool()> &cancelled);

    Store &m_store;
    JobQueue &m_queue;
    BlobStore &m_blobs;
    qsizetype m_maxColumns;
};

} // namespace Ferry
