// PostgresStore: opening, users and settings. Jobs are in postgresjobs.cpp.
#include "postgresstore.h"

#include "store/migrator.h"
#include "store/postgresnative.h"
#include "store/sharedrows.h"
#include "store/sqlhelpers.h"

#include <QSqlError>
#include <QSqlQuery>

namespace Ferry {

namespace {} // namespace

PostgresStore::PostgresStore(const DatabaseConfig &config)
    // No per-session set-up: the pool's conninfo names the session (DatabaseConfig::sessionName),
    // and times are stored as epoch ms, so the session time zone does not matter.
    : SqlStore(SqlDialect(SqlDialect::Engine::Postgres), config, {}, [](QSqlDatabase &db) {
        return postgresConnectionAlive(db);
    })
{}

PostgresStore::~PostgresStore() = default;

Result<std::unique_ptr<PostgresStore>> PostgresStore::open(const DatabaseConfig &config,
                                                           int targetSchemaVersion)
{
    if (!QSqlDatabase::isDriverAvailable(QStringLiteral("QPSQL"))) {
        return makeError(ErrorCode::Config,
                         QStringLiteral("Qt's PostgreSQL driver (QPSQL) is not installed."),
                         QStringLiteral("Install libqt6sql6-psql (scripts/install-deps.sh)."));
    }
    std::unique_ptr<PostgresStore> store(new PostgresStore(config));
    auto db = store->db();
    if (!db)
        return db.error();
    Migrator migrator(*db);
    if (auto migrated = migrator.migrate(targetSchemaVersion); !migrated)
        return migrated.error();
    return store;
}

} // namespace Ferry
