#pragma once
// The real differences between SQLite's and PostgreSQL's SQL, where a statement is otherwise the
// same on both. SqlStore writes its statements once and asks the dialect for these fragments; a
// difference that is more than a fragment (how a write takes its turn, what follows a cancel) is
// a virtual hook of SqlStore instead. Each fragment is a constant: nothing user-supplied goes in.

#include <QList>
#include <QString>
#include <QStringList>
#include <QVariant>

namespace Ferry {

class SqlDialect final
{
public:
    enum class Engine { Sqlite, Postgres };

    explicit constexpr SqlDialect(Engine engine) : m_engine(engine) {}

    Engine engine() const { return m_engine; }
    bool isPostgres() const { return m_engine == Engine::Postgres; }
    // The migrations' directory (resources/migrations/<name>) and the backend's name.
    QString migrations() const
    {
        return isPostgres() ? QStringLiteral("postgres") : QStringLiteral("sqlite");
    }

    // `column` is one of an id list bound as idList(ids) at this placeholder: SQLite reads a JSON
    // array with json_each, PostgreSQL an array parameter.
    QString inIdList(const QString &column) const
    {
        return isPostgres() ? column + QStringLiteral(" = ANY(?::bigint[])")
                            : column + QStringLiteral(" IN (SELECT value FROM json_each(?))");
    }
    QVariant idList(const QList<qint64> &ids) const
    {
        QStringList parts;
        parts.reserve(ids.size());
        for (const qint64 id : ids)
            parts.append(QString::number(id));
        const QString joined = parts.join(u',');
        return QVariant(isPostgres() ? QStringLiteral("{") + joined + QStringLiteral("}")
                                     : QStringLiteral("[") + joined + QStringLiteral("]"));
    }

    // Appended to a SELECT whose rows the statement goes on to change or delete: on PostgreSQL
    // two nodes doing it at once take different rows instead of waiting on each other. SQLite
    // has one writer at a time: nothing to add.
    QString skipLocked() const
    {
        return isPostgres() ? QStringLiteral(" FOR UPDATE SKIP LOCKED") : QString();
    }
    // Appended to a SELECT of a row the transaction will update (without changing its key).
    QString rowLock() const
    {
        return isPostgres() ? QStringLiteral(" FOR NO KEY UPDATE") : QString();
    }
    // Appended to an ORDER BY of text: byte order, as SQLite's BINARY collation sorts.
    QString byteOrder() const
    {
        return isPostgres() ? QStringLiteral(" COLLATE \"C\"") : QString();
    }
    // Case-insensitive pattern match (ASCII on SQLite, whose LIKE folds only ASCII).
    QString like() const { return isPostgres() ? QStringLiteral("ILIKE") : QStringLiteral("LIKE"); }
    // `write` (an INSERT, UPDATE or DELETE without RETURNING) made to tell every node on the
    // database, when it commits, on `channel`, with each changed row's `column` as the payload:
    // PostgreSQL's NOTIFY, in the same statement. On SQLite, nothing to tell: `write` as it is.
    QString notifying(const QString &write, const QString &channel, const QString &column) const
    {
        if (!isPostgres())
            return write;
        return QStringLiteral("WITH changed AS (") + write + QStringLiteral(" RETURNING ") +
               column + QStringLiteral(") SELECT pg_notify('") + channel + QStringLiteral("', ") +
               column + QStringLiteral("::text) FROM changed");
    }
    // Appended to a SELECT of a row the transaction will delete, or whose row stands for a
    // resource that writers take turns on (a user's quota): other nodes' writers wait until it
    // commits. SQLite has one writer at a time: nothing to add, and nothing to lock.
    QString forUpdate() const { return isPostgres() ? QStringLiteral(" FOR UPDATE") : QString(); }

