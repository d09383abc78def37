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
    // One job, read on the API's hot path (sqlitejobsapi.cpp); the rest of the jobs' reads and
    // changes are SqlStore's (sqljobqueries.cpp).
    Result<std::optional<Job>> job(qint64 jobId, std::optional<qint64> userId) override;
    Result<QList<Job>> jobsByIds(const QList<qint64> &ids) override;
    // DatasetStore: this dialect's batch commit (sqliteimport.cpp) and record reads
    // (sqliterecords.cpp); the rest is SqlStore's (sqldatasets.cpp).
    Result<void> commitBatch(const ImportBatch &batch) override;
    // 5,000: one writer at a time, so every other write waits for a batch (about 10 ms).
    int importBatchRows() const override { return 5'000; }
    Result<void> forEachRecord(qint64 datasetId,
                               const std::function<bool(std::string_view doc)> &sink) override;

    // Upload and job API (sqlitejobsapi.cpp).
    Result<std::optional<SessionJob>> sessionJob(const QString &sessionId) override;
    Result<RecordPage> recordPage(qint64 datasetId, qint64 afterId, int limit) override;

protected:
    std::unique_lock<std::mutex> writeTurn() override { return std::unique_lock(m_writeMutex); }
    // ---- Jobs: the dialect's hooks (sqlitejobs.cpp) ----
    Result<qint64> nextFairRank(qint64 userId, int priority) override;
    Result<void> beforeDeletingJobs(QSqlDatabase &db) override;
    // ---- end of jobs' hooks ----
    // On a full disk, a second try after the WAL restarts in the room the reserve held
    // (sqliteimport.cpp).
    Result<std::optional<qint64>>
    undoMigration(qint64 jobId, qint64 datasetId, std::optional<qint64> leaseToken) override;

private:
    // settleAndClaim's steps, in its transaction under the write lock: the attempts that ended,
    // how many jobs may be claimed now (0 while paused; the cluster's allowance), the claim.
    Result<void>
    settleAttempts(NativeConnection &db, const QList<SettledAttempt> &settled, const QString &node);
    Result<int> claimLimitNow(NativeConnection &db, const ClaimRequest &request);
    Result<QList<ClaimedJob>> claimJobs(NativeConnection &db, const ClaimRequest &request);
    // Global concurrency limit (sqlitecluster.cpp): how many more jobs may start cluster-wide.
    Result<int> clusterClaimAllowance(NativeConnection &db, int clusterMaxRunning);
    explicit SqliteStore(const DatabaseConfig &config);
    Result<void> advanceFairClock(const QHash<int, qint64> &highest);
    // Per-user cap (sqliteclaimcap.cpp): the ids the next claim takes, as a JSON array, skipping
    // users who already run request.maxPerUser jobs.
    Result<QString> cappedClaimIds(NativeConnection &db, const ClaimRequest &request);
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
