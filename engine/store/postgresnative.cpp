#include "postgresnative.h"

#include "store/connectionpool.h"

#include <QSqlDriver>
#include <QtEndian>

#include <libpq-fe.h>

#include <optional>
#include <string_view>
#include <vector>

namespace Ferry {

PgResult &PgResult::operator=(PgResult &&other) noexcept
{
    if (this != &other) {
        PQclear(m_result);
        m_result = std::exchange(other.m_result, nullptr);
    }
    return *this;
}

PgResult::~PgResult()
{
    PQclear(m_result);
}

int PgResult::rows() const
{
    return m_result ? PQntuples(m_result) : 0;
}

bool PgResult::isNull(int row, int column) const
{
    return PQgetisnull(m_result, row, column) != 0;
}

qint64 PgResult::int64(int row, int column) const
{
    return std::strtoll(PQgetvalue(m_result, row, column), nullptr, 10);
}

std::string_view PgResult::text(int row, int column) const
{
    return {PQgetvalue(m_result, row, column), size_t(PQgetlength(m_result, row, column))};
}

PgCopyBuffer::PgCopyBuffer()
{
    // Signature, flags (no OIDs), header extension length.
    static const char header[] = "PGCOPY\n\377\r\n";
    m_data.append(header, 11);
    addInt32(0);
    addInt32(0);
}

void PgCopyBuffer::addInt32(qint32 value)
{
    char bytes[4];
    qToBigEndian(value, bytes);
    m_data.append(bytes, 4);
}

void PgCopyBuffer::startRow(int fields)
{
    char bytes[2];
    qToBigEndian(qint16(fields), bytes);
    m_data.append(bytes, 2);
}

void PgCopyBuffer::addInt64(qint64 value)
{
    char bytes[12];
    qToBigEndian(qint32(8), bytes);
    qToBigEndian(value, bytes + 4);
    m_data.append(bytes, 12);
}

void PgCopyBuffer::addText(std::string_view text)
{
    addInt32(qint32(text.size()));
    m_data.append(text.data(), qsizetype(text.size()));
}

void PgCopyBuffer::addJsonb(std::string_view json)
{
    addInt32(qint32(json.size() + 1));
    m_data.append(char(1));
    m_data.append(json.data(), qsizetype(json.size()));
}

void PgCopyBuffer::addText(const QString &text)
{
    if (text.isNull()) {
        addNull();
        return;
    }
    const QByteArray utf8 = text.toUtf8();
    addText(std::string_view(utf8.constData(), size_t(utf8.size())));
}

void PgCopyBuffer::addNull()
{
    addInt32(-1);
}

const QByteArray &PgCopyBuffer::finish()
{
    char bytes[2];
    qToBigEndian(qint16(-1), bytes);
    m_data.append(bytes, 2);
    return m_data;
}

bool postgresConnectionAlive(QSqlDatabase &db)
{
    const QVariant handle = db.driver() ? db.driver()->handle() : QVariant();
    const bool isPg =
        qstrcmp(handle.typeName(), "PGconn*") == 0 || qstrcmp(handle.typeName(), "pg_conn*") == 0;
    if (!isPg)
        return true; // not ours to judge
    auto *const *connection = static_cast<PGconn *const *>(handle.data());
    return connection && *connection && PQstatus(*connection) == CONNECTION_OK;
}

Result<PgConnection> PgConnection::of(ConnectionPool &pool)
{
    auto db = pool.connection();
    if (!db)
        return db.error();
    const QVariant handle = db->driver()->handle();
    auto *const *connection = static_cast<PGconn *const *>(handle.data());
    // Qt registers the handle's type as "PGconn*" or "pg_conn*" depending on the version.
    const bool isPg =
        qstrcmp(handle.typeName(), "PGconn*") == 0 || qstrcmp(handle.typeName(), "pg_conn*") == 0;
    if (!isPg || !connection || !*connection) {
        return makeError(ErrorCode::Internal,
                         QStringLiteral("The database connection is not a PostgreSQL one."));
    }
    if (PQstatus(*connection) != CONNECTION_OK) {
        return makeError(ErrorCode::Storage,
                         QStringLiteral("The PostgreSQL connection is broken: %1")
                             .arg(QString::fromUtf8(PQerrorMessage(*connection)).trimmed()),
                         QStringLiteral("Check that the PostgreSQL server is running; try again."));
    }
    // QPSQL reads forward-only queries in single-row mode and leaves what a QSqlQuery did not
    // read (at least the end marker) on the connection until its next query, which discards it
    // first. Do the same, or libpq refuses the next command ("another command is already in
    // progress").
    while (PGresult *unread = PQgetResult(*connection))
        PQclear(unread);
    return PgConnection(*connection);
}

Error libpqError(pg_conn *connection, const QString &doing, pg_result *result)
{
    QString message =
        QString::fromUtf8(result ? PQresultErrorMessage(result) : PQerrorMessage(connection))
            .trimmed();
    if (message.isEmpty())
        message = QString::fromUtf8(PQerrorMessage(connection)).trimmed();
    return makeError(ErrorCode::Storage,
                     QStringLiteral("Database error while %1: %2").arg(doing, message),
                     QStringLiteral("Check that the PostgreSQL server is reachable, and its log; "
                                    "try again."));
}

Error PgConnection::error(const QString &doing, PGresult *result) const
{
    return libpqError(m_connection, doing, result);
}

Result<PgResult>
PgConnection::exec(const char *sql, std::initializer_list<QByteArray> params, const QString &doing)
{
    std::vector<const char *> values;
    values.reserve(params.size());
    for (const QByteArray &param : params)
        values.push_back(param.isNull() ? nullptr : param.constData());
    PgResult result(PQexecParams(m_connection, sql, int(values.size()), nullptr, values.data(),
                                 nullptr, nullptr, 0));
    const ExecStatusType status = result.get() ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK)
        return error(doing, result.get());
    return result;
}

