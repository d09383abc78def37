#pragma once

#include "store/sqlstore.h"

#include <memory>

namespace Ferry {

// The store on a PostgreSQL server (--db postgresql://...), through Qt's QPSQL driver: one
// connection per thread that touches SQL, bounded by DatabaseConfig::maxConnections per process
// (ConnectionPool). Several nodes may share one database: the claim takes rows with
// FOR UPDATE SKIP LOCKED, so nodes never hand out the same job twice.
//
// Every Store and DatasetStore method is implemented (postgres*.cpp). Failed statements map by
// SQLSTATE (postgreserrors.h); imports write through libpq's COPY on QPSQL's own connection
// (postgresnative.h).
class PostgresStore final : public SqlStore
{
public:
    // Connects and migrates to targetSchemaVersion (default: newest) with the "postgres"
    // migrations (resources/migrations/postgres).
    static Result<std::unique_ptr<PostgresStore>> open(const DatabaseConfig &config,
                                                       int targetSchemaVersion = -1);
    ~PostgresStore() override;

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

    // Quotas .
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

    // DatasetStore: this dialect's batch commit (postgresimport.cpp) and record reads
    // (postgresrecords.cpp); the rest is SqlStore's (sqldatasets.cpp).
    Result<void> commitBatch(const ImportBatch &batch) override;
    Result<void> forEachRecord(qint64 datasetId,
                               const std::function<bool(std::string_view doc)> &sink) override;

    // --- Resumable (tus) uploads ---
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
    // --- Resource monitor ---
    Result<void> saveMetricSamples(MetricResolution resolution,
                                   const QList<ResourceSample> &samples,
                                   qint64 pruneBefore) override;
    Result<QList<ResourceSample>> metricSamples(MetricResolution resolution, qint64 since) override;
    Result<qint64> pendingJobCount() override;
    // --- end resource monitor ---
    // Upload and job API .
    Result<std::optional<SessionJob>> sessionJob(const QString &sessionId) override;
    Result<RecordPage> recordPage(qint64 datasetId, qint64 afterId, int limit) override;
    // Idempotency keys of the upload API .
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

    // Operator console, the Jobs page .
    Result<QList<ConsoleJobRow>> consoleJobs(const ConsoleJobQuery &query) override;
    Result<QList<ConsoleJobRow>> consoleJobsById(const QList<qint64> &ids) override;
    Result<qint64> countConsoleJobs(const ConsoleJobFilter &filter) override;
    Result<ConsoleBulkResult> applyConsoleAction(const ConsoleJobFilter &filter,
                                                 ConsoleBulkAction action,
                                                 int value,
                                                 qint64 now) override;

    // Cluster: nodes, heartbeats, the leader lease (postgrescluster.cpp).
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

private:
    // Global concurrency limit (postgrescluster.cpp): how many more jobs may start cluster-wide,
    // counted under a transaction-level advisory lock (held until the claim commits).
    Result<int> clusterClaimAllowance(QSqlDatabase &db, int clusterMaxRunning);
    explicit PostgresStore(const DatabaseConfig &config);
    // Fair rank for a user's next job at a priority (see fair_clock in the schema).
    Result<qint64> nextFairRank(QSqlDatabase &db, qint64 userId, int priority);
    // enqueue() of one job without an upload session: a single statement.
    Result<QList<EnqueuedJob>> enqueueOne(const NewJob &job, qint64 now);
    // enqueue() of jobs without upload sessions or unique keys: one INSERT per 10,000.
    Result<QList<EnqueuedJob>> enqueuePlain(const QList<NewJob> &jobs, qint64 now);
    // settleAndClaim()'s claim under a per-user cap (postgresjobs.cpp, cappedClaimIds).
    Result<QList<ClaimedJob>> claimUnderCap(const ClaimRequest &request, int cap);
    // Inside enqueue()'s transaction: NewJob::completesTusUpload (postgrestus.cpp).
    Result<void> markTusComplete(
        QSqlDatabase &db, const QString &id, const QString &sessionId, qint64 jobId, qint64 now);
};

} // namespace Ferry
