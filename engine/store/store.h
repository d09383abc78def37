#pragma once

#include "core/error.h"
#include "datasets/datasetstore.h"
#include "store/idempotencykey.h"
#include "store/records.h"

#include <QHash>

namespace Ferry {

// Ferry's storage seam. SqliteStore is the embedded default; a PostgreSQL implementation fills the
// same interface for clusters. Every method is thread-safe: each calling thread uses its own
// connection. Multi-row writes are one transaction: they happen whole or not at all.
class Store
{
public:
    virtual ~Store() = default;

    virtual QString backendName() const = 0;
    virtual int schemaVersion() = 0;

    // Users.
    virtual Result<User> createUser(const QString &name,
                                    const QString &tier,
                                    const QByteArray &tokenHash,
                                    qint64 now) = 0;
    virtual Result<std::optional<User>> userByName(const QString &name) = 0;
    virtual Result<std::optional<User>> userByTokenHash(const QByteArray &tokenHash) = 0;
    virtual Result<QList<User>> users() = 0;
    virtual Result<void> setUserDisabled(qint64 userId, bool disabled) = 0;

    // Jobs. enqueue() writes all or nothing; an equal unique key already pending or running
    // returns that job, flagged as deduplicated.
    virtual Result<QList<EnqueuedJob>> enqueue(const QList<NewJob> &jobs, qint64 now) = 0;
    // Writes back finished attempts (fenced by lease token), then claims up to request.limit
    // ready jobs by priority, fair rank between users, and age. One transaction.
    virtual Result<QList<ClaimedJob>> settleAndClaim(const QList<SettledAttempt> &settled,
                                                     const ClaimRequest &request) = 0;
    // Extends every lease this node holds; returns how many.
    virtual Result<int> renewLeases(const QString &node, qint64 expiresAt) = 0;
    // Running jobs of this node whose cancellation was requested (by any process).
    virtual Result<QList<qint64>> cancelRequested(const QString &node) = 0;
    virtual Result<void> saveProgress(qint64 jobId, const QJsonObject &progress) = 0;
    virtual Result<QList<RescuedJob>>
    rescueLeases(RescueScope scope, const QString &node, qint64 now) = 0;
    // Pending: cancelled now. Running: marked; the running node observes it. Returns the new
    // status (Cancelled or Running). NotFound when the job is not the user's; Conflict when
    // it already finished. userId empty: operator access to every user's jobs.
    virtual Result<JobStatus> cancelJob(qint64 jobId, std::optional<qint64> userId, qint64 now) = 0;
    virtual Result<void> retryJob(qint64 jobId, std::optional<qint64> userId, qint64 now) = 0;
    virtual Result<void> setPriority(qint64 jobId, std::optional<qint64> userId, int priority) = 0;

    virtual Result<std::optional<Job>> job(qint64 jobId, std::optional<qint64> userId) = 0;
    virtual Result<QList<Job>> jobs(const JobFilter &filter) = 0;
    virtual Result<QList<JobAttempt>> attempts(qint64 jobId) = 0;
    virtual Result<QHash<JobStatus, qint64>> countByStatus() = 0;
    // Deletes up to batchSize finished jobs (and their attempts) finished before the cut-off.
    virtual Result<int> pruneFinished(qint64 finishedBefore, int batchSize) = 0;

    virtual Result<std::optional<UploadSession>> session(const QString &id,
                                                         std::optional<qint64> userId) = 0;
    // Deletes up to batchSize sessions created before the cut-off that no job refers to any
    // more; returns the blobs that no session refers to now (the caller deletes them).
    virtual Result<QStringList> pruneSessions(qint64 createdBefore, int batchSize) = 0;
    // Whether any upload session still refers to the blob (it may be deleted when not).
    virtual Result<bool> blobReferenced(const QString &blobId) = 0;

    // The user's datasets, on the same database.
    virtual DatasetStore &datasets() = 0;

    // Small persisted settings (queue paused, ...).
    virtual Result<std::optional<QString>> setting(const QString &key) = 0;
    virtual Result<void> setSetting(const QString &key, const QString &value) = 0;

    // ---- Idempotency keys of the upload API (SQLite: store/sqliteidempotency.cpp) ----
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
    // ---- end of idempotency keys ----
};

} // namespace Ferry
