#pragma once

#include "core/clock.h"
#include "core/error.h"
#include "queue/jobqueue.h"
#include "quota/uploadquota.h"
#include "storage/blobstore.h"
#include "storage/tuspartstore.h"
#include "store/store.h"
#include "store/tusuploadrecord.h"
#include "uploads/tusappend.h"
#include "uploads/uploadgate.h"

#include <QByteArrayView>
#include <QFuture>
#include <QMutex>
#include <QSet>
#include <QThreadPool>

#include <memory>
#include <optional>

namespace Ferry {

struct TusOptions
{
    QString directory; // where <id>.part files live (<blob-dir>/tus)
    // Set: the bytes live there instead (PostgresBlobStore: in the database, so a PATCH may land
    // on any node with no shared directory), and so does the hold of an append.
    TusPartStore *parts = nullptr;
    // Tus-Max-Size: larger uploads are refused. The app sets --max-upload-mb: one limit for
    // every way into the blob store (UploadGate).
    qint64 maxSize = qint64(1024) << 20;
    qint64 expiryMs = 24 * 3'600'000LL; // uploads untouched this long are removed
    // A PATCH body that arrives before its append has begun (the store read runs on the pool,
    // not the network thread) waits in memory: at most this much per request, and in all.
    qint64 maxPendingBytes = qint64(8) << 20;
    qint64 maxPendingBytesTotal = qint64(64) << 20;
};

// What create() decided: the new upload, or the refusal (too large, or the quota's).
struct TusCreation
{
    std::optional<TusUploadRecord> upload;
    std::optional<QuotaDecision> refused;
    std::optional<QString> tooLarge;
};

// Resumable uploads (tus 1.0.0 core, creation, termination) independent of HTTP: an upload is a
// row in the store plus the bytes received so far in <directory>/<id>.part (or in the database:
// TusOptions::parts). Appends are
// exclusive per upload; the bytes an interrupted append wrote are kept (that is what makes the
// upload resumable). When the offset reaches the length the content is committed into the blob
// store and submitStoredMigration() opens the session and its migrate job. Thread-safe.
class TusUploads final
{
public:
    TusUploads(Store &store,
               JobQueue &queue,
               BlobStore &blobs,
               const Clock &clock,
               UploadQuota *quota, // may be null: no quotas
               TusOptions options);
    ~TusUploads();
    Q_DISABLE_COPY_MOVE(TusUploads)

    const TusOptions &options() const { return m_options; }

    // 32 lowercase hex digits: the only ids that ever become a path.
    static bool isUploadId(QByteArrayView id);
    // Upload-Metadata: "key base64,key base64,key" into {"key": "decoded text", ...}.
    static Result<QJsonObject> parseMetadata(const QByteArray &header);

    // InvalidArgument when the length or metadata is unusable (dataset missing or invalid,
    // unknown format, mapping not JSON).
    Result<TusCreation> create(qint64 userId, qint64 length, const QJsonObject &metadata);
    Result<std::optional<TusUploadRecord>> find(const QString &id, qint64 userId);
    // Starts an append at offset. NotFound (not the user's), Conflict (offset is not the
    // upload's, or another append is in progress). Appending zero bytes at the end of a complete
    // upload is allowed and changes nothing.
    Result<std::unique_ptr<TusAppend>> beginAppend(const QString &id, qint64 userId, qint64 offset);
    // beginAppend() on the uploads' own thread pool (a store read, maybe ftruncate and a store
    // write): what the network thread calls.
    struct BeginResult
    {
        std::shared_ptr<TusAppend> append; // null: refused with error
        Error error;
    };
    QFuture<BeginResult> beginAppendLater(const QString &id, qint64 userId, qint64 offset);
    // A PATCH that ended early, on the pool once its append has begun: appends `pending` (what
    // arrived meanwhile) and keeps what arrived (fdatasync, offset recorded).
    void keepLater(QFuture<BeginResult> begin, QByteArray pending);
    // The budget for bodies waiting for their append (TusOptions::maxPendingBytesTotal).
    bool takePendingBudget(qint64 bytes);
    void returnPendingBudget(qint64 bytes);
    // Termination: the row and the partial bytes go, the quota reservation is released.
    // NotFound, Conflict (an append is in progress).
    Result<void> terminate(const QString &id, qint64 userId);
    // Removes uploads untouched for options().expiryMs and returns how many; then .part files
    // no upload refers to, and the blob store's garbage (BlobStore::collect). Run at start-up
    // and periodically.
    Result<int> pruneExpired();

private:
    friend class TusAppend;
    bool tryLock(const QString &id);
    void unlock(const QString &id);
    QString partPath(const QString &id) const;
    // Blob, session and job for a complete upload; the .part file goes.
    Result<TusUploadRecord> complete(TusUploadRecord upload);
    void releaseQuota(const TusUploadRecord &upload);
    void discard(const TusUploadRecord &upload); // row, file and reservation

    Result<int> removeOrphanedParts();

    Store &m_store;
    JobQueue &m_queue;
    BlobStore &m_blobs;
    UploadGate m_gate;
    const Clock &m_clock;
    UploadQuota *m_quota;
    TusOptions m_options;
    QMutex m_mutex;
    QSet<QString> m_busy; // uploads with an append (or termination) in progress
    std::atomic<qint64> m_pendingBytes = 0;
    QThreadPool m_pool; // last: destroyed first, it waits for the work still queued
};

} // namespace Ferry
