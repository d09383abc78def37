#pragma once
// Uploads: stored sessions, resumable (tus) uploads and idempotency keys (engine/uploads/,
// engine/api/).

#include "core/error.h"
#include "store/idempotencykey.h"
#include "store/jobsapirecords.h"
#include "store/records.h"
#include "store/tusuploadrecord.h"

namespace Ferry {

class UploadStore
{
public:
    virtual ~UploadStore() = default;

    virtual Result<std::optional<UploadSession>> session(const QString &id,
                                                         std::optional<qint64> userId) = 0;
    // Deletes up to batchSize sessions created before the cut-off that no job refers to any
    // more; returns the blobs that no session refers to now (the caller deletes them).
    virtual Result<QStringList> pruneSessions(qint64 createdBefore, int batchSize) = 0;
    // Deletes the session unless a job still reads it (DELETE /api/v1/jobs/{id} and
    // /api/v1/sessions/{id}); returns its blob when no session refers to that any more (the
    // caller deletes it), else nothing. Not scoped: read session(id, user) first.
    virtual Result<std::optional<QString>> deleteUnusedSession(const QString &sessionId) = 0;
    // Whether any upload session still refers to the blob (it may be deleted when not).
    virtual Result<bool> blobReferenced(const QString &blobId) = 0;

    // The newest job reading the session's file, if any. Not scoped: read session(id, user)
    // first.
    virtual Result<std::optional<SessionJob>> sessionJob(const QString &sessionId) = 0;

    // Resumable (tus) uploads: engine/uploads/tusuploads.h.
    virtual Result<void> insertTusUpload(const TusUploadRecord &upload) = 0;
    // userId empty: any user's (pruning).
    virtual Result<std::optional<TusUploadRecord>> tusUpload(const QString &id,
                                                             std::optional<qint64> userId) = 0;
    virtual Result<void> setTusOffset(const QString &id, qint64 offset, qint64 now) = 0;
    // Records what the completed upload became; the quota reservation is no longer held.
    virtual Result<void>
    completeTusUpload(const QString &id, const QString &sessionId, qint64 jobId, qint64 now) = 0;
    virtual Result<void> deleteTusUpload(const QString &id) = 0;
    // Up to limit uploads (complete or not) last touched before the cut-off.
    virtual Result<QList<TusUploadRecord>> staleTusUploads(qint64 updatedBefore, int limit) = 0;

    // Idempotency keys of the upload API (engine/api/idempotency.h).
    // The user's record of the key, unless it was created before notBefore (expired: absent).
    virtual Result<std::optional<IdempotencyKey>>
    idempotencyKey(qint64 userId, const QString &key, qint64 notBefore) = 0;
    // Claims the key for a request about to run: one transaction that first deletes a batch of
    // keys created before claim.expiredBefore (any user's) and an in-progress record of this key
    // created before claim.staleBefore (its request died), then inserts an in-progress record.
    // Returns nothing when the caller now holds the key, else the record that holds it (in
    // progress, or finished with its answer): of two concurrent claims exactly one wins.
    virtual Result<std::optional<IdempotencyKey>>
    claimIdempotencyKey(const IdempotencyClaim &claim) = 0;
    // Stores the answer of the request that holds the key.
    virtual Result<void> completeIdempotencyKey(qint64 userId,
                                                const QString &key,
                                                const QString &sessionId,
                                                qint64 jobId,
                                                const QByteArray &response) = 0;
    // Drops an in-progress claim whose request failed, so a retry with the key runs anew.
    virtual Result<void> releaseIdempotencyKey(qint64 userId, const QString &key) = 0;
    // Drops the in-progress claims created before createdBefore whose owner is gone: every
    // node's when everyNode (an exclusive store at engine start: no request survives a restart),
    // else those of nodes missing from the cluster registry (and claims with no owner).
    // Finished keys are never touched. Returns how many went.
    virtual Result<int> releaseOrphanedIdempotencyKeys(qint64 createdBefore, bool everyNode) = 0;

protected:
    UploadStore() = default;
    Q_DISABLE_COPY_MOVE(UploadStore)
};

} // namespace Ferry
