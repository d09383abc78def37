#pragma once

#include "datasets/datasetstore.h"
#include "store/connectionpool.h"
#include "store/store.h"

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

namespace Ferry {

// The embedded default store: one SQLite file in WAL mode, a connection per thread.
class SqliteStore final : public Store, public DatasetStore
{
public:
    // Opens (creating if needed) and migrates to targetSchemaVersion (default: newest).
    static Result<std::unique_ptr<SqliteStore>> open(const DatabaseConfig &config,
                                                     int targetSchemaVersion = -1);
    ~SqliteStore() override;

    QString backendName() const override { return QStringLiteral("sqlite"); }
    int schemaVersion() override;

    Result<User> createUser(const QString &name,
                            const QString &tier,
                            const QByteArray &tokenHash,
                            qint64 now) override;
    Result<std::optional<User>> userByName(const QString &name) override;
    Result<std::optional<User>> userByTokenHash(const QByteArray &tokenHash) override;
    Result<QList<User>> users() override;
    Result<void> setUserDisabled(qint64 userId, bool disabled) override;

    Result<QList<EnqueuedJob>> enqueue(const QList<NewJob> &jobs, qint64 now) override;
    Result<QList<ClaimedJob>> settleAndClaim(const QList<SettledAttempt> &settled,
                                             const ClaimRequest &request) override;
    Result<int> renewLeases(const QString &node, qint64 expiresAt) override;
    Result<QList<qint64>> cancelRequested(const QString &node) override;
    Result<void> saveProgress(qint64 jobId, const QJsonObject &progress) override;
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

    Result<std::optional<QString>> setting(const QString &key) override;
    Result<void> setSetting(const QString &key, const QString &value) override;

    Result<std::optional<UploadSession>> session(const QString &id,
                                                 std::optional<qint64> userId) override;
    Result<bool> blobReferenced(const QString &blobId) override;
    Result<QStringList> pruneSessions(qint64 createdBefore, int batchSize) override;
    DatasetStore &datasets() override { return *this; }

    // DatasetStore (sqlitedatasets.cpp).
    Result<qint64> ensureDataset(qint64 userId, const QString &name, qint64 now) override;
    Result<std::optional<MigrationCheckpoint>> checkpoint(qint64 jobId) override;
    Result<void> commitBatch(const ImportBatch &batch) override;
    Result<qint64> undoJob(qint64 jobId, qint64 datasetId) override;
    Result<void> forgetUndo(qint64 jobId, qint64 datasetId) override;
    Result<void> setColumns(qint64 datasetId, const QJsonArray &columns, qint64 now) override;
    Result<QList<DatasetInfo>> datasets(qint64 userId) override;
    Result<std::optional<DatasetInfo>> dataset(qint64 userId, const QString &name) override;
    Result<void> forEachRecord(qint64 datasetId,
                               const std::function<bool(std::string_view doc)> &sink) override;
    Result<QList<RowError>> rowErrors(qint64 jobId, int limit) override;

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

private:
    explicit SqliteStore(const DatabaseConfig &config);
    Result<QSqlQuery *> prepared(const QString &sql) { return m_pool.statement(sql); }
    Result<QSqlDatabase> db() { return m_pool.connection(); }
    // Fair rank for a user's next job at a priority (see fair_clock in the schema).
    Result<qint64> nextFairRank(qint64 userId, int priority);
    Result<void> advanceFairClock(const QHash<int, qint64> &highest);
    Result<std::optional<JobStatus>> statusOf(qint64 jobId, std::optional<qint64> userId);

    void checkpointLoop();

    ConnectionPool m_pool;
    // SQLite has one writer at a time; a waiter in its busy handler sleeps 1 ms or more, so
    // this process's writers take turns on a mutex instead (other processes still use the
    // busy timeout).
    std::mutex m_writeMutex;
    // WAL checkpoints run here, off the writers' path (wal_autocheckpoint is off on every
    // connection), so no commit ever pays for copying the log back into the database.
    std::mutex m_checkpointMutex;
    std::condition_variable m_checkpointWake;
    bool m_closing = false;
    std::thread m_checkpointer;
};

} // namespace Ferry
