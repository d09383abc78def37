#include "sqlstore.h"

#include "store/migrator.h"

#include <QSqlQuery>

namespace Ferry {

SqlStore::SqlStore(SqlDialect dialect,
                   const DatabaseConfig &config,
                   ConnectionPool::Initializer initializer,
                   ConnectionPool::HealthCheck healthCheck)
    : m_sql(dialect), m_pool(config, std::move(initializer), std::move(healthCheck))
{}

SqlStore::~SqlStore() = default;

QString SqlStore::backendName() const
{
    return m_sql.isPostgres() ? QStringLiteral("postgresql") : QStringLiteral("sqlite");
}

int SqlStore::schemaVersion()
{
    auto db = this->db();
    if (!db)
        return -1;
    auto version = Migrator(*db, m_sql.migrations()).currentVersion();
    return version ? *version : -1;
}

QString SqlStore::serverVersion()
{
    auto db = this->db();
    if (!db)
        return {};
    QSqlQuery query(*db);
    if (!query.exec(m_sql.isPostgres() ? QStringLiteral("SHOW server_version")
                                       : QStringLiteral("SELECT sqlite_version()")) ||
        !query.next())
        return {};
    return (m_sql.isPostgres() ? QStringLiteral("PostgreSQL ") : QStringLiteral("SQLite ")) +
           query.value(0).toString();
}

} // namespace Ferry
