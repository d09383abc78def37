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

    QString host; // Postgres
    int port = 5432;
    QString user;
    QString password;
    QString database;

    int maxConnections = 96; // per process; one per thread that touches SQL
    // PostgreSQL: libpq's connect_timeout, 0 = its default (wait indefinitely). The shared rate
    // limit sets it so an unreachable server costs a bounded wait.
    int connectTimeoutSeconds = 0;

    // "sqlite:///path/to/file.db", a plain path, or "postgresql://user:pass@host:port/db".
    static Result<DatabaseConfig> fromUrl(const QString &url);
    QString describe() const; // for logs: never includes the password
};

} // namespace Ferry
