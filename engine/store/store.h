#pragma once

#include "core/error.h"
#include "datasets/datasetstore.h"
#include "monitor/resourcesample.h"
#include "store/clusterrecords.h"
#include "store/consolerecords.h"
#include "store/idempotencykey.h"
#include "store/jobsapirecords.h"
#include "store/quotarecords.h"
#include "store/records.h"
#include "uploads/tusuploadrecord.h"

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
    // Extends the given leases, each only while the job is still running under that lease token
    // for this node; returns the ids of the jobs it still holds. An attempt missing from the
    // list lost its lease (rescued, perhaps running on another node now, or claimed again by
    // this one under a new token): the dispatcher stops it (CancelReason::LeaseLost).
    virtual Result<QList<qint64>>
    renewLeases(const QString &node, const QList<HeldLease> &leases, qint64 expiresAt) = 0;
    // Running jobs of this node whose cancellation was requested (by any process).
    virtual Result<QList<qint64>> cancelRequested(const QString &node) = 0;
    // Only while the job still runs under leaseToken: a stale attempt's progress is dropped.
    virtual Result<void>
    saveProgress(qint64 jobId, qint64 leaseToken, const QJsonObject &progress) = 0;
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
    // Ageing: pending jobs ready since readyBefore (run_at) gain one priority step, up to
    // MaxPriority; at most `limit` jobs, those waiting longest first. Returns how many.
    virtual Result<int> agePendingJobs(qint64 readyBefore, int limit) = 0;

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

    // The user's datasets, on the same database.
    virtual DatasetStore &datasets() = 0;

    // Monthly upload quotas (engine/quota/quotaledger.h). Limits of -1 mean unlimited.
    virtual Result<std::optional<User>> userById(qint64 userId) = 0;
    virtual Result<QuotaLimitOverrides> quotaLimits(qint64 userId) = 0;
    virtual Result<void> setQuotaLimits(qint64 userId, const QuotaLimitOverrides &limits) = 0;
    virtual Result<QuotaUsage> quotaUsage(qint64 userId, const QString &period) = 0;
    // Atomically: refused when one more upload, or `bytes` more, would pass a limit; otherwise
    // a reservation is recorded (counted as used until settled or released). Reservations count
    // against the current period whatever period they were made in (they are in flight now).
    // owner: what the reservation lives as long as: "node:<node id>" (a request on that node) or
    // "tus:<upload id>" (a resumable upload, which outlives restarts); see
    // releaseOrphanedQuotaReservations.
    virtual Result<QuotaReserveResult> reserveQuota(qint64 userId,
                                                    const QString &period,
                                                    qint64 bytes,
                                                    qint64 uploadsLimit,
                                                    qint64 bytesLimit,
                                                    qint64 now,
                                                    const QString &owner = {}) = 0;
    // The upload was stored with `bytes`: the reservation becomes usage of `period` (the
    // period it settles in; empty: the one it was reserved in), checked against that period.
    // Refused (nothing counted, the reservation released) when more bytes than reserved would
    // pass bytesLimit.
    virtual Result<QuotaOutcome> settleQuota(qint64 reservationId,
                                             qint64 bytes,
                                             qint64 bytesLimit,
                                             const QString &period = {}) = 0;
    virtual Result<void> releaseQuota(qint64 reservationId) = 0;
    // Takes one settled upload of `bytes` back out of the period's usage.
    virtual Result<void> refundQuota(qint64 userId, const QString &period, qint64 bytes) = 0;
    // Adds `bytes` to the period's usage (an import's decompressed bytes beyond what its upload
    // was charged) unless that passes bytesLimit (-1: unlimited): then nothing is added.
    virtual Result<QuotaOutcome>
    chargeQuotaBytes(qint64 userId, const QString &period, qint64 bytes, qint64 bytesLimit) = 0;
    // Every reservation (tests; an engine start now uses releaseOrphanedQuotaReservations).
    virtual Result<int> releaseAllQuotaReservations() = 0;
    // Reservations whose owner is gone, made before createdBefore: a node's whose row is no
    // longer in `nodes` (dead, per the cluster registry; everyNode: every node's, for an engine
    // start on an exclusive store, where no other process can hold one), a tus upload's whose
    // row is gone (expired, deleted, completed), and those without an owner (made before
    // migration 0012). Returns how many.
    virtual Result<int> releaseOrphanedQuotaReservations(qint64 createdBefore, bool everyNode) = 0;
    virtual Result<void> resetQuotaUsage(qint64 userId, const QString &period) = 0;
    // A new token for the user (its hash); the old one stops working.
    virtual Result<void> setUserTokenHash(qint64 userId, const QByteArray &tokenHash) = 0;

    // Small persisted settings (queue paused, ...).
    virtual Result<std::optional<QString>> setting(const QString &key) = 0;
    virtual Result<void> setSetting(const QString &key, const QString &value) = 0;

    // --- Resumable (tus) uploads: engine/uploads/tusuploads.h; SQLite in sqlitetus.cpp. ---
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
    // --- Resource monitor (engine/monitor/; SQLite: engine/store/sqlitemetrics.cpp) ---
    // Downsampled history, so the console's charts survive a restart. saveMetricSamples writes
    // (or replaces, by timestamp) the samples of one resolution and deletes that resolution's
    // rows older than pruneBefore, in one transaction.
    virtual Result<void> saveMetricSamples(MetricResolution resolution,
                                           const QList<ResourceSample> &samples,
                                           qint64 pruneBefore) = 0;
    // Samples of one resolution with timestamp >= since, oldest first.
    virtual Result<QList<ResourceSample>> metricSamples(MetricResolution resolution,
                                                        qint64 since) = 0;
    // Pending jobs, counted on an index (the monitor asks every second).
    virtual Result<qint64> pendingJobCount() = 0;
    // --- end resource monitor ---
    // ---- Upload and job API (GET /sessions, /datasets/{name}/records); sqlitejobsapi.cpp ----
    // The newest job reading the session's file, if any. Not scoped: read session(id, user)
    // first.
    virtual Result<std::optional<SessionJob>> sessionJob(const QString &sessionId) = 0;
    // Up to limit records of the dataset with an id above afterId (0: from the first), oldest
    // first. One short statement, no transaction left open between pages: exports page with it
    // while the client drains. Not scoped: read dataset(user, name) first.
    virtual Result<RecordPage> recordPage(qint64 datasetId, qint64 afterId, int limit) = 0;
    // ---- end of the upload and job API block ----
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
    // ---- Operator console: the Jobs page (ui/jobs/; both backends: store/sqlconsole.cpp) ----
    // One keyset page of every user's jobs matching the query, in its sort order, with user name,
    // file name, dataset and progress. Operator scope: no user check.
    virtual Result<QList<ConsoleJobRow>> consoleJobs(const ConsoleJobQuery &query) = 0;
    // The same rows for these ids (re-reading what the console shows), in no particular order;
    // ids that no longer exist are absent.
    virtual Result<QList<ConsoleJobRow>> consoleJobsById(const QList<qint64> &ids) = 0;
    // How many jobs match (exact; a scan when the filter has search text).
    virtual Result<qint64> countConsoleJobs(const ConsoleJobFilter &filter) = 0;
    // The action on every matching job it applies to, in one transaction; jobs it does not
    // apply to (a finished job for Cancel, ...) are left alone and not counted.
    virtual Result<ConsoleBulkResult> applyConsoleAction(const ConsoleJobFilter &filter,
                                                         ConsoleBulkAction action,
                                                         int value,
                                                         qint64 now) = 0;
    // ---- end of the operator console block ----
    // ---- Cluster: nodes, heartbeats and the leader lease (engine/cluster/; SQLite:
    // store/sqlitecluster.cpp, PostgreSQL: store/postgrescluster.cpp; migration 0009) ----
    // Inserts or replaces the node's row (its heartbeat). node.leader is ignored.
    virtual Result<void> upsertNode(const NodeRecord &node) = 0;
    // Deletes the node's row (graceful stop).
    virtual Result<void> removeNode(const QString &nodeId) = 0;
    // Every registered node, by id; leader is set on the holder of the leader lease if it has
    // not expired at `now`.
    virtual Result<QList<NodeRecord>> nodes(qint64 now) = 0;
    // Takes or renews the named lease for holder until expiresAt when it is free, expired
    // (expires_at < now) or already holder's; one atomic upsert. True when holder holds it now.
    virtual Result<bool> acquireClusterLease(const QString &name,
                                             const QString &holder,
                                             qint64 now,
                                             qint64 expiresAt) = 0;
    // Gives the lease up if holder holds it (graceful stop: a successor need not wait).
    virtual Result<void> releaseClusterLease(const QString &name, const QString &holder) = 0;
    // Nodes (never `self`) whose heartbeat is older than heartbeatBefore are dead: their rows
    // are deleted and their running jobs rescued at once, as rescueLeases does for expired
    // leases (pending or dead by attempts, cancelled if requested, a 'lost' attempt recorded).
    virtual Result<DeadNodeRescue>
    rescueDeadNodes(qint64 heartbeatBefore, const QString &self, qint64 now) = 0;
    // ---- end of the cluster block ----
};

} // namespace Ferry
