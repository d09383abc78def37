#pragma once

#include "core/error.h"

#include <QByteArray>
#include <QByteArrayView>
#include <QString>

#include <initializer_list>
#include <utility>

class QSqlDatabase;
struct pg_conn;
struct pg_result;

namespace Ferry {

class ConnectionPool;

// libpq for the blob store, on its own pool's connections (never a QSqlQuery on them): chunks go
// to the server as binary parameters and come back as binary results, so 1 MiB of data is 1 MiB
// on the wire and in memory, not the 2 MiB of bytea's hex text that QPSQL would send.
namespace PgBlobSql {

// One result, cleared when it goes out of scope.
class Rows final
{
public:
    Rows() = default;
    explicit Rows(pg_result *result) : m_result(result) {}
    Rows(Rows &&other) noexcept : m_result(std::exchange(other.m_result, nullptr)) {}
    Rows &operator=(Rows &&other) noexcept;
    ~Rows();
    Q_DISABLE_COPY(Rows)

    pg_result *get() const { return m_result; }
    int count() const;
    int affected() const; // rows an INSERT/UPDATE/DELETE without RETURNING changed
    bool isNull(int row, int column) const;
    // A column of a text-format result as a number.
    qint64 int64(int row, int column) const;
    // A column's bytes (a binary-format result's bytea), valid while this result lives.
    QByteArrayView bytes(int row, int column) const;

private:
    pg_result *m_result = nullptr;
};

struct Param
{
    Param(qint64 number) : value(QByteArray::number(number)) {}
    Param(const QString &text) : value(text.toUtf8()) {}
    // Binary: bytea as is. Shares the array (implicitly), no copy.
    static Param bytes(QByteArray data)
    {
        Param param(std::move(data));
        param.binary = true;
        return param;
    }
    QByteArray value;
    bool binary = false;

private:
    explicit Param(QByteArray data) : value(std::move(data)) {}
};

// This thread's connection of the pool.
class Connection final
{
public:
    static Result<Connection> of(ConnectionPool &pool);

    // One statement; `doing` names it in the error. binaryResult: every column comes back in
    // binary (for bytea; numbers then are not text).
    Result<Rows> exec(const char *sql,
                      std::initializer_list<Param> params,
                      const QString &doing,
                      bool binaryResult = false);
    // A statement without parameters (BEGIN, COMMIT, ROLLBACK).
    Result<void> run(const char *sql, const QString &doing);

private:
    explicit Connection(pg_conn *connection) : m_connection(connection) {}
    Error error(const QString &doing, pg_result *result) const;

    pg_conn *m_connection;
};

// BEGIN ... COMMIT; ROLLBACK when it goes out of scope uncommitted.
class Transaction final
{
public:
    explicit Transaction(Connection &connection) : m_connection(connection) {}
    ~Transaction();
    Q_DISABLE_COPY_MOVE(Transaction)
    Result<void> begin();
    Result<void> commit();

private:
    Connection &m_connection;
    bool m_open = false;
};

// False once libpq knows the connection is broken: the pool then opens a new one.
bool connectionAlive(QSqlDatabase &db);

// A big-endian int8 of a binary-format result.
qint64 binaryInt64(QByteArrayView bytes);

} // namespace PgBlobSql

} // namespace Ferry
