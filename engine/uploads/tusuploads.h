#pragma once

#include "core/clock.h"
#include "core/error.h"
#include "queue/jobqueue.h"
#include "quota/uploadquota.h"
#include "storage/blobstore.h"
#include "store/store.h"
#include "uploads/tusuploadrecord.h"

#include <QByteArrayView>
#include <QMutex>
#include <QSet>

#include <memory>
#include <optional>

namespace Ferry {

struct TusOptions
{
    QString directory;                  // where <id>.part files live (<data-dir>/tus)
    qint64 maxSize = qint64(8) << 30;   // Tus-Max-Size: larger uploads are refused
    qint64 expiryMs = 24 * 3'600'000LL; // uploads untouched this long are removed
};

// What create() decided: the new upload, or the quota's refusal.
struct TusCreation
{
    std::optional<TusUploadRecord> upload;
    std::optional<QuotaDecision> refused;
};

class TusAppend;

// Resumable uploads (tus 1.0.0 core, creation, termination) independent of HTTP: an upload is a
// row in the store plus the bytes received so far in <directory>/<id>.part. Appends are
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
    // Termination: the row and the partial bytes go, the quota reservation is released.
    // NotFound, Conflict (an append is in progress).
    Result<void> terminate(const QString &id, qint64 userId);
    // Removes uploads untouched for options().expiryMs; returns how many.
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

    Store &m_store;
    JobQueue &m_queue;
    BlobStore &m_blobs;
    const Clock &m_clock;
    UploadQuota *m_quota;
    TusOptions m_options;
    QMutex m_mutex;
    QSet<QString> m_busy; // uploads with an append (or termination) in progress
};

// One PATCH body being appended. Holds the upload exclusively until commit() or keep() (or
// destruction, which keeps what arrived).
class TusAppend final
{
public:
    ~TusAppend();
    Q_DISABLE_COPY_MOVE(TusAppend)

    const TusUploadRecord &upload() const { return m_upload; }
    qint64 remaining() const { return m_upload.length - m_offset; }

    // Appends to the .part file; false on a write error or past the upload's length.
    bool write(QByteArrayView data);
    // The body is whole: makes the bytes durable, records the offset, and completes the upload
    // when it reached its length. Returns the upload as it is now.
    Result<TusUploadRecord> commit();
    // The body broke off: makes what arrived durable and records that offset.
    void keep();

private:
    friend class TusUploads;
    TusAppend(TusUploads &uploads, TusUploadRecord upload, int fd);
    Result<void> persist();

    TusUploads &m_uploads;
    TusUploadRecord m_upload;
    int m_fd;
    qint64 m_offset;
    bool m_writeFailed = false;
    bool m_done = false;
};

} // namespace Ferry
