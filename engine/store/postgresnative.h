#pragma once

#include "core/error.h"

#include <QByteArray>
#include <QString>

class QSqlDatabase;

#include <initializer_list>
#include <string_view>
#include <utility>
#include <vector>

struct pg_conn;
struct pg_result;

namespace Ferry {

class ConnectionPool;

// libpq on the connection Qt's QPSQL driver opened (QSqlDriver::handle()), for the dataset paths
// where QSqlQuery cannot keep up: COPY ... FROM STDIN for imported records, and reading record
// pages without a QVariant per value. Only used between QSqlQuery calls on the same thread, never
// while a QSqlQuery of this connection is still fetching rows.

// A Storage error naming what was being done and libpq's message (the result's, else the
// connection's): every libpq caller's one error shape.
Error libpqError(pg_conn *connection, const QString &doing, pg_result *result = nullptr);

// One result, cleared when it goes out of scope.
class PgResult final
{
public:
    PgResult() = default;
    explicit PgResult(pg_result *result) : m_result(result) {}
    PgResult(PgResult &&other) noexcept : m_result(std::exchange(other.m_result, nullptr)) {}
    PgResult &operator=(PgResult &&other) noexcept;
    ~PgResult();
    Q_DISABLE_COPY(PgResult)

    pg_result *get() const { return m_result; }
    int rows() const;
    bool isNull(int row, int column) const;
    qint64 int64(int row, int column) const;
    std::string_view text(int row, int column) const; // valid while this result lives

private:
    pg_result *m_result = nullptr;
};

// Binary COPY data (the format of COPY ... FROM STDIN (FORMAT binary)): no quoting or escaping
// of documents, and no number parsing on the server.
class PgCopyBuffer final
{
public:
    PgCopyBuffer();
    void startRow(int fields);
    void addInt64(qint64 value);
    void addText(std::string_view text);
    void addText(const QString &text); // a null QString is SQL NULL
    // A jsonb value from JSON text: jsonb's binary format is a version byte (1) and the text,
    // which the server parses as it would the text format's.
    void addJsonb(std::string_view json);
    void addNull();
    const QByteArray &finish(); // appends the trailer
    // The bytes not yet taken, and taking them (PgCopyIn sends them as the rows are added).
    qsizetype pendingBytes() const { return m_data.size(); }
    const QByteArray &pending() const { return m_data; }
    void clearPending() { m_data.resize(0); }

private:
    void addInt32(qint32 value);
    QByteArray m_data;
};

// One statement of a pipeline (PgConnection::execPipelined): SQL, its text parameters (a null
// QByteArray is SQL NULL), and what it does, for its error.
struct PgStatement
{
    const char *sql;
    std::vector<QByteArray> params;
    QString doing;
};

// False once libpq knows the connection is broken (after a statement on it failed because the
// server went away or ended the session); ConnectionPool then opens a new one.
bool postgresConnectionAlive(QSqlDatabase &db);

// This thread's connection of the pool, seen through libpq.
class PgConnection final
{
public:
    static Result<PgConnection> of(ConnectionPool &pool);

    // A statement with text parameters (a null QByteArray is SQL NULL); `doing` names it in the
    // error ("Database error while <doing>: ...").
    Result<PgResult>
    exec(const char *sql, std::initializer_list<QByteArray> params, const QString &doing);
    // Statements without parameters or rows, separated by semicolons.
    Result<void> exec(const char *sql, const QString &doing);
    // Several statements sent at once (libpq's pipeline mode) and their results, in order: one
    // round trip instead of one each. Each runs as exec() would run it on its own (its own
    // snapshot under READ COMMITTED); after a failed one the rest are skipped and its error is
    // returned.
    Result<std::vector<PgResult>> execPipelined(const std::vector<PgStatement> &statements);

private:
    friend class PgCopyIn;
    explicit PgConnection(pg_conn *connection) : m_connection(connection) {}
    Error error(const QString &doing, pg_result *result = nullptr) const;

    pg_conn *m_connection;
};

// COPY <target> FROM STDIN (FORMAT binary) with rows sent as they are added: each time more than
// ChunkBytes wait, so the server parses rows while the next ones are encoded (for a batch of
// 10,000 documents the encoding is about 1 ms the server would otherwise wait). After a refusal
// the server discards the rest; finish() reports it.
class PgCopyIn final
{
public:
    static constexpr qsizetype ChunkBytes = 256 << 10;

    PgCopyIn(PgConnection &connection, QString doing)
        : m_connection(connection), m_doing(std::move(doing))
    {}
    Q_DISABLE_COPY_MOVE(PgCopyIn)

    // Sends the COPY statement; rows may be added once it succeeded.
    Result<void> start(const char *copySql);
    PgCopyBuffer &rows() { return m_rows; }
    // After each row: sends what waits once it passes ChunkBytes.
    void sendIfFull()
    {
        if (m_rows.pendingBytes() >= ChunkBytes)
            send();
    }
    // Sends the rest and the trailer; the COPY's outcome.
    Result<void> finish();

private:
    void send();

    PgConnection &m_connection;
    QString m_doing;
    PgCopyBuffer m_rows;
    bool m_sendFailed = false;
};

// BEGIN ... COMMIT through libpq; ROLLBACK when it goes out of scope uncommitted.
class PgTransaction final
{
public:
    explicit PgTransaction(PgConnection &connection) : m_connection(connection) {}
    ~PgTransaction();
    Q_DISABLE_COPY_MOVE(PgTransaction)
    Result<void> begin();
    // BEGIN and the transaction's first statements in one round trip (execPipelined).
    Result<std::vector<PgResult>> begin(const std::vector<PgStatement> &first);
    Result<void> commit();

private:
    PgConnection &m_connection;
    bool m_open = false;
};

inline QByteArray pgInt(qint64 value)
{
    return QByteArray::number(value);
}

} // namespace Ferry
