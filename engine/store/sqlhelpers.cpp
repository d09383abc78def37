#include "sqlhelpers.h"

#include <QSqlDriver>
#include <QSqlError>

namespace Ferry {

namespace {
Error storageError(const QSqlError &error, const QString &doing)
{
    const QString text = error.text();
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

Error sqlError(const QSqlQuery &query, const QString &doing)
{
    return storageError(query.lastError(), doing);
}

Error sqlError(const QSqlDatabase &db, const QString &doing)
{
    return storageError(db.lastError(), doing);
}

SqlTransaction::SqlTransaction(QSqlDatabase db)
    : m_db(std::move(db))
{}

SqlTransaction::~SqlTransaction()
{
    rollback();
}

Result<void> SqlTransaction::begin()
{
    const bool sqlite = m_db.driverName() == u"QSQLITE";
    QSqlQuery query(m_db);
    if (!query.exec(sqlite ? QStringLiteral("BEGIN IMMEDIATE") : QStringLiteral("BEGIN")))
        return sqlError(query, QStringLiteral("starting a transaction"));
    m_open = true;
    return {};
}

Result<void> SqlTransaction::commit()
{
    QSqlQuery query(m_db);
    if (!query.exec(QStringLiteral("COMMIT"))) {
        Error error = sqlError(query, QStringLiteral("committing"));
        rollback();
        return error;
    }
    m_open = false;
    return {};
}

void SqlTransaction::rollback()
{
    if (!m_open)
        return;
    m_open = false;
    QSqlQuery query(m_db);
    query.exec(QStringLiteral("ROLLBACK"));
}

} // namespace Ferry
