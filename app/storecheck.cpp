#include "storecheck.h"

#include "store/connectionpool.h"

#include <QFileInfo>
#include <QSqlQuery>

namespace Ferry {

namespace {

bool isSqlite(const DatabaseConfig &database)
{
    return database.backend == DatabaseConfig::Backend::Sqlite;
}

// The schema's presence, read without creating anything (the Migrator's currentVersion()
// creates its table): a Ferry schema has at least one applied migration.
Result<bool> postgresSchemaExists(const DatabaseConfig &database)
{
    ConnectionPool pool(database, {});
    auto db = pool.connection(); // closed by the pool, which outlives it
    if (!db) {
        QString reason = db.error().message.simplified(); // the driver's lines, on one
        if (!reason.endsWith(u'.'))
            reason += u'.';
        return makeError(
            ErrorCode::Storage,
            QStringLiteral("Cannot reach the database %1. %2").arg(storeLocation(database), reason),
            QStringLiteral("Check --db (or FERRY_DB) and that the server is running."));
    }
    QSqlQuery query(*db);
    if (!query.exec(QStringLiteral("SELECT to_regclass('schema_migrations') IS NOT NULL")) ||
        !query.next()) {
        return makeError(
            ErrorCode::Storage,
            QStringLiteral("Cannot read the schema of %1.").arg(storeLocation(database)));
    }
    if (!query.value(0).toBool())
        return false;
    return query.exec(QStringLiteral("SELECT count(*) FROM schema_migrations")) && query.next() &&
           query.value(0).toLongLong() > 0;
}

} // namespace

QString storeLocation(const DatabaseConfig &database)
{
    if (isSqlite(database))
        return database.sqlitePath;
    return QStringLiteral("postgresql://%1@%2:%3/%4")
        .arg(database.user, database.host)
        .arg(database.port)
        .arg(database.database);
}

Result<bool> storeExists(const FerryConfig &config)
{
    if (isSqlite(config.database))
        return QFileInfo::exists(config.database.sqlitePath);
    return postgresSchemaExists(config.database);
}

Error missingStore(const FerryConfig &config)
{
    const DatabaseConfig &database = config.database;
    const QString location = storeLocation(database);
    if (!isSqlite(database)) {
        return makeError(
            ErrorCode::NotFound,
            QStringLiteral("The database %1 has no Ferry store.").arg(location),
            QStringLiteral("Check --db (or FERRY_DB). To create a store there, start the engine "
                           "on it once (ferry --headless --db %1) or add its first user "
                           "(ferry user add NAME --db %1).")
                .arg(location));
    }
    // Where the store would be: the data dir's ferry.db, or a file --db names.
    const bool inDataDir = location == config.dataDir + QStringLiteral("/ferry.db");
    const QString directory = QFileInfo(location).absolutePath();
    const QString what =
        QFileInfo::exists(directory)
            ? QStringLiteral("There is no Ferry store at %1.").arg(location)
            : QStringLiteral("The %1 %2 does not exist (no Ferry store there).")
                  .arg(inDataDir ? QStringLiteral("data directory") : QStringLiteral("directory"),
                       directory);
    const QString option = inDataDir ? QStringLiteral("--data-dir") : QStringLiteral("--db");
    const QString value = inDataDir ? config.dataDir : location;
    return makeError(
        ErrorCode::NotFound, what,
        QStringLiteral("Check %1 (or FERRY_%2). To create a new store there, start "
                       "the engine once (ferry --headless %1 %3) or add its first "
                       "user (ferry user add NAME %1 %3).")
            .arg(option, inDataDir ? QStringLiteral("DATA_DIR") : QStringLiteral("DB"), value));
}

} // namespace Ferry
