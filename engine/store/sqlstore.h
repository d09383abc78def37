#pragma once
// The store written once for both SQL backends. SqlStore holds every method whose SQL means the
// same on SQLite and PostgreSQL, written against SqlDialect (the fragments that differ) and two
// hooks (a write's turn, a notice to other nodes). SqliteStore and PostgresStore derive from it
// and keep only what truly differs: opening, enqueue, settle-and-claim and lease renewal, batch
// commit, and SQLite's checkpointer. Files: sql<table>.cpp here, sqlite<table>.cpp and
// postgres<table>.cpp for a dialect's own part of the same table.

#include "store/connectionpool.h"
#include "store/datasetstore.h"
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

    const SqlDialect m_sql;
    ConnectionPool m_pool;
};

} // namespace Ferry
