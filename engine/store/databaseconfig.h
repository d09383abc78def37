#pragma once

#include "core/error.h"

#include <QString>

namespace Ferry {

// Where the store lives and how it is opened. Parsed from --db (a URL) and --data-dir.
struct DatabaseConfig
{
    enum class Backend { Sqlite, Postgres };
    enum class SqliteSync { Normal, Full };

    Backend backend = Backend::Sqlite;
    QString sqlitePath;                         // Sqlite: the database file
    SqliteSync sqliteSync = SqliteSync::Normal; // see docs/architecture.md, "Durability"
    int busyTimeoutMs = 5000;
    // Sqlite: imports stop below this much free disk on the database's file system
    // (--min-free-disk-mb), leaving room to undo them; 0 = no floor. See DiskReserve.
    qint64 minFreeDiskBytes = 0;

    QString host; // Postgres
    int port = 5432;
    QString user;
    QString password;
    QString database;
    // Postgres: the server ends a transaction a client left idle this long (a node cut off from
    // the database mid-transaction), releasing its row locks.
    int idleInTransactionTimeoutMs = 30'000;

    // Per process; one per thread that touches SQL (--db-max-connections). 0: the backend's
    // default, connectionLimit().
    int maxConnections = 0;
    static constexpr int DefaultSqliteConnections = 96;
    // A node has about 24 threads that touch SQL (the soak test counted 23 with 5 slots), two
    // dispatch lanes (JobStore::parallelCycles) and one per job slot; 40 covers up to 14 slots,
    // and two nodes stay under the server's default 100.
    static constexpr int DefaultPostgresConnections = 40;
    int connectionLimit() const;
    // PostgreSQL: libpq's connect_timeout; 0 = Ferry's default of 10 s. The shared rate limit
    // sets it lower so an unreachable server costs a bounded wait.
    int connectTimeoutSeconds = 0;
    // PostgreSQL: the application_name of this process's sessions. An engine's is
    // sessionNameFor(its node id), so that once the cluster declares the node dead its sessions
    // can be ended (PostgresStore::rescueDeadNodes): a node cut off in the middle of a COPY keeps
    // its row locks otherwise, and no server timeout applies to a session waiting for its client.
    QString sessionName = QStringLiteral("ferry");
    static QString sessionNameFor(const QString &nodeId);

    // "sqlite:///path/to/file.db", a plain path, or "postgresql://user:pass@host:port/db".
    static Result<DatabaseConfig> fromUrl(const QString &url);
    QString describe() const; // for logs: never includes the password
};

} // namespace Ferry
