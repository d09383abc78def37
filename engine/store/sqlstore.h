#pragma once
// The store written once for both SQL backends. SqlStore holds every method whose SQL means the
// same on SQLite and PostgreSQL, written against SqlDialect (the fragments that differ) and
// protected virtual hooks (the steps that differ: a write's turn, what follows a cancel, a full
// disk's retry of an undo, ...). SqliteStore and PostgresStore derive from it
// and keep only what truly differs: opening, enqueue, settle-and-claim and lease renewal, batch
// commit, and SQLite's checkpointer. Files: sql<table>.cpp here, sqlite<table>.cpp and
// postgres<table>.cpp for a dialect's own part of the same table.

#include "store/connectionpool.h"
#include "store/datasetstore.h"
#include "store/sqldialect.h"
#include "store/sqlhelpers.h"
#include "store/store.h"

#include <mutex>
#include <optional>

namespace Ferry {

class SqlStore : public Store, public DatasetStore
{
public:
    ~SqlStore() override;

    QString backendName() const override;
    int schemaVersion() override;
    QString serverVersion() override;

    // ---- Users and settings (sqlusers.cpp) ----
    Result<User> createUser(const QString &name,
                            const QString &tier,
                            const QByteArray &tokenHash,
                            qint64 now) override;
    Result<std::optional<User>> userByName(const QString &name) override;
    Result<std::optional<User>> userById(qint64 userId) override;
    Result<std::optional<User>> userByTokenHash(const QByteArray &tokenHash) override;
    Result<QList<User>> users() override;
    Result<void> setUserDisabled(qint64 userId, bool disabled) override;
    Result<void> setUserTokenHash(qint64 userId, const QByteArray &tokenHash) override;
    Result<std::optional<QString>> setting(const QString &key) override;
    Result<void> setSetting(const QString &key, const QString &value) override;
    // ---- end of users and settings ----

    // ---- Idempotency keys of the upload API (sqlidempotency.cpp) ----
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
    Result<int> releaseOrphanedIdempotencyKeys(qint64 createdBefore, bool everyNode) override;
    // ---- end of idempotency keys ----

    // ---- Resumable (tus) uploads (sqltus.cpp; marking one complete inside enqueue() is each
    // dialect's own: sqlitetus.cpp, postgrestus.cpp) ----
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
    // ---- end of tus uploads ----

    // ---- Resource monitor (sqlmetrics.cpp) ----
    Result<void> saveMetricSamples(MetricResolution resolution,
                                   const QString &series,
                                   const QList<ResourceSample> &samples,
                                   qint64 pruneBefore) override;
    Result<QList<ResourceSample>>
    metricSamples(MetricResolution resolution, const QString &series, qint64 since) override;
    Result<QList<ResourceSample>> clusterMetricSamples(MetricResolution resolution,
                                                       qint64 since) override;
    Result<qint64> pendingJobCount() override;
    // ---- end of resource monitor ----

    // ---- Cluster: nodes, heartbeats, the leader lease (sqlcluster.cpp; the global concurrency
    // limit's count is part of each dialect's claim: sqlitecluster.cpp, postgrescluster.cpp) ----
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
    Result<qint64> databaseTimeMs() override;

protected:
    // Inside rescueDeadNodes()'s transaction: ends the database sessions of these dead nodes;
    // how many. PostgreSQL's (postgrescluster.cpp) says why; SQLite has one engine and no
    // sessions of other nodes: 0.
    virtual Result<int> endDeadNodeSessions(QSqlDatabase &db, const QStringList &nodes);
    // One write statement outside any transaction of its own, in the writers' turn; the rows
    // it changed (sqlcluster.cpp; quotas use it too).
    Result<int>
    writeStatement(const QString &sql, const QVariantList &values, const QString &doing);

public:
    // ---- end of cluster ----

    // ---- Quotas (sqlquotas.cpp) ----
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
    // ---- end of quotas ----