    // A JSON object's `field` in text `column`, as text (NULL where there is none). SQLite reads
    // it only where the text is valid JSON: this is the jobs_dataset index's expression, exactly
    // (0008_console.sql). PostgreSQL casts: the store writes payloads as JSON objects (or NULL),
    // so the cast cannot fail on them.
    QString jsonField(const QString &column, const QString &field) const
    {
        if (isPostgres())
            return column + QStringLiteral("::jsonb ->> '") + field + u'\'';
        return QStringLiteral("CASE WHEN json_valid(%1) THEN json_extract(%1, '$.%2') END")
            .arg(column, field);
    }
    // The larger and the smaller of several values, as a function name: SQLite's max() and min()
    // take several arguments, PostgreSQL's are aggregates only (it has greatest and least).
    QString greatest() const
    {
        return isPostgres() ? QStringLiteral("greatest") : QStringLiteral("max");
    }
    QString least() const { return isPostgres() ? QStringLiteral("least") : QStringLiteral("min"); }

    // ---- Datasets (sqldatasets.cpp) ----
    // Appended to a SELECT of a row that must stay (not be deleted or re-keyed) until the
    // transaction commits, while updates of its other columns go through: PostgreSQL's
    // FOR KEY SHARE. SQLite has one writer at a time: nothing to add.
    QString keyShare() const { return isPostgres() ? QStringLiteral(" FOR KEY SHARE") : QString(); }
    // Appended to a SELECT of a row the transaction will delete: every other lock waits.
    QString deleteLock() const { return isPostgres() ? QStringLiteral(" FOR UPDATE") : QString(); }
    // Text field `name` (a constant) of the JSON object in `column`, as SQL text. SQLite gives
    // NULL where the column is not JSON; PostgreSQL's payloads always are.
    QString jsonText(const QString &column, const QString &name) const
    {
        if (isPostgres())
            return column + QStringLiteral("::jsonb ->> '") + name + u'\'';
        return QStringLiteral("CASE WHEN json_valid(") + column +
               QStringLiteral(") THEN json_extract(") + column + QStringLiteral(", '$.") + name +
               QStringLiteral("') END");
    }
    // The value of a field of the JSON document in `doc` as imports compare keys: a string by
    // its text, anything else by its JSON text, NULL for null. The field is named by `path`, a
    // column bound to keyPath(field): a value, never SQL text.
    QString keyValue(const QString &doc, const QString &path) const
    {
        if (isPostgres())
            return QStringLiteral("(") + doc + QStringLiteral("::jsonb ->> ") + path + u')';
        return QStringLiteral("(CASE json_type(") + doc + QStringLiteral(", ") + path +
               QStringLiteral(") WHEN 'text' THEN ") + doc + QStringLiteral(" ->> ") + path +
               QStringLiteral(" WHEN 'null' THEN NULL ELSE ") + doc + QStringLiteral(" -> ") +
               path + QStringLiteral(" END)");
    }
    // PostgreSQL takes the field's name. SQLite a JSON path that quotes it; its paths cannot
    // escape a double quote, so such a name matches nothing.
    QString keyPath(const QString &field) const
    {
        return isPostgres() ? field : QStringLiteral("$.\"%1\"").arg(field);
    }
    // Bytes of a text column's UTF-8 (SQLite 3.40 has no octet_length: length() of text counts
    // characters; of the same bytes as a blob, bytes).
    QString octetLength(const QString &column) const
    {
        if (isPostgres())
            return QStringLiteral("octet_length(") + column + u')';
        return QStringLiteral("length(CAST(") + column + QStringLiteral(" AS BLOB))");
    }
    // The value bound to a LIMIT: a negative count means every row, which SQLite spells LIMIT -1
    // and PostgreSQL LIMIT NULL.
    QVariant limit(int count) const
    {
        return count < 0 && isPostgres() ? QVariant(QMetaType(QMetaType::LongLong))
                                         : QVariant(count);
    }
    // ---- end of datasets ----

private:
    Engine m_engine;
};

} // namespace Ferry
