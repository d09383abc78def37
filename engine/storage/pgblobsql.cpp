#include "storage/pgblobsql.h"

#include "store/connectionpool.h"
#include "store/postgresnative.h"

#include <QSqlDriver>

#include <libpq-fe.h>

#include <vector>

namespace Ferry::PgBlobSql {

namespace {

pg_conn *handleOf(QSqlDatabase &db)
{
    const QVariant handle = db.driver() ? db.driver()->handle() : QVariant();
    // Qt registers the handle's type as "PGconn*" or "pg_conn*" depending on the version.
    const bool isPg =
        qstrcmp(handle.typeName(), "PGconn*") == 0 || qstrcmp(handle.typeName(), "pg_conn*") == 0;
    if (!isPg)
        return nullptr;
    auto *const *connection = static_cast<PGconn *const *>(handle.data());
    return connection ? *connection : nullptr;
}

} // namespace

Rows &Rows::operator=(Rows &&other) noexcept
{
    if (this != &other) {
        if (m_result)
            PQclear(m_result);
        m_result = std::exchange(other.m_result, nullptr);
    }
    return *this;
}

Rows::~Rows()
{
    if (m_result)
        PQclear(m_result);
}

int Rows::count() const
{
    return m_result ? PQntuples(m_result) : 0;
}

int Rows::affected() const
{
    return m_result ? QByteArray(PQcmdTuples(m_result)).toInt() : 0;
}

bool Rows::isNull(int row, int column) const
{
    return PQgetisnull(m_result, row, column) != 0;
}

qint64 Rows::int64(int row, int column) const
{
    return QByteArray(PQgetvalue(m_result, row, column), PQgetlength(m_result, row, column))
        .toLongLong();
}

QByteArrayView Rows::bytes(int row, int column) const
{
    return QByteArrayView(PQgetvalue(m_result, row, column), PQgetlength(m_result, row, column));
}

qint64 binaryInt64(QByteArrayView bytes)
{
    if (bytes.size() != 8)
        return 0;
    quint64 value = 0;
    for (char byte : bytes)
        value = (value << 8) | quint8(byte);
    return qint64(value);
}

bool connectionAlive(QSqlDatabase &db)
{
    pg_conn *connection = handleOf(db);
    return !connection || PQstatus(connection) == CONNECTION_OK;
}

Result<Connection> Connection::of(ConnectionPool &pool)
{
    auto db = pool.connection();
    if (!db)
        return db.error();
    pg_conn *connection = handleOf(*db);
    if (!connection) {
        return makeError(ErrorCode::Internal,
                         QStringLiteral("The database connection is not a PostgreSQL one."));
    }
    if (PQstatus(connection) != CONNECTION_OK) {
        return makeError(ErrorCode::Storage,
                         QStringLiteral("The PostgreSQL connection is broken: %1")
                             .arg(QString::fromUtf8(PQerrorMessage(connection)).trimmed()),
                         QStringLiteral("Check that the PostgreSQL server is running; try again."));
    }
    // Nothing of a QSqlQuery is pending on these connections (only this file uses them), but a
    // statement that failed half-way may have left a result: libpq refuses the next otherwise.
    while (PGresult *unread = PQgetResult(connection))
        PQclear(unread);
    return Connection(connection);
}

Error Connection::error(const QString &doing, pg_result *result) const
{
    return libpqError(m_connection, doing, result);
}

Result<Rows> Connection::exec(const char *sql,
                              std::initializer_list<Param> params,
                              const QString &doing,
                              bool binaryResult)
{
    std::vector<const char *> values;
    std::vector<int> lengths;
    std::vector<int> formats;
    values.reserve(params.size());
    for (const Param &param : params) {
        values.push_back(param.value.constData());
        lengths.push_back(int(param.value.size()));
        formats.push_back(param.binary ? 1 : 0);
    }
    Rows rows(PQexecParams(m_connection, sql, int(values.size()), nullptr, values.data(),
                           lengths.data(), formats.data(), binaryResult ? 1 : 0));
    const ExecStatusType status = rows.get() ? PQresultStatus(rows.get()) : PGRES_FATAL_ERROR;
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK)
        return error(doing, rows.get());
    return rows;
}

Result<void> Connection::run(const char *sql, const QString &doing)
{
    auto done = exec(sql, {}, doing);
    if (!done)
        return done.error();
    return {};
}

Transaction::~Transaction()
{
    if (m_open)
        (void)m_connection.run("ROLLBACK", QStringLiteral("rolling back"));
}

Result<void> Transaction::begin()
{
    auto begun = m_connection.run("BEGIN", QStringLiteral("beginning a transaction"));
    m_open = bool(begun);
    return begun;
}

Result<void> Transaction::commit()
{
    m_open = false;
    return m_connection.run("COMMIT", QStringLiteral("committing"));
}

} // namespace Ferry::PgBlobSql