    // ---- Jobs on request (sqljobqueries.cpp) ----
    // Reading jobs and changing them on request (cancel, retry, priority), rescuing lost leases,
    // ageing, pruning, and upload sessions. The queue's hot paths (enqueue, settle-and-claim,
    // lease renewal) and SQLite's C-API reads stay with each dialect.
    Result<QList<qint64>> cancelRequested(const QString &node) override;
    Result<void>
    saveProgress(qint64 jobId, qint64 leaseToken, const QJsonObject &progress) override;
    Result<QList<RescuedJob>>
    rescueLeases(RescueScope scope, const QString &node, qint64 now) override;
    Result<JobStatus> cancelJob(qint64 jobId, std::optional<qint64> userId, qint64 now) override;
    Result<void> retryJob(qint64 jobId, std::optional<qint64> userId, qint64 now) override;
    Result<void> setPriority(qint64 jobId, std::optional<qint64> userId, int priority) override;
    Result<QList<Job>> jobs(const JobFilter &filter) override;
    Result<QList<QList<Job>>> jobLists(const QList<JobFilter> &filters) override;
    Result<QList<JobAttempt>> attempts(qint64 jobId) override;
    Result<QHash<JobStatus, qint64>> countByStatus() override;
    Result<int> pruneFinished(qint64 finishedBefore, int batchSize) override;
    Result<int> agePendingJobs(qint64 readyBefore, int limit) override;
    Result<std::optional<UploadSession>> session(const QString &id,
                                                 std::optional<qint64> userId) override;
    Result<bool> blobReferenced(const QString &blobId) override;
    Result<QStringList> pruneSessions(qint64 createdBefore, int batchSize) override;
    Result<std::optional<QString>> deleteUnusedSession(const QString &sessionId) override;
    // ---- end of jobs on request ----

    // ---- Operator console (sqlconsole.cpp) ----
    Result<QList<ConsoleJobRow>> consoleJobs(const ConsoleJobQuery &query) override;
    Result<QList<ConsoleJobRow>> consoleJobsById(const QList<qint64> &ids) override;
    Result<qint64> countConsoleJobs(const ConsoleJobFilter &filter) override;
    Result<ConsoleBulkResult> applyConsoleAction(const ConsoleJobFilter &filter,
                                                 ConsoleBulkAction action,
                                                 int value,
                                                 qint64 now) override;
    // sqlfailedjobs.cpp
    Result<QList<FailedJobRow>> failedJobsAfter(const FailedJobCursor &after, int limit) override;
    Result<qint64> lastFailureAt() override;
    // ---- end of operator console ----

    // ---- Datasets (sqldatasets.cpp, sqldatasetadmin.cpp; each dialect's batch commit in
    // sqliteimport.cpp / postgresimport.cpp, its record reads in sqliterecords.cpp /
    // postgresrecords.cpp) ----
    DatasetStore &datasets() override { return *this; }
    Result<qint64> ensureDataset(qint64 userId, const QString &name, qint64 now) override;
    Result<std::optional<MigrationCheckpoint>> checkpoint(qint64 jobId) override;
    Result<qint64> undoJob(qint64 jobId, qint64 datasetId, qint64 leaseToken) override;
    Result<int> undoEndedMigrations() override;
    Result<void> forgetUndo(qint64 jobId, qint64 datasetId) override;
    Result<void> setColumns(qint64 datasetId,
                            const QJsonArray &columns,
                            const QJsonObject &types,
                            qint64 now) override;
    Result<QString> datasetKey(qint64 datasetId) override;
    Result<void> useKey(qint64 datasetId, const QString &field) override;
    Result<QList<DatasetInfo>> datasets(qint64 userId) override;
    Result<std::optional<DatasetInfo>> dataset(qint64 userId, const QString &name) override;
    Result<QList<RowError>> rowErrors(qint64 jobId, int limit) override;
    Result<qint64> datasetBytes(qint64 datasetId) override;
    Result<DatasetDeletion> deleteDataset(qint64 userId,
                                          const QString &name,
                                          DatasetDeleteScope scope,
                                          qint64 now) override;
    // ---- end of datasets ----

protected:
    SqlStore(SqlDialect dialect,
             const DatabaseConfig &config,
             ConnectionPool::Initializer initializer,
             ConnectionPool::HealthCheck healthCheck = {});

