#pragma once
// The store written once for both SQL backends. SqlStore holds every method whose SQL means the
// same on SQLite and PostgreSQL, written against SqlDialect (the fragments that differ) and two
// hooks (a write's turn, a notice to other nodes). SqliteStore and PostgresStore derive from it
// and keep only what truly differs: opening, enqueue, settle-and-claim and lease renewal, batch
// commit, and SQLite's checkpointer. Files: sql<table>.cpp here, sqlite<table>.cpp and
// postgres<table>.cpp for a dialect's own part of the same table.

#include "datasets/datasetstore.h"
#include "store/connectionpool.h"
#include "store/sqldialect.h"
#include "store/store.h"

#include <mutex>

namespace Ferry {

class SqlStore : public Store, public DatasetStore
{
public:
    ~SqlStore() override;

    QString backendName() const override;
    int schemaVersion() override;

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
