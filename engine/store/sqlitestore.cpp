#include "sqlitestore.h"

#include "store/migrator.h"
#include "store/sqlhelpers.h"
#include "store/sqlvalues.h"

#include <QDir>
#include <QFileInfo>
#include <QSqlError>
#include <QSqlQuery>

namespace Ferry {

namespace {

Result<void> initializeConnection(QSqlDatabase &db, const DatabaseConfig &config)
{
    QSqlQuery query(db);
    const QString sync = config.sqliteSync == DatabaseConfig::SqliteSync::Full
                             ? QStringLiteral("FULL")
                             : QStringLiteral("NORMAL");
    // journal_mode is the first statement: on a file that is not a database it fails here.
    if (!query.exec(QStringLiteral("PRAGMA journal_mode=WAL")) || !query.next())
        return sqlError(query, QStringLiteral("opening %1").arg(config.sqlitePath));
    if (query.value(0).toString().compare(u"wal", Qt::CaseInsensitive) != 0) {
        return makeError(ErrorCode::Storage,
                         QStringLiteral("SQLite refused WAL mode on %1 (got '%2').")
                             .arg(config.sqlitePath, query.value(0).toString()),
                         QStringLiteral("Put the data directory on a local file system."));
    }
    const QStringList pragmas{
        QStringLiteral("PRAGMA synchronous=") + sync,
        QStringLiteral("PRAGMA foreign_keys=ON"),
        QStringLiteral("PRAGMA temp_store=MEMORY"),
        QStringLiteral("PRAGMA cache_size=-8000"),
        QStringLiteral("PRAGMA busy_timeout=%1").arg(config.busyTimeoutMs),
    };
    for (const QString &pragma : pragmas) {
        if (!query.exec(pragma))
            return sqlError(query, pragma);
    }
    return {};
}

User userFrom(const QSqlQuery &q)
{
    return User{q.value(0).toLongLong(), q.value(1).toString(), q.value(2).toString(),
                q.value(3).toBool(), q.value(4).toLongLong()};
}

const QString s_userColumns = QStringLiteral("id, name, tier, disabled, created_at");

} // namespace

SqliteStore::SqliteStore(const DatabaseConfig &config)
    : m_pool(config, [config](QSqlDatabase &db) { return initializeConnection(db, config); })
{}

SqliteStore::~SqliteStore() = default;

Result<std::unique_ptr<SqliteStore>> SqliteStore::open(const DatabaseConfig &config,
                                                       int targetSchemaVersion)
{
    const QFileInfo file(config.sqlitePath);
    if (!QDir().mkpath(file.absolutePath())) {
        return makeError(ErrorCode::Storage,
                         QStringLiteral("Cannot create the directory %1.").arg(file.absolutePath()),
                         QStringLiteral("Choose a writable --data-dir."));
    }
    if (file.exists() && !file.isWritable()) {
        return makeError(ErrorCode::Storage,
                         QStringLiteral("The database file %1 is not writable.")
                             .arg(file.absoluteFilePath()),
                         QStringLiteral("Fix its permissions or choose another --data-dir."));
    }
    std::unique_ptr<SqliteStore> store(new SqliteStore(config));
    auto db = store->db();
    if (!db)
        return db.error();
    Migrator migrator(*db, QStringLiteral("sqlite"));
    if (auto migrated = migrator.migrate(targetSchemaVersion); !migrated)
        return migrated.error();
    return store;
}

int SqliteStore::schemaVersion()
{
    auto db = this->db();
    if (!db)
        return -1;
    auto version = Migrator(*db, QStringLiteral("sqlite")).currentVersion();
    return version ? *version : -1;
}

Result<User> SqliteStore::createUser(const QString &name, const QString &tier,
                                     const QByteArray &tokenHash, qint64 now)
{
    auto db = this->db();
    if (!db)
        return db.error();
    SqlTransaction transaction(*db);
    if (auto begun = transaction.begin(); !begun)
        return begun.error();
    auto existing = userByName(name);
    if (!existing)
        return existing.error();
    if (existing->has_value()) {
        return makeError(ErrorCode::Conflict,
                         QStringLiteral("A user named '%1' already exists.").arg(name),
                         QStringLiteral("Pick another name, or rotate that user's token."));
    }
    QSqlQuery q(*db);
    q.prepare(QStringLiteral(
        "INSERT INTO users (name, tier, token_hash, created_at) VALUES (?, ?, ?, ?)"));
    q.addBindValue(name);
    q.addBindValue(tier);
    q.addBindValue(tokenHash);
    q.addBindValue(now);
    if (!q.exec())
        return sqlError(q, QStringLiteral("adding a user"));
    const qint64 id = q.lastInsertId().toLongLong();
    if (auto committed = transaction.commit(); !committed)
        return committed.error();
    return User{id, name, tier, false, now};
}

Result<std::optional<User>> SqliteStore::userByName(const QString &name)
{
    auto q = prepared(QStringLiteral("SELECT ") + s_userColumns +
                      QStringLiteral(" FROM users WHERE name = ?"));
    if (!q)
        return q.error();
    QSqlQuery &query = **q;
    query.bindValue(0, name);
    if (!query.exec())
        return sqlError(query, QStringLiteral("looking up a user"));
    std::optional<User> user;
    if (query.next())
        user = userFrom(query);
    query.finish();
    return user;
}

Result<std::optional<User>> SqliteStore::userByTokenHash(const QByteArray &tokenHash)
{
    auto q = prepared(QStringLiteral("SELECT ") + s_userColumns +
                      QStringLiteral(" FROM users WHERE token_hash = ?"));
    if (!q)
        return q.error();
    QSqlQuery &query = **q;
    query.bindValue(0, tokenHash);
    if (!query.exec())
        return sqlError(query, QStringLiteral("authenticating"));
    std::optional<User> user;
    if (query.next())
        user = userFrom(query);
    query.finish();
    return user;
}

Result<QList<User>> SqliteStore::users()
{
    auto db = this->db();
    if (!db)
        return db.error();
    QSqlQuery q(*db);
    if (!q.exec(QStringLiteral("SELECT ") + s_userColumns +
                QStringLiteral(" FROM users ORDER BY name")))
        return sqlError(q, QStringLiteral("listing users"));
    QList<User> result;
    while (q.next())
        result.append(userFrom(q));
    return result;
}

Result<std::optional<QString>> SqliteStore::setting(const QString &key)
{
    auto q = prepared(QStringLiteral("SELECT value FROM settings WHERE key = ?"));
    if (!q)
        return q.error();
    QSqlQuery &query = **q;
    query.bindValue(0, key);
    if (!query.exec())
        return sqlError(query, QStringLiteral("reading setting %1").arg(key));
    std::optional<QString> value;
    if (query.next())
        value = query.value(0).toString();
    query.finish();
    return value;
}

Result<void> SqliteStore::setSetting(const QString &key, const QString &value)
{
    auto q = prepared(QStringLiteral("INSERT INTO settings (key, value) VALUES (?, ?) "
                                     "ON CONFLICT (key) DO UPDATE SET value = excluded.value"));
    if (!q)
        return q.error();
    QSqlQuery &query = **q;
    query.bindValue(0, key);
    query.bindValue(1, value);
    if (!query.exec())
        return sqlError(query, QStringLiteral("saving setting %1").arg(key));
    return {};
}

} // namespace Ferry
