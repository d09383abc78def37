#pragma once

#include "store/diskreserve.h"
#include "store/sqlstore.h"

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

namespace Ferry {

class NativeConnection; // per-user cap (cappedClaimIds)

// The embedded default store: one SQLite file in WAL mode, a connection per thread.
class SqliteStore final : public SqlStore
{
public:
    // Opens (creating if needed) and migrates to targetSchemaVersion (default: newest).
    static Result<std::unique_ptr<SqliteStore>> open(const DatabaseConfig &config,
                                                     int targetSchemaVersion = -1);
    ~SqliteStore() override;

    Result<QList<EnqueuedJob>> enqueue(const QList<NewJob> &jobs, qint64 now) override;
    Result<QList<ClaimedJob>> settleAndClaim(const QList<SettledAttempt> &settled,
                                             const ClaimRequest &request) override;
    Result<QList<qint64>>
    renewLeases(const QString &node, const QList<HeldLease> &leases, qint64 expiresAt) override;
    Result<QList<qint64>> cancelRequested(const QString &node) override;
    Result<void>
    saveProgress(qint64 jobId, qint64 leaseToken, const QJsonObject &progress) override;
    Result<QList<RescuedJob>>
    rescueLeases(RescueScope scope, const QString &node, qint64 now) override;
    Result<JobStatus> cancelJob(qint64 jobId, std::optional<qint64> userId, qint64 now) override;
    Result<void> retryJob(qint64 jobId, std::optional<qint64> userId, qint64 now) override;
    Result<void> setPriority(qint64 jobId, std::optional<qint64> userId, int priority) override;

    Result<std::optional<Job>> job(qint64 jobId, std::optional<qint64> userId) override;
    Result<QList<Job>> jobs(const JobFilter &filter) override;
    Result<QList<JobAttempt>> attempts(qint64 jobId) override;
    Result<QHash<JobStatus, qint64>> countByStatus() override;
    Result<int> pruneFinished(qint64 finishedBefore, int batchSize) override;
    Result<int> agePendingJobs(qint64 readyBefore, int limit) override;

    Result<std::optional<UploadSession>> session(const QString &id,
                                                 std::optional<qint64> userId) override;
    Result<bool> blobReferenced(const QString &blobId) override;
    Result<QStringList> pruneSessions(qint64 createdBefore, int batchSize) override;
    Result<std::optional<QString>> deleteUnusedSession(const QString &sessionId) override;

    // Quotas (sqlitequotas.cpp).
    Result<QuotaLimitOverrides> quotaLimits(qint64 userId) override;
    Result<void> setQuotaLimits(qint64 userId, const QuotaLimitOverrides &limits) override;
    Result<QuotaUsage> quotaUsage(qint64 userId, const QString &period) override;
    Result<QuotaReserveResult> reserveQuota(qint64 userId,
                                            const QString &period,
                                            qint64 bytes,
                                            qint64 uploadsLimit,
                                            qint64 bytesLimit,
                                            qint64 now,
                                            const QString &owner = {}) override;
    Result<QuotaOutcome> settleQuota(qint64 reservationId,
                                     qint64 bytes,
                                     qint64 bytesLimit,
                                     const QString &period = {}) override;
    Result<void> releaseQuota(qint64 reservationId) override;
    Result<void> refundQuota(qint64 userId, const QString &period, qint64 bytes) override;
    Result<QuotaOutcome> chargeQuotaBytes(qint64 userId,
                                          const QString &period,
                                          qint64 bytes,
                                          qint64 bytesLimit) override;
    Result<int> releaseAllQuotaReservations() override;
    Result<int> releaseOrphanedQuotaReservations(qint64 createdBefore, bool everyNode) override;
    Result<void> resetQuotaUsage(qint64 userId, const QString &period) override;

    // DatasetStore: this dialect's batch commit (sqliteimport.cpp) and record reads
    // (sqliterecords.cpp); the rest is SqlStore's (sqldatasets.cpp).
    Result<void> commitBatch(const ImportBatch &batch) override;
    Result<void> forEachRecord(qint64 datasetId,
                               const std::function<bool(std::string_view doc)> &sink) override;

