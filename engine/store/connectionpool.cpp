#include "connectionpool.h"

#include <QHash>
#include <QMutex>
#include <QSemaphore>
#include <QSet>
#include <QSqlError>
#include <QSqlQuery>

#include <atomic>
#include <vector>

namespace Ferry {

struct ConnectionPool::State
{
    DatabaseConfig config;
    Initializer initializer;
    QString prefix;
    QSemaphore slots;
    std::atomic<int> sequence{0};
    mutable QMutex mutex;
    QSet<QString> names; // open connections; guarded by mutex
    bool closed = false; // guarded by mutex

    void remove(const QString &name)
    {
        QMutexLocker lock(&mutex);
        if (!names.remove(name))
            return;
        QSqlDatabase::removeDatabase(name);
        slots.release();
    }
};

namespace {

std::atomic<int> s_poolSequence{0};

// Per-thread list of the connections this thread opened, across pools. Its destructor runs
// when the thread ends and hands each connection back to its pool, if the pool still exists.
struct ThreadConnections
{
    struct Entry
    {
        std::weak_ptr<ConnectionPool::State> pool;
        QString name;
        QHash<QString, QSqlQuery> statements; // prepared once per thread and SQL text
        std::shared_ptr<void> attachment;     // the store's native per-connection state
    };
    std::vector<Entry> entries;

    ~ThreadConnections()
    {
        for (Entry &entry : entries) {
            entry.statements.clear();
            entry.attachment.reset();
            if (auto pool = entry.pool.lock())
                pool->remove(entry.name);
        }
    }

    Entry *find(const ConnectionPool::State *pool)
    {
        for (auto it = entries.begin(); it != entries.end();) {
            auto locked = it->pool.lock();
            if (!locked) {
                it = entries.erase(it);
                continue;
            }
            if (locked.get() == pool)
                return &*it;
            ++it;
        }
        return nullptr;
    }

    // Drops this thread's statements and connection of the given pool; returns its name.
    QString forget(const ConnectionPool::State *pool)
    {
        QString name;
        std::erase_if(entries, [&](Entry &e) {
            auto locked = e.pool.lock();
            if (locked && locked.get() != pool)
                return false;
            e.statements.clear();
            e.attachment.reset();
            if (locked)
                name = e.name;
            return true;
        });
        return name;
    }
};

thread_local ThreadConnections t_connections;

} // namespace

ConnectionPool::ConnectionPool(DatabaseConfig config, Initializer initializer)
    : m_state(std::make_shared<State>())
{
    m_state->slots.release(qMax(1, config.maxConnections));
    m_state->config = std::move(config);
    m_state->initializer = std::move(initializer);
    m_state->prefix = QStringLiteral("ferry-%1-").arg(s_poolSequence.fetch_add(1));
}

ConnectionPool::~ConnectionPool()
{
    // Other threads must have stopped using the pool; this thread's statements go first so the
    // connections are no longer in use when they are removed.
    t_connections.forget(m_state.get());
    QMutexLocker lock(&m_state->mutex);
    m_state->closed = true;
    for (const QString &name : std::as_const(m_state->names))
        QSqlDatabase::removeDatabase(name);
    m_state->names.clear();
}

Result<QSqlDatabase> ConnectionPool::connection()
{
    if (const auto *entry = t_connections.find(m_state.get()))
        return QSqlDatabase::database(entry->name, false);

    const DatabaseConfig &config = m_state->config;
    if (!m_state->slots.tryAcquire(1, config.busyTimeoutMs)) {
        return makeError(
            ErrorCode::Unavailable,
            QStringLiteral("All %1 database connections are in use.").arg(config.maxConnections),
            QStringLiteral("Lower the job concurrency or raise the connection limit."));
    }

    const QString name = m_state->prefix + QString::number(m_state->sequence.fetch_add(1));
    {
        QMutexLocker lock(&m_state->mutex);
        if (m_state->closed) {
            m_state->slots.release();
            return makeError(ErrorCode::Unavailable, QStringLiteral("The store is closing."));
        }
        m_state->names.insert(name);
    }
    const bool sqlite = config.backend == DatabaseConfig::Backend::Sqlite;
    QSqlDatabase db = QSqlDatabase::addDatabase(
        sqlite ? QStringLiteral("QSQLITE") : QStringLiteral("QPSQL"), name);
    if (sqlite) {
        db.setDatabaseName(config.sqlitePath);
        db.setConnectOptions(QStringLiteral("QSQLITE_BUSY_TIMEOUT=%1").arg(config.busyTimeoutMs));
    } else {
        db.setHostName(config.host);
        db.setPort(config.port);
        db.setUserName(config.user);
        db.setPassword(config.password);
        db.setDatabaseName(config.database);
        if (config.connectTimeoutSeconds > 0)
            db.setConnectOptions(
                QStringLiteral("connect_timeout=%1").arg(config.connectTimeoutSeconds));
    }
    auto fail = [&](const QString &message) -> Error {
        db = QSqlDatabase();
        m_state->remove(name);
        return makeError(
            ErrorCode::Storage,
            QStringLiteral("Cannot open the database (%1): %2").arg(config.describe(), message),
            QStringLiteral("Check that the path or server is reachable and "
                           "writable."));
    };
    if (!db.open())
        return fail(db.lastError().text());
    if (m_state->initializer) {
        if (auto init = m_state->initializer(db); !init) {
            db = QSqlDatabase();
            m_state->remove(name);
            return init.error();
        }
    }
    t_connections.entries.push_back({m_state, name, {}, {}});
    return db;
}

Result<QSqlQuery *> ConnectionPool::statement(const QString &sql)
{
    auto db = connection();
    if (!db)
        return db.error();
    auto *entry = t_connections.find(m_state.get());
    Q_ASSERT(entry);
    auto it = entry->statements.find(sql);
    if (it == entry->statements.end()) {
        QSqlQuery query(*db);
        query.setForwardOnly(true);
        if (!query.prepare(sql)) {
            return makeError(ErrorCode::Storage,
                             QStringLiteral("Cannot prepare a statement: %1 (%2)")
                                 .arg(query.lastError().text(), sql.left(80)));
        }
        it = entry->statements.insert(sql, std::move(query));
    }
    return &*it;
}

Result<std::shared_ptr<void> *> ConnectionPool::attachment()
{
    if (auto *entry = t_connections.find(m_state.get()))
        return &entry->attachment;
    auto db = connection();
    if (!db)
        return db.error();
    return &t_connections.find(m_state.get())->attachment;
}

void ConnectionPool::releaseThisThread()
{
    const QString name = t_connections.forget(m_state.get());
    if (!name.isEmpty())
        m_state->remove(name);
}

int ConnectionPool::openConnections() const
{
    QMutexLocker lock(&m_state->mutex);
    return int(m_state->names.size());
}

const DatabaseConfig &ConnectionPool::config() const
{
    return m_state->config;
}

} // namespace Ferry
