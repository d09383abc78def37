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

// A write transaction that rolls back unless committed. On SQLite it begins IMMEDIATE so that
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
    Result<void> commit();
    void rollback();

private:
    bool exec(const QString &sql, QSqlError *error);

    QSqlDatabase m_db;
    ConnectionPool *m_pool;
    bool m_open = false;
};

} // namespace Ferry
