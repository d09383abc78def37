#include "sqlitenative.h"

#include "store/connectionpool.h"

#include <QSqlDriver>

#include <sqlite3.h>

namespace Ferry {

NativeStatement::~NativeStatement()
{
    sqlite3_reset(m_statement);
    sqlite3_clear_bindings(m_statement);
}

NativeStatement &NativeStatement::bind(int index, qint64 value)
{
    sqlite3_bind_int64(m_statement, index, value);
    return *this;
}

NativeStatement &NativeStatement::bind(int index, const QString &text)
{
    if (text.isNull())
        sqlite3_bind_null(m_statement, index);
    else
        sqlite3_bind_text16(m_statement, index, text.utf16(), int(text.size() * 2),
                            SQLITE_TRANSIENT);
    return *this;
}

NativeStatement &NativeStatement::bindUtf8(int index, std::string_view text)
{
    sqlite3_bind_text(m_statement, index, text.data(), int(text.size()), SQLITE_STATIC);
    return *this;
}

std::string_view NativeStatement::utf8(int column) const
{
    const auto *data = reinterpret_cast<const char *>(sqlite3_column_text(m_statement, column));
    if (!data)
        return {};
    return {data, size_t(sqlite3_column_bytes(m_statement, column))};
}

NativeStatement &NativeStatement::bindNull(int index)
{
    sqlite3_bind_null(m_statement, index);
    return *this;
}

bool NativeStatement::step()
{
    const int rc = sqlite3_step(m_statement);
    if (rc == SQLITE_ROW)
        return true;
    if (rc != SQLITE_DONE)
        m_failed = true;
    return false;
}

int NativeStatement::changes() const
{
    return sqlite3_changes(sqlite3_db_handle(m_statement));
}

qint64 NativeStatement::int64(int column) const
{
    return sqlite3_column_int64(m_statement, column);
}

QString NativeStatement::text(int column) const
{
    // UTF-8 as stored: SQLite's own UTF-16 conversion costs more than Qt's decoder.
    const auto *data = reinterpret_cast<const char *>(sqlite3_column_text(m_statement, column));
    if (!data)
        return {};
    return QString::fromUtf8(data, sqlite3_column_bytes(m_statement, column));
}

Error NativeStatement::error(const QString &doing) const
{
    return makeError(
        ErrorCode::Storage,
        QStringLiteral("Database error while %1: %2")
            .arg(doing, QString::fromUtf8(sqlite3_errmsg(sqlite3_db_handle(m_statement)))),
        QStringLiteral("Check the database file and the disk."));
}

NativeConnection::~NativeConnection()
{
    for (sqlite3_stmt *statement : std::as_const(m_statements))
        sqlite3_finalize(statement);
}

Result<NativeConnection *> NativeConnection::of(ConnectionPool &pool)
{
    auto slot = pool.attachment();
    if (!slot)
        return slot.error();
    if (!**slot) {
        auto db = pool.connection();
        if (!db)
            return db.error();
        auto *handle = *static_cast<sqlite3 *const *>(db->driver()->handle().data());
        **slot = std::make_shared<NativeConnection>(handle);
    }
    return static_cast<NativeConnection *>((*slot)->get());
}

Result<sqlite3_stmt *> NativeConnection::prepare(const QString &sql)
{
    if (auto it = m_statements.constFind(sql); it != m_statements.cend())
        return *it;
    sqlite3_stmt *statement = nullptr;
    const QByteArray utf8 = sql.toUtf8();
    if (sqlite3_prepare_v3(m_db, utf8.constData(), int(utf8.size()), SQLITE_PREPARE_PERSISTENT,
                           &statement, nullptr) != SQLITE_OK) {
        return makeError(ErrorCode::Storage,
                         QStringLiteral("Cannot prepare a statement: %1 (%2)")
                             .arg(QString::fromUtf8(sqlite3_errmsg(m_db)), sql.left(80)));
    }
    m_statements.insert(sql, statement);
    return statement;
}

Result<void> NativeConnection::exec(const QString &sql)
{
    auto prepared = prepare(sql);
    if (!prepared)
        return prepared.error();
    NativeStatement statement(*prepared);
    statement.step();
    if (statement.failed())
        return statement.error(sql);
    return {};
}

NativeTransaction::~NativeTransaction()
{
    if (m_open)
        (void)m_connection.exec(QStringLiteral("ROLLBACK"));
}

Result<void> NativeTransaction::begin()
{
    if (auto begun = m_connection.exec(QStringLiteral("BEGIN IMMEDIATE")); !begun)
        return begun;
    m_open = true;
    return {};
}

Result<void> NativeTransaction::commit()
{
    auto committed = m_connection.exec(QStringLiteral("COMMIT"));
    if (committed)
        m_open = false;
    return committed;
}

} // namespace Ferry
