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

} // namespace

SqliteStore::SqliteStore(const DatabaseConfig &config)
    : SqlStore(SqlDialect(SqlDialect::Engine::Sqlite),
               config,
               [config](QSqlDatabase &db) { return initializeConnection(db, config); })
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

} // namespace Ferry
