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

// A thread's prepared statements on one connection. Shared with the pool, which clears them
// before it removes the connection: a statement that outlives its driver crashes on destruction
// with QPSQL (a worker thread ending after the store was closed did).
using Statements = QHash<QString, QSqlQuery>;

struct ConnectionPool::State
{
    DatabaseConfig config;
    Initializer initializer;
    HealthCheck healthCheck;
    QString prefix;
    QSemaphore slots;
    QSemaphore reservedSlots{ConnectionPool::ReservedSlots}; // reserveForThisThread()'s
    std::atomic<int> sequence{0};
    mutable QMutex mutex;
    QSet<QString> names;         // open connections; guarded by mutex
    QSet<QString> reservedNames; // those of them on reserved slots; guarded by mutex
    QHash<QString, std::shared_ptr<Statements>> statements; // by connection; guarded by mutex
    bool closed = false;                                    // guarded by mutex

    void clearStatements(const QString &name)
    {
        QMutexLocker lock(&mutex);
        if (auto found = statements.take(name))
            found->clear();
    }

    void remove(const QString &name)
    {
        QMutexLocker lock(&mutex);
        if (auto found = statements.take(name))
            found->clear();
        if (!names.remove(name))
            return;
        QSqlDatabase::removeDatabase(name);
        (reservedNames.remove(name) ? reservedSlots : slots).release();
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
        std::shared_ptr<Statements> statements; // prepared once per thread and SQL text
        std::shared_ptr<void> attachment;       // the store's native per-connection state
    };
    std::vector<Entry> entries;

    ~ThreadConnections()
    {
        for (Entry &entry : entries) {
            // A pool that is gone cleared this thread's statements before closing the connection.
            auto pool = entry.pool.lock();
            if (pool)
                pool->clearStatements(entry.name);
            entry.attachment.reset();
            if (pool)
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
            if (locked)
                locked->clearStatements(e.name);
            e.attachment.reset();
            if (locked)
                name = e.name;
            return true;
        });
        return name;
    }
};

thread_local ThreadConnections t_connections;
thread_local bool t_reservedThread = false;

} // namespace

ConnectionPool::ConnectionPool(DatabaseConfig config,
                               Initializer initializer,
                               HealthCheck healthCheck)
    : m_state(std::make_shared<State>())
{
    m_state->healthCheck = std::move(healthCheck);
    m_state->slots.release(qMax(1, config.connectionLimit()));
    m_state->config = std::move(config);
    m_state->initializer = std::move(initializer);
    m_state->prefix = QStringLiteral("ferry-%1-").arg(s_poolSequence.fetch_add(1));
}

void ConnectionPool::reserveForThisThread()
{
    t_reservedThread = true;
}

ConnectionPool::~ConnectionPool()
{
    // Other threads must have stopped using the pool; this thread's statements go first so the
    // connections are no longer in use when they are removed.
    t_connections.forget(m_state.get());
    QMutexLocker lock(&m_state->mutex);
    m_state->closed = true;
    // Other threads' statements go before their connections (see Statements).
    for (const auto &statements : std::as_const(m_state->statements))
        statements->clear();
    m_state->statements.clear();
    for (const QString &name : std::as_const(m_state->names))
        QSqlDatabase::removeDatabase(name);
    m_state->names.clear();
}

Result<QSqlDatabase> ConnectionPool::connection()
{
    if (const auto *entry = t_connections.find(m_state.get())) {
        QSqlDatabase db = QSqlDatabase::database(entry->name, false);
        if (!m_state->healthCheck || m_state->healthCheck(db))
            return db;
        // Broken (the server restarted or ended the session): the statement that found out
        // failed; from here on this thread works on a new connection.
        qWarning("ferry: a database connection was lost; opening a new one");
        db = QSqlDatabase();
        releaseThisThread();
    }

    const DatabaseConfig &config = m_state->config;
    const bool reserved = t_reservedThread;
    QSemaphore &slots = reserved ? m_state->reservedSlots : m_state->slots;
    if (!slots.tryAcquire(1, config.busyTimeoutMs)) {
        return makeError(
            ErrorCode::Unavailable,
            QStringLiteral("All %1 database connections of this process are in use (waited %2 "
                           "ms for one).")
                .arg(config.connectionLimit())
                .arg(config.busyTimeoutMs),
            QStringLiteral("Lower the job concurrency or raise --db-max-connections."));
    }

    const QString name = m_state->prefix + QString::number(m_state->sequence.fetch_add(1));
    {
        QMutexLocker lock(&m_state->mutex);
        if (m_state->closed) {
            slots.release();
            return makeError(ErrorCode::Unavailable, QStringLiteral("The store is closing."));
        }
        m_state->names.insert(name);
        if (reserved)
            m_state->reservedNames.insert(name);
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
        // A node cut off mid-transaction must not keep its row locks (a job it no longer
        // holds would stay unrescuable): the server ends a transaction left idle this long.
        // Keepalives notice a dead peer in seconds rather than the kernel's two hours.
        db.setConnectOptions(
            QStringLiteral("application_name=%3;connect_timeout=%1;keepalives_idle=10;"
                           "keepalives_interval=5;keepalives_count=3;"
                           "options=-cidle_in_transaction_session_timeout=%2")
                .arg(config.connectTimeoutSeconds > 0 ? config.connectTimeoutSeconds : 10)
                .arg(config.idleInTransactionTimeoutMs)
                .arg(config.sessionName.isEmpty() ? QStringLiteral("ferry") : config.sessionName));
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
    auto statements = std::make_shared<Statements>();
    {
        QMutexLocker lock(&m_state->mutex);
        m_state->statements.insert(name, statements);
    }
    t_connections.entries.push_back({m_state, name, std::move(statements), {}});
    return db;
}

Result<QSqlQuery *> ConnectionPool::statement(const QString &sql)
{
    auto db = connection();
    if (!db)
        return db.error();
    auto *entry = t_connections.find(m_state.get());
    Q_ASSERT(entry);
    auto it = entry->statements->find(sql);
    if (it == entry->statements->end()) {
        QSqlQuery query(*db);
        query.setForwardOnly(true);
        if (!query.prepare(sql)) {
            return makeError(ErrorCode::Storage,
                             QStringLiteral("Cannot prepare a statement: %1 (%2)")
                                 .arg(query.lastError().text(), sql.left(80)));
        }
        it = entry->statements->insert(sql, std::move(query));
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
