#pragma once

#include "core/error.h"
#include "store/databaseconfig.h"

#include <QSqlDatabase>
#include <QSqlQuery>

#include <functional>
#include <memory>

namespace Ferry {

// One named QSqlDatabase connection per thread and per pool, opened lazily on a thread's first
// use and removed when that thread ends (QThreadPool retires idle threads). Bounded: past
// maxConnections a caller waits up to the busy timeout for a thread to end, then gets an error.
// Connections are named by a sequence number, never by thread address (addresses are reused).
class ConnectionPool final
{
public:
    // Runs once on every new connection (PRAGMAs, session settings).
    using Initializer = std::function<Result<void>(QSqlDatabase &)>;

    // Asked before a thread's connection is handed out again: false when it is known to be
    // broken (the server restarted, or ended the session), and then it is replaced by a new one.
    using HealthCheck = std::function<bool(QSqlDatabase &)>;

    ConnectionPool(DatabaseConfig config, Initializer initializer, HealthCheck healthCheck = {});
    ~ConnectionPool();
    Q_DISABLE_COPY_MOVE(ConnectionPool)

    // This thread's connection, opened if needed.
    Result<QSqlDatabase> connection();
    // A statement prepared once on this thread's connection and kept for reuse (hot paths).
    // The pointer stays valid until the thread ends or releaseThisThread() is called.
    Result<QSqlQuery *> statement(const QString &sql);
    // A slot for state tied to this thread's connection (native statement caches). It is
    // destroyed before the connection closes.
    Result<std::shared_ptr<void> *> attachment();
    // Closes and forgets this thread's connection now (before the thread ends).
    void releaseThisThread();
    // Marks the calling thread as one whose work must not wait for a connection: the cluster
    // heartbeat, without which other nodes declare this one dead. Its connections come from a
    // few slots of their own beyond --db-max-connections, so busy job and API threads holding
    // every ordinary slot cannot starve it.
    static void reserveForThisThread();
    static constexpr int ReservedSlots = 2;

    int openConnections() const;
    const DatabaseConfig &config() const;

    struct State;

private:
    std::shared_ptr<State> m_state;
};

} // namespace Ferry
