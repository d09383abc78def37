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
    // ---- end of operator console ----

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

    const SqlDialect m_sql;
    ConnectionPool m_pool;
};

} // namespace Ferry
