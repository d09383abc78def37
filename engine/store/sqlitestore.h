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
    DatasetStore &datasets() override { return *this; }

    // DatasetStore (sqlitedatasets.cpp).
    Result<qint64> ensureDataset(qint64 userId, const QString &name, qint64 now) override;
    Result<std::optional<MigrationCheckpoint>> checkpoint(qint64 jobId) override;
    Result<void> commitBatch(const ImportBatch &batch) override;
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
    Result<void> forEachRecord(qint64 datasetId,
                               const std::function<bool(std::string_view doc)> &sink) override;
    Result<QList<RowError>> rowErrors(qint64 jobId, int limit) override;
    // Managing datasets (sqlitedatasetadmin.cpp).
    Result<qint64> datasetBytes(qint64 datasetId) override;
    Result<DatasetDeletion> deleteDataset(qint64 userId,
                                          const QString &name,
                                          DatasetDeleteScope scope,
                                          qint64 now) override;

    // Upload and job API (sqlitejobsapi.cpp).
    Result<std::optional<SessionJob>> sessionJob(const QString &sessionId) override;
    Result<RecordPage> recordPage(qint64 datasetId, qint64 afterId, int limit) override;

    // Operator console, the Jobs page (sqliteconsole.cpp).
    Result<QList<ConsoleJobRow>> consoleJobs(const ConsoleJobQuery &query) override;
    Result<QList<ConsoleJobRow>> consoleJobsById(const QList<qint64> &ids) override;
    Result<qint64> countConsoleJobs(const ConsoleJobFilter &filter) override;
    Result<ConsoleBulkResult> applyConsoleAction(const ConsoleJobFilter &filter,
                                                 ConsoleBulkAction action,
                                                 int value,
                                                 qint64 now) override;

protected:
    std::unique_lock<std::mutex> writeTurn() override { return std::unique_lock(m_writeMutex); }

private:
    // Global concurrency limit (sqlitecluster.cpp): how many more jobs may start cluster-wide.
    Result<int> clusterClaimAllowance(NativeConnection &db, int clusterMaxRunning);
    explicit SqliteStore(const DatabaseConfig &config);
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
    // leaseToken: the running attempt's (undoJob); nullopt: the job must have ended
    // (undoEndedMigrations). nullopt result: the fence did not hold, nothing was changed.
    Result<std::optional<qint64>>
    undoJobOnce(qint64 jobId, qint64 datasetId, std::optional<qint64> leaseToken);
    Result<std::optional<qint64>>
    undoJobWithReserve(qint64 jobId, qint64 datasetId, std::optional<qint64> leaseToken);
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
