#pragma once

#include "core/error.h"

#include <QHash>
#include <QString>

#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace Ferry {

class ConnectionPool;

// The SQLite C API for the queue's hot paths (enqueue, settle-and-claim), where QSqlQuery's
// QVariant binding costs more than the SQL itself. Statements are prepared once per thread.
class NativeStatement final
{
public:
    explicit NativeStatement(sqlite3_stmt *statement) : m_statement(statement) {}
    ~NativeStatement(); // resets, so the statement holds no lock once out of scope
    Q_DISABLE_COPY_MOVE(NativeStatement)

    NativeStatement &bind(int index, qint64 value);
    NativeStatement &bind(int index, const QString &text); // a null QString binds NULL
    NativeStatement &bindNull(int index);
    NativeStatement &bindUtf8(int index, std::string_view text); // not copied: keep it alive

    // Runs to the next row (true) or to the end (false); errors land in error().
    bool step();
    bool failed() const { return m_failed; }
    int changes() const;
    qint64 int64(int column) const;
    QString text(int column) const;
    std::string_view utf8(int column) const; // valid until the next step or reset
    Error error(const QString &doing) const;

private:
    sqlite3_stmt *m_statement;
    bool m_failed = false;
};

// This thread's prepared statements on one connection; owned by the ConnectionPool slot.
class NativeConnection final
{
public:
    explicit NativeConnection(sqlite3 *db) : m_db(db) {}
    ~NativeConnection();
    Q_DISABLE_COPY_MOVE(NativeConnection)

    static Result<NativeConnection *> of(ConnectionPool &pool);
    Result<sqlite3_stmt *> prepare(const QString &sql);
    Result<void> exec(const QString &sql); // a cached statement without results
    sqlite3 *handle() const { return m_db; }

private:
    sqlite3 *m_db;
    QHash<QString, sqlite3_stmt *> m_statements;
};

// A write transaction on the native connection (BEGIN IMMEDIATE ... COMMIT, or ROLLBACK).
class NativeTransaction final
{
public:
    explicit NativeTransaction(NativeConnection &connection) : m_connection(connection) {}
    ~NativeTransaction();
    Q_DISABLE_COPY_MOVE(NativeTransaction)
    Result<void> begin();
    Result<void> commit();

private:
    NativeConnection &m_connection;
    bool m_open = false;
};

} // namespace Ferry
