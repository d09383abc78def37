// SqliteStore: a dataset's schema, its columns and its key field (DatasetStore::setColumns,
// datasetKey, useKey). PostgresStore's twins are in postgresdatasets.cpp.
#include "sqlitestore.h"

#include "store/recordrange.h"
#include "store/sharedrows.h"
#include "store/sqlhelpers.h"

#include <QJsonDocument>
#include <QSqlQuery>

namespace Ferry {

namespace {

Result<QString> readKeyField(QSqlDatabase &db, qint64 datasetId)
{
    QSqlQuery q(db);
    q.prepare(QStringLiteral("SELECT key_field FROM datasets WHERE id = ?"));
    q.addBindValue(datasetId);
    if (!q.exec())
        return sqlError(q, QStringLiteral("reading the key of a dataset"));
    return q.next() ? q.value(0).toString() : QString();
}

} // namespace

Result<void> SqliteStore::setColumns(qint64 datasetId,
                                     const QJsonArray &columns,
                                     const QJsonObject &types,
                                     qint64 now)
{
    const std::lock_guard writer(m_writeMutex);
    auto db = this->db();
    if (!db)
        return db.error();
    SqlTransaction transaction(*db);
    if (auto begun = transaction.begin(); !begun)
        return begun.error();
    if (auto added = SharedRows::addColumns(*db, datasetId, columns, types, now, {}); !added)
        return added.error();
    return transaction.commit();
}

Result<QString> SqliteStore::datasetKey(qint64 datasetId)
{
    auto db = this->db();
    if (!db)
        return db.error();
    return readKeyField(*db, datasetId);
}

Result<void> SqliteStore::useKey(qint64 datasetId, const QString &field)
{
    const std::lock_guard writer(m_writeMutex);
    auto db = this->db();
    if (!db)
        return db.error();
    SqlTransaction transaction(*db);
    if (auto begun = transaction.begin(); !begun)
        return begun.error();
    auto current = readKeyField(*db, datasetId);
    if (!current)
        return current.error();
    if (*current == field)
        return {};
    if (!current->isEmpty())
        return SharedRows::keyedByAnother(*current, field);
    QSqlQuery q(*db);

    // The field's value in a record, as imports compare keys: a string by its text, anything
    // else by its JSON text. The path quotes the name (a bound value, never SQL text); SQLite's
    // paths cannot escape a double quote, so such a name matches nothing and is refused below
    // if the dataset holds records.
    const QString path = QStringLiteral("$.\"%1\"").arg(field);
    const QString value =
        QStringLiteral("(CASE json_type(doc, :path) WHEN 'text' THEN doc ->> :path "
                       "WHEN 'null' THEN NULL ELSE doc -> :path END)");
    const QString range = QStringLiteral("id BETWEEN :first AND :last");
    auto bindRange = [&](QSqlQuery &query) {
        query.bindValue(QStringLiteral(":first"), firstRecordId(datasetId));
        query.bindValue(QStringLiteral(":last"), lastRecordId(datasetId));
    };
    q.prepare(QStringLiteral("SELECT count(*) FROM records WHERE ") + range +
              QStringLiteral(" AND key IS NULL AND coalesce(") + value +
              QStringLiteral(", '') = ''"));
    q.bindValue(QStringLiteral(":path"), path);
    bindRange(q);
    if (!q.exec() || !q.next())
        return sqlError(q, QStringLiteral("keying a dataset"));
    if (const qint64 missing = q.value(0).toLongLong(); missing > 0)
        return SharedRows::recordWithoutKey(field, missing);
    q.finish();
    q.prepare(QStringLiteral("SELECT k FROM (SELECT coalesce(key, ") + value +
              QStringLiteral(") AS k FROM records WHERE ") + range +
              QStringLiteral(") GROUP BY k HAVING count(*) > 1 LIMIT 1"));
    q.bindValue(QStringLiteral(":path"), path);
    bindRange(q);
    if (!q.exec())
        return sqlError(q, QStringLiteral("keying a dataset"));
    if (q.next())
        return SharedRows::recordsShareKey(field, q.value(0).toString());
    q.finish();
    q.prepare(QStringLiteral("UPDATE records SET key = ") + value + QStringLiteral(" WHERE ") +
              range + QStringLiteral(" AND key IS NULL"));
    q.bindValue(QStringLiteral(":path"), path);
    bindRange(q);
    if (!q.exec())
        return sqlError(q, QStringLiteral("keying a dataset"));
    q.prepare(QStringLiteral("UPDATE datasets SET key_field = ? WHERE id = ?"));
    q.addBindValue(field);
    q.addBindValue(datasetId);
    if (!q.exec())
        return sqlError(q, QStringLiteral("keying a dataset"));
    return transaction.commit();
}

} // namespace Ferry
