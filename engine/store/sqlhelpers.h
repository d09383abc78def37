#pragma once

#include "core/error.h"

#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>

namespace Ferry {

// A storage Error from a failed query, naming what Ferry was doing. On a PostgreSQL connection
// the SQLSTATE decides (postgreserrors.h): unique violations are Conflict, serialization
// failures and deadlocks a Storage error that says it is retryable.
Error sqlError(const QSqlQuery &query, const QString &doing);
Error sqlError(const QSqlDatabase &db, const QString &doing);

// A transaction that rolls back unless committed. A write begins IMMEDIATE on SQLite so that
// concurrent writers queue on the busy timeout instead of failing on lock upgrade.
class ConnectionPool;

class SqlTransaction final
{
public:
    // With a pool, BEGIN/COMMIT/ROLLBACK are statements prepared once per thread (hot paths).
    explicit SqlTransaction(QSqlDatabase db, ConnectionPool *pool = nullptr);
    ~SqlTransaction();
    Q_DISABLE_COPY_MOVE(SqlTransaction)

    Result<void> begin();
    // A read-only transaction whose reads all see one snapshot of the database: on PostgreSQL
    // REPEATABLE READ (READ COMMITTED takes a snapshot per statement); on SQLite a deferred
    // BEGIN, which takes no write lock (in WAL mode its first read fixes the snapshot).
    Result<void> beginSnapshot();
    Result<void> commit();
    void rollback();

private:
    Result<void> start(const QString &begin);
    bool exec(const QString &sql, QSqlError *error);

    QSqlDatabase m_db;
    ConnectionPool *m_pool;
    bool m_open = false;
};

} // namespace Ferry
