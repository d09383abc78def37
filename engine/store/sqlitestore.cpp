#include "sqlitestore.h"

#include "store/migrator.h"
#include "store/sharedrows.h"
#include "store/sqlhelpers.h"
#include "store/sqlitenative.h"
#include "store/sqlvalues.h"

#include <QDir>
#include <QFileInfo>
#include <QSqlError>
#include <QSqlQuery>

#include <sqlite3.h>

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
        QStringLiteral("PRAGMA wal_autocheckpoint=0"), // the store's checkpointer does it
        QStringLiteral("PRAGMA journal_size_limit=67108864"),
        // Debian's SQLite zeroes every freed page (secure_delete=ON), which makes undoing an
        // import write as much WAL as the import did: on a full disk the undo could not run.
        // FAST still clears deleted cells in pages that are written anyway.
        QStringLiteral("PRAGMA secure_delete=FAST"),
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

const QString &s_userColumns = SharedRows::userColumns;

} // namespace

SqliteStore::SqliteStore(const DatabaseConfig &config)
    : m_pool(config, [config](QSqlDatabase &db) { return initializeConnection(db, config); })
    , m_disk(config.sqlitePath + QStringLiteral(".reserve"), config.minFreeDiskBytes)
    , m_walPath(config.sqlitePath + QStringLiteral("-wal"))
{}

SqliteStore::~SqliteStore()
{
    {
        std::lock_guard lock(m_checkpointMutex);
        m_closing = true;
    }
    m_checkpointWake.notify_one();
    if (m_checkpointer.joinable())
        m_checkpointer.join();
}

void SqliteStore::checkpointLoop()
{
    using namespace std::chrono_literals;
    // A checkpoint in the background cannot finish while writers keep appending, and the WAL
    // only restarts from its beginning once a checkpoint has finished, so: copy in the
    // background (PASSIVE never blocks anyone), and when the log has grown past a few MB,
    // finish the last few frames while holding the in-process write lock.
    constexpr int RestartFrames = 2000;
    constexpr int ReserveEveryTicks = 200; // ~10 s: take the disk reserve again once there is room
    int tick = 0;
    std::unique_lock lock(m_checkpointMutex);
    while (!m_closing) {
        m_checkpointWake.wait_for(lock, 50ms, [this] { return m_closing; });
        if (m_closing)
            break;
        lock.unlock();
        if (++tick % ReserveEveryTicks == 0)
            m_disk.ensure();
        if (auto native = NativeConnection::of(m_pool); native) {
            sqlite3 *db = (*native)->handle();
            int logFrames = 0, copied = 0;
            sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, &logFrames, &copied);
            if (logFrames > RestartFrames) {
                const std::lock_guard writer(m_writeMutex);
                sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, &logFrames,
                                          &copied);
            }
        }
        lock.lock();
    }
    lock.unlock();
    if (auto native = NativeConnection::of(m_pool); native)
        (void)(*native)->exec(QStringLiteral("PRAGMA wal_checkpoint(TRUNCATE)"));
    m_pool.releaseThisThread();
}

void SqliteStore::restartWal()
{
    const std::lock_guard writer(m_writeMutex);
    if (auto native = NativeConnection::of(m_pool); native) {
        int logFrames = 0, copied = 0;
        sqlite3_wal_checkpoint_v2((*native)->handle(), nullptr, SQLITE_CHECKPOINT_RESTART,
                                  &logFrames, &copied);
    }
}

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
        return makeError(
            ErrorCode::Storage,
            QStringLiteral("The database file %1 is not writable.").arg(file.absoluteFilePath()),
            QStringLiteral("Fix its permissions or choose another --data-dir."));
    }
    std::unique_ptr<SqliteStore> store(new SqliteStore(config));
    auto db = store->db();
    if (!db)
        return db.error();
    Migrator migrator(*db, QStringLiteral("sqlite"));
    if (auto migrated = migrator.migrate(targetSchemaVersion); !migrated)
        return migrated.error();
    store->m_disk.ensure();
    store->m_checkpointer = std::thread([raw = store.get()] { raw->checkpointLoop(); });
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

Result<User> SqliteStore::createUser(const QString &name,
                                     const QString &tier,
                                     const QByteArray &tokenHash,
                                     qint64 now)
{
    // In-process writers queue here, not in SQLite's busy handler (see m_writeMutex).
    const std::lock_guard writer(m_writeMutex);
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

Result<std::optional<User>> SqliteStore::userById(qint64 userId)
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

Result<void> SqliteStore::setUserDisabled(qint64 userId, bool disabled)
{
    // In-process writers queue here, not in SQLite's busy handler (see m_writeMutex).
    const std::lock_guard writer(m_writeMutex);
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
    // In-process writers queue here, not in SQLite's busy handler (see m_writeMutex).
    const std::lock_guard writer(m_writeMutex);
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