    // This thread's connection, and a statement prepared once on it (hot paths).
    Result<QSqlDatabase> db() { return m_pool.connection(); }
    Result<QSqlQuery *> prepared(const QString &sql) { return m_pool.statement(sql); }

    // A write's turn in this process, held until the write commits. SQLite has one writer at a
    // time and this process's writers queue on a mutex rather than in SQLite's busy handler
    // (SqliteStore); PostgreSQL locks rows, and the turn is empty.
    virtual std::unique_lock<std::mutex> writeTurn() { return {}; }

    // A write in a transaction of its own: the write's turn, this thread's connection and BEGIN,
    // as most of the shared writes start. Rolled back unless commit() is called.
    //     WriteTransaction write(*this);
    //     if (auto begun = write.begin(); !begun)
    //         return begun.error();
    //     QSqlQuery q(write.db()); ... return write.commit();
    class WriteTransaction final
    {
    public:
        explicit WriteTransaction(SqlStore &store) : m_store(store), m_turn(store.writeTurn()) {}
        Q_DISABLE_COPY_MOVE(WriteTransaction)

        Result<void> begin()
        {
            auto db = m_store.db();
            if (!db)
                return db.error();
            m_db = *db;
            return m_transaction.emplace(m_db).begin();
        }
        QSqlDatabase &db() { return m_db; }
        Result<void> commit() { return m_transaction->commit(); }

    private:
        SqlStore &m_store;
        std::unique_lock<std::mutex> m_turn;
        QSqlDatabase m_db;
        std::optional<SqlTransaction> m_transaction; // the turn is taken first, released last
    };

    // ---- Jobs: the dialects' hooks (sqljobqueries.cpp, sqlconsole.cpp) ----
    // The fair rank for a user's next job at a priority (see fair_clock in the schema): each
    // dialect's enqueue has its own fast statement for it (sqlitejobs.cpp, postgresenqueue.cpp).
    virtual Result<qint64> nextFairRank(qint64 userId, int priority) = 0;
    // What follows a cancel request of running jobs, inside its transaction: on PostgreSQL the
    // nodes running them hear ferry_cancel at commit and stop them at once. SQLite's only node is
    // this process, whose dispatcher reads cancelRequested(): nothing to tell.
    virtual Result<void> cancelRequestedOf(QSqlDatabase & /*db*/, const QList<qint64> & /*jobIds*/)
    {
        return {};
    }
    // Before deleting jobs, in the same transaction: SQLite keeps the largest job id so that a
    // new job never takes a deleted one's (sqlitejobids.h); PostgreSQL's sequence never goes back.
    virtual Result<void> beforeDeletingJobs(QSqlDatabase & /*db*/) { return {}; }
    // ---- end of jobs' hooks ----

    // ---- Datasets (sqldatasets.cpp) ----
    // Undoes one migration in one transaction (undoJob, undoEndedMigrations). leaseToken: the
    // running attempt's (undoJob); nullopt: the job must have ended (undoEndedMigrations).
    // nullopt result: the fence did not hold, nothing was changed.
    Result<std::optional<qint64>>
    undoJobOnce(qint64 jobId, qint64 datasetId, std::optional<qint64> leaseToken);
    // commitBatch's refusals, worded once for both dialects: the job no longer holds the batch's
    // lease; the dataset's id range is full.
    static Error batchLeaseLost(qint64 jobId);
    static Error datasetFull();
    // undoJobOnce, or what a dialect wraps around it (SQLite: a second try on a full disk).
    virtual Result<std::optional<qint64>>
    undoMigration(qint64 jobId, qint64 datasetId, std::optional<qint64> leaseToken)
    {
        return undoJobOnce(jobId, datasetId, leaseToken);
    }
    // ---- end of datasets ----

    const SqlDialect m_sql;
    ConnectionPool m_pool;
};

} // namespace Ferry