Result<void> PgConnection::exec(const char *sql, const QString &doing)
{
    // The simple protocol: several statements in one round trip.
    PgResult result(PQexec(m_connection, sql));
    const ExecStatusType status = result.get() ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK)
        return error(doing, result.get());
    return {};
}

Result<std::vector<PgResult>>
PgConnection::execPipelined(const std::vector<PgStatement> &statements)
{
    const QString doing = statements.empty() ? QString() : statements.front().doing;
    if (PQenterPipelineMode(m_connection) != 1)
        return error(doing);
    bool sent = true;
    size_t queued = 0;
    for (const PgStatement &statement : statements) {
        std::vector<const char *> values;
        values.reserve(statement.params.size());
        for (const QByteArray &param : statement.params)
            values.push_back(param.isNull() ? nullptr : param.constData());
        if (PQsendQueryParams(m_connection, statement.sql, int(values.size()), nullptr,
                              values.data(), nullptr, nullptr, 0) != 1) {
            sent = false;
            break;
        }
        ++queued;
    }
    sent = PQpipelineSync(m_connection) == 1 && sent;
    // Each queued statement's result, then the NULL that ends it; then the sync's.
    std::vector<PgResult> results;
    results.reserve(queued);
    std::optional<Error> failed;
    for (size_t i = 0; i < queued; ++i) {
        PgResult result(PQgetResult(m_connection));
        const ExecStatusType status =
            result.get() ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
        if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK && !failed &&
            status != PGRES_PIPELINE_ABORTED)
            failed = error(statements[i].doing, result.get());
        while (PGresult *rest = PQgetResult(m_connection))
            PQclear(rest);
        results.push_back(std::move(result));
    }
    if (sent) {
        PgResult sync(PQgetResult(m_connection));
        if (PQresultStatus(sync.get()) != PGRES_PIPELINE_SYNC && !failed)
            failed = error(doing, sync.get());
    }
    if (PQexitPipelineMode(m_connection) != 1 && !failed)
        failed = error(doing);
    if (failed)
        return *failed;
    if (!sent)
        return error(doing);
    return results;
}

Result<void> PgCopyIn::start(const char *copySql)
{
    PgResult started(PQexec(m_connection.m_connection, copySql));
    if (!started.get() || PQresultStatus(started.get()) != PGRES_COPY_IN)
        return m_connection.error(m_doing, started.get());
    return {};
}

void PgCopyIn::send()
{
    const QByteArray &data = m_rows.pending();
    if (!m_sendFailed && !data.isEmpty())
        m_sendFailed =
            PQputCopyData(m_connection.m_connection, data.constData(), int(data.size())) != 1;
    m_rows.clearPending();
}

Result<void> PgCopyIn::finish()
{
    pg_conn *const connection = m_connection.m_connection;
    m_rows.finish();
    send();
    const bool sent =
        PQputCopyEnd(connection, m_sendFailed ? "client could not send the rows" : nullptr) == 1 &&
        !m_sendFailed;
    // The COPY's own result, then the end of the command.
    std::optional<Error> failed;
    while (PGresult *end = PQgetResult(connection)) {
        if (PQresultStatus(end) != PGRES_COMMAND_OK && !failed) {
            failed = m_connection.error(m_doing, end);
            // Class 22, a data exception: the server refused one of the rows' values, which
            // come from the imported file (a document jsonb cannot hold: a \u0000 escape, a
            // number past numeric's range). Sending it again fails again: the file's fault.
            const char *state = PQresultErrorField(end, PG_DIAG_SQLSTATE);
            if (state && std::string_view(state).starts_with("22")) {
                failed->code = ErrorCode::InvalidArgument;
                failed->hint = QStringLiteral(
                    "PostgreSQL stores dataset documents as jsonb, which refuses the character "
                    "U+0000 (\\u0000) in strings and numbers beyond its numeric type's range; "
                    "change such values in the file and import it again.");
            }
        }
        PQclear(end);
    }
    if (failed)
        return *failed;
    if (!sent)
        return m_connection.error(m_doing);
    return {};
}

PgTransaction::~PgTransaction()
{
    if (m_open)
        (void)m_connection.exec("ROLLBACK", QStringLiteral("rolling back"));
}

Result<void> PgTransaction::begin()
{
    if (auto begun = m_connection.exec("BEGIN", QStringLiteral("starting a transaction")); !begun)
        return begun;
    m_open = true;
    return {};
}

Result<std::vector<PgResult>> PgTransaction::begin(const std::vector<PgStatement> &first)
{
    std::vector<PgStatement> statements;
    statements.reserve(first.size() + 1);
    statements.push_back({"BEGIN", {}, QStringLiteral("starting a transaction")});
    statements.insert(statements.end(), first.begin(), first.end());
    // Open from here: whatever part of it ran, the destructor's ROLLBACK ends it (a ROLLBACK
    // outside a transaction is only a warning).
    m_open = true;
    auto results = m_connection.execPipelined(statements);
    if (!results)
        return results.error();
    results->erase(results->begin()); // BEGIN's
    return results;
}

Result<void> PgTransaction::commit()
{
    auto committed = m_connection.exec("COMMIT", QStringLiteral("committing"));
    if (committed)
        m_open = false;
    return committed;
}

} // namespace Ferry