    // --- Resumable (tus) uploads (sqlitetus.cpp). ---
    Result<void> insertTusUpload(const TusUploadRecord &upload) override;
    Result<std::optional<TusUploadRecord>> tusUpload(const QString &id,
                                                     std::optional<qint64> userId) override;
    Result<void> setTusOffset(const QString &id, qint64 offset, qint64 now) override;
    Result<void> completeTusUpload(const QString &id,
                                   const QString &sessionId,
                                   qint64 jobId,
                                   qint64 now) override;
    Result<void> deleteTusUpload(const QString &id) override;
    Result<QList<TusUploadRecord>> staleTusUploads(qint64 updatedBefore, int limit) override;
    // --- Resource monitor (sqlitemetrics.cpp) ---
    Result<void> saveMetricSamples(MetricResolution resolution,
                                   const QList<ResourceSample> &samples,
                                   qint64 pruneBefore) override;
    Result<QList<ResourceSample>> metricSamples(MetricResolution resolution, qint64 since) override;
    Result<qint64> pendingJobCount() override;
    // --- end resource monitor ---
    // Upload and job API (sqlitejobsapi.cpp).
    Result<std::optional<SessionJob>> sessionJob(const QString &sessionId) override;
    Result<RecordPage> recordPage(qint64 datasetId, qint64 afterId, int limit) override;
    // Idempotency keys of the upload API (sqliteidempotency.cpp).
    Result<std::optional<IdempotencyKey>>
    idempotencyKey(qint64 userId, const QString &key, qint64 notBefore) override;
    Result<std::optional<IdempotencyKey>>
    claimIdempotencyKey(const IdempotencyClaim &claim) override;
    Result<void> completeIdempotencyKey(qint64 userId,
                                        const QString &key,
                                        const QString &sessionId,
                                        qint64 jobId,
                                        const QByteArray &response) override;
    Result<void> releaseIdempotencyKey(qint64 userId, const QString &key) override;

    // Operator console, the Jobs page (sqliteconsole.cpp).
    Result<QList<ConsoleJobRow>> consoleJobs(const ConsoleJobQuery &query) override;
    Result<QList<ConsoleJobRow>> consoleJobsById(const QList<qint64> &ids) override;
    Result<qint64> countConsoleJobs(const ConsoleJobFilter &filter) override;
    Result<ConsoleBulkResult> applyConsoleAction(const ConsoleJobFilter &filter,
                                                 ConsoleBulkAction action,
                                                 int value,
                                                 qint64 now) override;

    // Cluster: nodes, heartbeats, the leader lease (sqlitecluster.cpp).
    Result<void> upsertNode(const NodeRecord &node) override;
    Result<void> removeNode(const QString &nodeId) override;
    Result<QList<NodeRecord>> nodes(qint64 now) override;
    Result<bool> acquireClusterLease(const QString &name,
                                     const QString &holder,
                                     qint64 now,
                                     qint64 expiresAt) override;
    Result<void> releaseClusterLease(const QString &name, const QString &holder) override;
    Result<DeadNodeRescue>
    rescueDeadNodes(qint64 heartbeatBefore, const QString &self, qint64 now) override;
    // end of the cluster block

protected:
    std::unique_lock<std::mutex> writeTurn() override { return std::unique_lock(m_writeMutex); }
    // On a full disk, a second try after the WAL restarts in the room the reserve held
    // (sqliteimport.cpp).
    Result<std::optional<qint64>>
    undoMigration(qint64 jobId, qint64 datasetId, std::optional<qint64> leaseToken) override;

private:
    // Global concurrency limit (sqlitecluster.cpp): how many more jobs may start cluster-wide.
    Result<int> clusterClaimAllowance(NativeConnection &db, int clusterMaxRunning);
    explicit SqliteStore(const DatabaseConfig &config);
    // One write statement in the writers' turn; the rows it changed (sqlitequotas.cpp).
    Result<int>
    writeStatement(const QString &sql, const QVariantList &values, const QString &doing);
    // Fair rank for a user's next job at a priority (see fair_clock in the schema).
    Result<qint64> nextFairRank(qint64 userId, int priority);
    Result<void> advanceFairClock(const QHash<int, qint64> &highest);
    // Per-user cap (sqliteclaimcap.cpp): the ids the next claim takes, as a JSON array, skipping
    // users who already run request.maxPerUser jobs.
    Result<QString> cappedClaimIds(NativeConnection &db, const ClaimRequest &request);
    Result<std::optional<JobStatus>> statusOf(qint64 jobId, std::optional<qint64> userId);
    // Inside enqueue()'s transaction: NewJob::completesTusUpload (sqlitetus.cpp).
    Result<void> markTusComplete(NativeConnection &db,
                                 const QString &id,
                                 const QString &sessionId,
                                 qint64 jobId,
                                 qint64 now);

    void checkpointLoop();
    // Copies the WAL into the database and restarts it from its beginning (its file keeps its
    // size), waiting for this process's writers; best effort.
    void restartWal();

    // SQLite has one writer at a time; a waiter in its busy handler sleeps 1 ms or more, so
    // this process's writers take turns on a mutex instead (other processes still use the
    // busy timeout).
    std::mutex m_writeMutex;
    // The free-disk floor for imports and the reserve that lets a failed import be undone on a
    // full disk (docs/architecture.md, "A full disk").
    DiskReserve m_disk;
    QString m_walPath;
    // WAL checkpoints run here, off the writers' path (wal_autocheckpoint is off on every
    // connection), so no commit ever pays for copying the log back into the database.
    std::mutex m_checkpointMutex;
    std::condition_variable m_checkpointWake;
    bool m_closing = false;
    std::thread m_checkpointer;
};

} // namespace Ferry
