// SqlStore: users and settings (resources/migrations/*/0001_core.sql).
#include "sqlstore.h"

#include "store/sharedrows.h"
#include "store/sqlhelpers.h"

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

Result<User> SqlStore::createUser(const QString &name,
                                  const QString &tier,
                                  const QByteArray &tokenHash,
                                  qint64 now)
{
    const auto turn = writeTurn();
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
    const qint64 id = q.value(0).toLongLong();
    q.finish();
    return User{id, name, tier, false, now};
}

namespace {

Result<std::optional<User>>
oneUser(Result<QSqlQuery *> q, const QVariant &key, const QString &doing)
{
    if (!q)
        return q.error();
    QSqlQuery &query = **q;
    query.bindValue(0, key);
    if (!query.exec())
        return sqlError(query, doing);
    std::optional<User> user;
    if (query.next())
        user = userFrom(query);
    query.finish();
    return user;
}

} // namespace

Result<std::optional<User>> SqlStore::userByName(const QString &name)
{
    return oneUser(prepared(QStringLiteral("SELECT ") + s_userColumns +
                            QStringLiteral(" FROM users WHERE name = ?")),
                   name, QStringLiteral("looking up a user"));
}

Result<std::optional<User>> SqlStore::userById(qint64 userId)
{
    return oneUser(prepared(QStringLiteral("SELECT ") + s_userColumns +
                            QStringLiteral(" FROM users WHERE id = ?")),
                   userId, QStringLiteral("looking up a user"));
}

Result<std::optional<User>> SqlStore::userByTokenHash(const QByteArray &tokenHash)
{
    return oneUser(prepared(QStringLiteral("SELECT ") + s_userColumns +
                            QStringLiteral(" FROM users WHERE token_hash = ?")),
                   tokenHash, QStringLiteral("authenticating"));
}

Result<QList<User>> SqlStore::users()
{
    auto db = this->db();
    if (!db)
        return db.error();
    QSqlQuery q(*db);
    if (!q.exec(QStringLiteral("SELECT ") + s_userColumns +
                QStringLiteral(" FROM users ORDER BY name") + m_sql.byteOrder()))
        return sqlError(q, QStringLiteral("listing users"));
    QList<User> result;
    while (q.next())
        result.append(userFrom(q));
    return result;
}

namespace {

// One UPDATE of a user's row by id (bound last); NotFound when there is no such user.
Result<void> updateUser(
    QSqlDatabase db, const QString &sql, const QVariant &value, qint64 userId, const QString &doing)
{
    QSqlQuery q(db);
    q.prepare(sql);
    q.addBindValue(value);
    q.addBindValue(userId);
    if (!q.exec())
        return sqlError(q, doing);
    if (q.numRowsAffected() == 0)
        return makeError(ErrorCode::NotFound, QStringLiteral("No such user."));
    return {};
}

} // namespace

Result<void> SqlStore::setUserDisabled(qint64 userId, bool disabled)
{
    const auto turn = writeTurn();
    auto db = this->db();
    if (!db)
        return db.error();
    return updateUser(*db, QStringLiteral("UPDATE users SET disabled = ? WHERE id = ?"),
                      disabled ? 1 : 0, userId, QStringLiteral("changing a user"));
}

Result<void> SqlStore::setUserTokenHash(qint64 userId, const QByteArray &tokenHash)
{
    const auto turn = writeTurn();
    auto db = this->db();
    if (!db)
        return db.error();
    return updateUser(*db, QStringLiteral("UPDATE users SET token_hash = ? WHERE id = ?"),
                      tokenHash, userId, QStringLiteral("rotating a user's token"));
}

Result<std::optional<QString>> SqlStore::setting(const QString &key)
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

Result<void> SqlStore::setSetting(const QString &key, const QString &value)
{
    // Cluster: every node hears the change at commit (ferry_settings, payload the key), so a
    // pause from any node or process applies everywhere at once, not at each node's next poll
    // (issue 18). One statement: the write and its notification commit together.
    const auto turn = writeTurn();
    auto q = prepared(m_sql.notifying(
        QStringLiteral("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO "
                       "UPDATE SET value = excluded.value"),
        QStringLiteral("ferry_settings"), QStringLiteral("key")));
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
