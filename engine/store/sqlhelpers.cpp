#include "sqlhelpers.h"

#include "store/connectionpool.h"
#include "store/postgreserrors.h"

#include <QSqlDriver>
#include <QSqlError>

namespace Ferry {

namespace {
Error storageError(const QSqlError &error, const QString &doing)
{
    const QString text = error.text();
    // A unique key already taken is a Conflict, as on PostgreSQL (postgreserrors.cpp), so that
    // callers handle it the same on both. QSQLITE reports the primary result code (19,
    // SQLITE_CONSTRAINT, shared by every kind of constraint) or an extended one (2067 UNIQUE,
    // 1555 PRIMARY KEY); SQLite's message names the kind.
    const QString code = error.nativeErrorCode();
    if (code == u"2067" || code == u"1555" ||
        (code == u"19" && text.contains(u"UNIQUE constraint failed"))) {
        return makeError(ErrorCode::Conflict,
                         QStringLiteral("Conflict while %1: %2").arg(doing, text),
                         QStringLiteral("Another row with the same key exists."));
    }
    QString hint = QStringLiteral("Check the database file and the disk.");
    if (text.contains(u"not a database") || text.contains(u"malformed"))
        hint = QStringLiteral("The database file is damaged: restore it from a backup or move it "
                              "aside to start empty.");
    else if (text.contains(u"readonly") || text.contains(u"read-only"))
        hint = QStringLiteral("Make the data directory and database file writable.");
    else if (text.contains(u"locked") || text.contains(u"busy"))
        hint = QStringLiteral("Another process holds the database; try again.");
    return makeError(ErrorCode::Storage,
                     QStringLiteral("Database error while %1: %2").arg(doing, text), hint);
}
} // namespace

namespace {
bool isPostgres(const QSqlDriver *driver)
{
    return driver && driver->dbmsType() == QSqlDriver::PostgreSQL;
}
} // namespace

Error sqlError(const QSqlQuery &query, const QString &doing)
{
    if (isPostgres(query.driver()))
        return postgresError(query.lastError(), doing);
    return storageError(query.lastError(), doing);
}

Error sqlError(const QSqlDatabase &db, const QString &doing)
{
    if (isPostgres(db.driver()))
        return postgresError(db.lastError(), doing);
    return storageError(db.lastError(), doing);
}

SqlTransaction::SqlTransaction(QSqlDatabase db, ConnectionPool *pool)
    : m_db(std::move(db)), m_pool(pool)
{}

SqlTransaction::~SqlTransaction()
{
    rollback();
}

bool SqlTransaction::exec(const QString &sql, QSqlError *error)
{
    if (m_pool) {
        auto statement = m_pool->statement(sql);
        if (!statement) {
            *error = QSqlError(statement.error().message, {}, QSqlError::ConnectionError);
            return false;
        }
        if (!(*statement)->exec()) {
            *error = (*statement)->lastError();
            return false;
        }
        return true;
    }
    QSqlQuery query(m_db);
    if (!query.exec(sql)) {
        *error = query.lastError();
        return false;
    }
    return true;
}

Result<void> SqlTransaction::begin()
{
    const bool sqlite = m_db.driverName() == u"QSQLITE";
    return start(sqlite ? QStringLiteral("BEGIN IMMEDIATE") : QStringLiteral("BEGIN"));
}

Result<void> SqlTransaction::beginSnapshot()
{
    const bool sqlite = m_db.driverName() == u"QSQLITE";
    return start(sqlite ? QStringLiteral("BEGIN")
                        : QStringLiteral("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
}

Result<void> SqlTransaction::start(const QString &begin)
{
    QSqlError error;
    if (!exec(begin, &error))
        return makeError(ErrorCode::Storage,
                         QStringLiteral("Database error while starting a transaction: ") +
                             error.text(),
                         QStringLiteral("Another process may hold the database; try again."));
    m_open = true;
    return {};
}

Result<void> SqlTransaction::commit()
{
    QSqlError error;
    if (!exec(QStringLiteral("COMMIT"), &error)) {
        rollback();
        // A PostgreSQL commit can fail on a serialization conflict: say that it is retryable.
        if (isPostgres(m_db.driver()) && !error.nativeErrorCode().isEmpty())
            return postgresError(error, QStringLiteral("committing"));
        return makeError(ErrorCode::Storage,
                         QStringLiteral("Database error while committing: ") + error.text(),
                         QStringLiteral("Check the disk; nothing of this change was kept."));
    }
    m_open = false;
    return {};
}

void SqlTransaction::rollback()
{
    if (!m_open)
        return;
    m_open = false;
    QSqlError error;
    exec(QStringLiteral("ROLLBACK"), &error);
}

} // namespace Ferry
