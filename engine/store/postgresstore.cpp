// PostgresStore: opening, users and settings. Jobs are in postgresjobs.cpp.
#include "postgresstore.h"

#include "store/migrator.h"
#include "store/postgresnative.h"
#include "store/sharedrows.h"
#include "store/sqlhelpers.h"

#include <QSqlError>
#include <QSqlQuery>

namespace Ferry {

namespace {

User userFrom(const QSqlQuery &q)
{
    return User{q.value(0).toLongLong(), q.value(1).toString(), q.value(2).toString(),
                q.value(3).toInt() != 0, q.value(4).toLongLong()};
}

const QString &s_userColumns = SharedRows::userColumns;

} // namespace

PostgresStore::PostgresStore(const DatabaseConfig &config)
    // No per-session set-up: the pool's conninfo names the session (DatabaseConfig::sessionName),
    // and times are stored as epoch ms, so the session time zone does not matter.
    : m_pool(config, {}, [](QSqlDatabase &db) { return postgresConnectionAlive(db); })
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

int PostgresStore::schemaVersion()
{
    auto db = this->db();
    if (!db)
        return -1;
    auto version = Migrator(*db).currentVersion();
    return version ? *version : -1;
}

Result<User> PostgresStore::createUser(const QString &name,
                                       const QString &tier,
                                       const QByteArray &tokenHash,
                                       qint64 now)
{
    auto db = this->db();
    if (!db)
        return db.error();
    // The unique index on name decides between concurrent creators (other nodes included).
    QSqlQuery q(*db);
    q.prepare(QStringLiteral("INSERT INTO users (name, tier, token_hash, created_at) "
                             "VALUES (?, ?, ?, ?) ON CONFLICT (name) DO NOTHING RETURNING id"));
    q.addBindValue(name);
    q.addBindValue(tier);
    q.addBindValue(tokenHash);
    q.addBindValue(now);
    if (!q.exec())
        return sqlError(q, QStringLiteral("adding a user"));
    if (!q.next()) {
        return makeError(ErrorCode::Conflict,
                         QStringLiteral("A user named '%1' already exists.").arg(name),
                         QStringLiteral("Pick another name, or rotate that user's token."));
    }
    return User{q.value(0).toLongLong(), name, tier, false, now};
}

Result<std::optional<User>> PostgresStore::userByName(const QString &name)
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

Result<std::optional<User>> PostgresStore::userById(qint64 userId)
{
    auto q = prepared(QStringLiteral("SELECT ") + s_userColumns +
                      QStringLiteral(" FROM users WHERE id = ?"));
    if (!q)
        return q.error();
    QSqlQuery &query = **q;
    query.bindValue(0, userId);
    if (!query.exec())
        return sqlError(query, QStringLiteral("looking up a user"));
    std::optional<User> user;
    if (query.next())
        user = userFrom(query);
    query.finish();
    return user;
}

Result<std::optional<User>> PostgresStore::userByTokenHash(const QByteArray &tokenHash)
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

Result<QList<User>> PostgresStore::users()
{
    auto db = this->db();
    if (!db)
        return db.error();
    QSqlQuery q(*db);
    // COLLATE "C": the same byte order SQLite's BINARY collation gives.
    if (!q.exec(QStringLiteral("SELECT ") + s_userColumns +
                QStringLiteral(" FROM users ORDER BY name COLLATE \"C\"")))
        return sqlError(q, QStringLiteral("listing users"));
    QList<User> result;
    while (q.next())
        result.append(userFrom(q));
    return result;
}

Result<void> PostgresStore::setUserDisabled(qint64 userId, bool disabled)
{
    auto db = this->db();
    if (!db)
        return db.error();
    QSqlQuery q(*db);
    q.prepare(QStringLiteral("UPDATE users SET disabled = ? WHERE id = ?"));
    q.addBindValue(disabled ? 1 : 0);
    q.addBindValue(userId);
    if (!q.exec())
        return sqlError(q, QStringLiteral("changing a user"));
    if (q.numRowsAffected() == 0)
        return makeError(ErrorCode::NotFound, QStringLiteral("No such user."));
    return {};
}

Result<void> PostgresStore::setUserTokenHash(qint64 userId, const QByteArray &tokenHash)
{
    auto db = this->db();
    if (!db)
        return db.error();
    QSqlQuery q(*db);
    q.prepare(QStringLiteral("UPDATE users SET token_hash = ? WHERE id = ?"));
    q.addBindValue(tokenHash);
    q.addBindValue(userId);
    if (!q.exec())
        return sqlError(q, QStringLiteral("rotating a user's token"));
    if (q.numRowsAffected() == 0)
        return makeError(ErrorCode::NotFound, QStringLiteral("No such user."));
    return {};
}

Result<std::optional<QString>> PostgresStore::setting(const QString &key)
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

Result<void> PostgresStore::setSetting(const QString &key, const QString &value)
{
    // Cluster: every node hears the change at commit (ferry_settings, payload the key), so a
    // pause from any node or process applies everywhere at once, not at each node's next poll
    // (issue 18). One statement: the write and its notification commit together.
    auto q = prepared(QStringLiteral(
        "WITH saved AS (INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO "
        "UPDATE SET value = excluded.value RETURNING key) "
        "SELECT pg_notify('ferry_settings', key) FROM saved"));
    if (!q)
        return q.error();
    QSqlQuery &query = **q;
    query.bindValue(0, key);
    query.bindValue(1, value);
    if (!query.exec())
        return sqlError(query, QStringLiteral("saving setting %1").arg(key));
    query.finish();
    return {};
}

} // namespace Ferry
