// SqlStore: datasets, their schema and key, migration checkpoints, undo, and the row errors of
// migration jobs (resources/migrations/*). Each dialect's batch write is in sqliteimport.cpp /
// postgresimport.cpp, its record reads in sqliterecords.cpp / postgresrecords.cpp.
#include "sqlstore.h"

#include "store/recordrange.h"
#include "store/sharedrows.h"
#include "store/sqlhelpers.h"

#include <QJsonDocument>
#include <QSet>
#include <QSqlQuery>

namespace Ferry {

namespace {

// datasets d, with the record count: an index range count over the dataset's id range (no
// per-dataset index). Read by datasetFrom, in this order.
const QString s_datasetColumns = QStringLiteral(
    "d.id, d.name, d.columns, d.created_at, d.updated_at, "
    "(SELECT count(*) FROM records r WHERE r.id BETWEEN d.id << 40 AND ((d.id + 1) << 40) - 1), "
    "d.key_field, d.column_types");

DatasetInfo datasetFrom(const QSqlQuery &q)
{
    DatasetInfo info;
    info.id = q.value(0).toLongLong();
    info.name = q.value(1).toString();
    info.columns = QJsonDocument::fromJson(q.value(2).toString().toUtf8()).array();
    info.createdAt = q.value(3).toLongLong();
    info.updatedAt = q.value(4).toLongLong();
    info.records = q.value(5).toLongLong();
    info.key = q.value(6).toString();
    info.columnTypes = QJsonDocument::fromJson(q.value(7).toString().toUtf8()).object();
    return info;
}

// A dataset's columns after an import: those it had, then the import's new ones, in order.
QJsonArray mergedColumns(const QJsonArray &have, const QJsonArray &add)
{
    QJsonArray merged = have;
    QSet<QString> seen;
    for (const QJsonValue &column : have)
        seen.insert(column.toString());
    for (const QJsonValue &column : add) {
        if (!seen.contains(column.toString())) {
            seen.insert(column.toString());
            merged.append(column);
        }
    }
    return merged;
}

// A dataset's column types after an import: each column's types, then the import's type where
// it is new for that column (`add`: column name → type name).
QJsonObject mergedTypes(const QJsonObject &have, const QJsonObject &add)
{
    QJsonObject merged = have;
    for (auto it = add.begin(); it != add.end(); ++it) {
        QJsonArray types = merged.value(it.key()).toArray();
        if (!types.contains(it.value())) {
            types.append(it.value());
            merged.insert(it.key(), types);
        }
    }
    return merged;
}

// useKey's refusals (keyedByAnother is shared with the upload reruns: sharedrows.h).
Error recordWithoutKey(const QString &field, qint64 count)
{
    return makeError(ErrorCode::Conflict,
                     QStringLiteral("The dataset cannot be keyed by \"%1\": %2 of its records "
                                    "have no value for it.")
                         .arg(field)
                         .arg(count),
                     QStringLiteral("Import into another dataset, or delete this one first."));
}

Error recordsShareKey(const QString &field, const QString &value)
{
    return makeError(ErrorCode::Conflict,
                     QStringLiteral("The dataset cannot be keyed by \"%1\": several of its "
                                    "records have the value %2.")
                         .arg(field, value),
                     QStringLiteral("A key must be unique. Import into another dataset, or "
                                    "delete this one first."));
}

} // namespace

Error SqlStore::batchLeaseLost(qint64 jobId)
{
    return makeError(
        ErrorCode::Conflict,
        QStringLiteral("Job %1 no longer holds its lease; its batch was not written.").arg(jobId),
        QStringLiteral("The job was rescued and runs elsewhere."));
}

Error SqlStore::datasetFull()
{
    return makeError(ErrorCode::Unavailable, QStringLiteral("The dataset is full (2^40 records)."),
                     QStringLiteral("Import into a new dataset."));
}

Result<qint64> SqlStore::ensureDataset(qint64 userId, const QString &name, qint64 now)
{
    if (auto valid = validateDatasetName(name); !valid)
        return valid.error();
    const auto turn = writeTurn();
    auto db = this->db();
    if (!db)
        return db.error();
    // The unique (user_id, name) index decides between concurrent creators on any node: the
    // loser's insert waits for the winner's commit, then does nothing and reads the winner's id.
    // On PostgreSQL that read takes FOR KEY SHARE: while a delete of the dataset (or of its
    // records) holds the row FOR UPDATE it waits, then finds the row gone (and creates the
    // dataset anew) or emptied; so a migration never starts writing into a dataset a delete is
    // removing (sqldatasetadmin.cpp). SQLite's writers take turns: the read finds the row.
    QSqlQuery q(*db);
    for (int attempt = 0; attempt < 3; ++attempt) {
        q.prepare(QStringLiteral("INSERT INTO datasets (user_id, name, created_at, updated_at) "
                                 "VALUES (?, ?, ?, ?) ON CONFLICT (user_id, name) DO NOTHING "
                                 "RETURNING id"));
        q.addBindValue(userId);
        q.addBindValue(name);
        q.addBindValue(now);
        q.addBindValue(now);
        if (!q.exec())
            return sqlError(q, QStringLiteral("creating dataset %1").arg(name));
        if (q.next())
            return q.value(0).toLongLong();
        q.prepare(QStringLiteral("SELECT id FROM datasets WHERE user_id = ? AND name = ?") +
                  m_sql.keyShare());
        q.addBindValue(userId);
        q.addBindValue(name);
        if (!q.exec())
            return sqlError(q, QStringLiteral("reading dataset %1").arg(name));
        if (q.next())
            return q.value(0).toLongLong();
        // Deleted between the two statements: create it again.
    }
    return makeError(ErrorCode::Storage,
                     QStringLiteral("Dataset %1 was deleted again and again while a migration "
                                    "started to write into it.")
                         .arg(name),
                     QStringLiteral("The job retries."));
}

Result<std::optional<MigrationCheckpoint>> SqlStore::checkpoint(qint64 jobId)
{
    auto q = prepared(QStringLiteral(
        "SELECT dataset_id, byte_offset, line, rows_read, rows_imported, rows_rejected, state "
        "FROM migration_checkpoints WHERE job_id = ?"));
    if (!q)
        return q.error();
    QSqlQuery &query = **q;
    query.bindValue(0, jobId);
    if (!query.exec())
        return sqlError(query, QStringLiteral("reading the checkpoint of job %1").arg(jobId));
    std::optional<MigrationCheckpoint> result;
    if (query.next()) {
        result = MigrationCheckpoint{query.value(0).toLongLong(),       query.value(1).toLongLong(),
                                     query.value(2).toLongLong(),       query.value(3).toLongLong(),
                                     query.value(4).toLongLong(),       query.value(5).toLongLong(),
                                     query.value(6).toString().toUtf8()};
    }
    query.finish();
    return result;
}

Result<qint64> SqlStore::undoJob(qint64 jobId, qint64 datasetId, qint64 leaseToken)
{
    auto undone = undoMigration(jobId, datasetId, leaseToken);
    if (!undone)
        return undone.error();
    if (!*undone) {
        return makeError(ErrorCode::Conflict,
                         QStringLiteral("Job %1 no longer holds its lease; its rows were left to "
                                        "the attempt that does.")
                             .arg(jobId),
                         QStringLiteral("The job was rescued and runs elsewhere."));
    }
    return **undone;
}

Result<int> SqlStore::undoEndedMigrations()
{
    int undoneJobs = 0;
    qint64 after = 0;
    while (true) {
        QList<std::pair<qint64, qint64>> queued; // job, dataset
        {
            auto db = this->db();
            if (!db)
                return db.error();
            QSqlQuery q(*db);
            // Checkpoints are kept only while a migration may resume (pending, running) or
            // until this sweep has seen its end: the table stays small.
            q.prepare(QStringLiteral("SELECT c.job_id, c.dataset_id FROM migration_checkpoints c "
                                     "JOIN jobs j ON j.id = c.job_id WHERE c.job_id > ? AND "
                                     "j.status IN ('completed', 'failed', 'cancelled', 'dead') "
                                     "ORDER BY c.job_id LIMIT 100"));
            q.addBindValue(after);
            if (!q.exec())
                return sqlError(q, QStringLiteral("reading the migrations to undo"));
            while (q.next())
                queued.append({q.value(0).toLongLong(), q.value(1).toLongLong()});
        }
        if (queued.isEmpty())
            return undoneJobs;
        // Every node sweeps: two undoing one job take turns on its row, the second finds nothing.
        for (const auto &[jobId, datasetId] : std::as_const(queued)) {
            auto undone = undoMigration(jobId, datasetId, std::nullopt);
            if (!undone)
                return undone.error();
            if (*undone)
                ++undoneJobs;
            after = jobId;
        }
    }
}

Result<std::optional<qint64>>
SqlStore::undoJobOnce(qint64 jobId, qint64 datasetId, std::optional<qint64> leaseToken)
{
    WriteTransaction write(*this);
    if (auto begun = write.begin(); !begun)
        return begun.error();
    QSqlQuery q(write.db());
    // The fence: nothing can change the job before this commits. SQLite holds the write turn;
    // PostgreSQL holds the job row as commitBatch does, then the dataset, in commitBatch's
    // order: no batch of this job commits after the check, and a rescue or a retry of the job
    // (FOR UPDATE) waits, while the attempt's lease renewal does not.
    q.prepare(QStringLiteral("SELECT status, lease_token FROM jobs WHERE id = ?") +
              m_sql.keyShare());
    q.addBindValue(jobId);
    if (!q.exec())
        return sqlError(q, QStringLiteral("undoing job %1").arg(jobId));
    const bool exists = q.next();
    const QString status = exists ? q.value(0).toString() : QString();
    const qint64 token = exists ? q.value(1).toLongLong() : 0;
    q.finish();
    const bool ended =
        !exists || status == u"failed" || status == u"cancelled" || status == u"dead";
    if (leaseToken ? !(status == u"running" && token == *leaseToken) : !ended) {
        // An ended migration that runs again (a retry) is its attempt's to finish or undo; one
        // that completed keeps its rows and needs its checkpoint no more.
        if (!leaseToken && status == u"completed") {
            q.prepare(QStringLiteral("DELETE FROM migration_checkpoints WHERE job_id = ?"));
            q.addBindValue(jobId);
            if (!q.exec())
                return sqlError(q, QStringLiteral("undoing job %1").arg(jobId));
            if (auto committed = write.commit(); !committed)
                return committed.error();
        }
        return std::optional<qint64>();
    }
    if (m_sql.isPostgres()) {
        q.prepare(QStringLiteral("SELECT 1 FROM datasets WHERE id = ?") + m_sql.rowLock());
        q.addBindValue(datasetId);
        if (!q.exec())
            return sqlError(q, QStringLiteral("undoing job %1").arg(jobId));
    }
    q.prepare(QStringLiteral("DELETE FROM records WHERE id BETWEEN ? AND ? AND job_id = ? "
                             "AND prev_doc IS NULL"));
    q.addBindValue(firstRecordId(datasetId));
    q.addBindValue(lastRecordId(datasetId));
    q.addBindValue(jobId);
    if (!q.exec())
        return sqlError(q, QStringLiteral("undoing job %1").arg(jobId));
    qint64 undone = q.numRowsAffected();
    q.prepare(QStringLiteral("UPDATE records SET doc = prev_doc, job_id = prev_job, "
                             "prev_doc = NULL, prev_job = NULL "
                             "WHERE id BETWEEN ? AND ? AND job_id = ?"));
    q.addBindValue(firstRecordId(datasetId));
    q.addBindValue(lastRecordId(datasetId));
    q.addBindValue(jobId);
    if (!q.exec())
        return sqlError(q, QStringLiteral("undoing job %1").arg(jobId));
    undone += q.numRowsAffected();
    q.prepare(QStringLiteral("DELETE FROM migration_checkpoints WHERE job_id = ?"));
    q.addBindValue(jobId);
    if (!q.exec())
        return sqlError(q, QStringLiteral("undoing job %1").arg(jobId));
    if (auto committed = write.commit(); !committed)
        return committed.error();
    return std::optional<qint64>(undone);
}

Result<void> SqlStore::forgetUndo(qint64 jobId, qint64 datasetId)
{
    const auto turn = writeTurn();
    auto db = this->db();
    if (!db)
        return db.error();
    QSqlQuery q(*db);
    q.prepare(QStringLiteral("UPDATE records SET prev_doc = NULL, prev_job = NULL "
                             "WHERE id BETWEEN ? AND ? AND job_id = ? AND prev_doc IS NOT NULL"));
    q.addBindValue(firstRecordId(datasetId));
    q.addBindValue(lastRecordId(datasetId));
    q.addBindValue(jobId);
    if (!q.exec())
        return sqlError(q, QStringLiteral("finishing job %1").arg(jobId));
    return {};
}

Result<void> SqlStore::setColumns(qint64 datasetId,
                                  const QJsonArray &columns,
                                  const QJsonObject &types,
                                  qint64 now)
{
    WriteTransaction write(*this);
    if (auto begun = write.begin(); !begun)
        return begun.error();
    QSqlQuery q(write.db());
    // Locked on PostgreSQL: two imports finishing at once on two nodes add their columns in
    // turn (SQLite's writers take turns already).
    q.prepare(QStringLiteral("SELECT columns, column_types FROM datasets WHERE id = ?") +
              m_sql.rowLock());
    q.addBindValue(datasetId);
    if (!q.exec())
        return sqlError(q, QStringLiteral("reading the columns of a dataset"));
    QJsonArray haveColumns;
    QJsonObject haveTypes;
    if (q.next()) {
        haveColumns = QJsonDocument::fromJson(q.value(0).toString().toUtf8()).array();
        haveTypes = QJsonDocument::fromJson(q.value(1).toString().toUtf8()).object();
    }
    q.finish();
    const QJsonObject mergedTypeMap = mergedTypes(haveTypes, types);
    q.prepare(QStringLiteral(
        "UPDATE datasets SET columns = ?, column_types = ?, updated_at = ? WHERE id = ?"));
    q.addBindValue(QString::fromUtf8(
        QJsonDocument(mergedColumns(haveColumns, columns)).toJson(QJsonDocument::Compact)));
    q.addBindValue(mergedTypeMap.isEmpty()
                       ? QVariant(QMetaType::fromType<QString>())
                       : QVariant(QString::fromUtf8(
                             QJsonDocument(mergedTypeMap).toJson(QJsonDocument::Compact))));
    q.addBindValue(now);
    q.addBindValue(datasetId);
    if (!q.exec())
        return sqlError(q, QStringLiteral("saving the columns of a dataset"));
    return write.commit();
}

Result<QString> SqlStore::datasetKey(qint64 datasetId)
{
    auto db = this->db();
    if (!db)
        return db.error();
    QSqlQuery q(*db);
    q.prepare(QStringLiteral("SELECT key_field FROM datasets WHERE id = ?"));
    q.addBindValue(datasetId);
    if (!q.exec())
        return sqlError(q, QStringLiteral("reading the key of a dataset"));
    return q.next() ? q.value(0).toString() : QString();
}

Result<void> SqlStore::useKey(qint64 datasetId, const QString &field)
{
    WriteTransaction write(*this);
    if (auto begun = write.begin(); !begun)
        return begun.error();
    // The dataset's row, locked as commitBatch locks it (PostgreSQL; SQLite holds the write
    // turn): no batch of any import writes while the records are keyed.
    QSqlQuery q(write.db());
    q.prepare(QStringLiteral("SELECT key_field FROM datasets WHERE id = ?") + m_sql.rowLock());
    q.addBindValue(datasetId);
    if (!q.exec())
        return sqlError(q, QStringLiteral("reading the key of a dataset"));
    const QString current = q.next() ? q.value(0).toString() : QString();
    q.finish();
    if (current == field)
        return {};
    if (!current.isEmpty())
        return SharedRows::keyedByAnother(current, field);

    // The field's value in a record, as imports compare keys (SqlDialect::keyValue). The field
    // is named by a bound value (p.f), never by SQL text; a name SQLite's paths cannot quote
    // matches nothing and is refused below if the dataset holds records.
    const QString records = QStringLiteral(
        "FROM records r, (SELECT CAST(? AS TEXT) AS f) p WHERE r.id BETWEEN ? AND ? ");
    const QString value = m_sql.keyValue(QStringLiteral("r.doc"), QStringLiteral("p.f"));
    auto bind = [&](QSqlQuery &query) {
        query.addBindValue(m_sql.keyPath(field));
        query.addBindValue(firstRecordId(datasetId));
        query.addBindValue(lastRecordId(datasetId));
    };
    q.prepare(QStringLiteral("SELECT count(*) ") + records +
              QStringLiteral("AND r.key IS NULL AND coalesce(") + value +
              QStringLiteral(", '') = ''"));
    bind(q);
    if (!q.exec() || !q.next())
        return sqlError(q, QStringLiteral("keying a dataset"));
    if (const qint64 missing = q.value(0).toLongLong(); missing > 0)
        return recordWithoutKey(field, missing);
    q.finish();
    q.prepare(QStringLiteral("SELECT coalesce(r.key, ") + value + QStringLiteral(") AS k ") +
              records + QStringLiteral("GROUP BY k HAVING count(*) > 1 LIMIT 1"));
    bind(q);
    if (!q.exec())
        return sqlError(q, QStringLiteral("keying a dataset"));
    if (q.next())
        return recordsShareKey(field, q.value(0).toString());
    q.finish();
    q.prepare(QStringLiteral("UPDATE records AS r SET key = ") + value +
              QStringLiteral(" FROM (SELECT CAST(? AS TEXT) AS f) p WHERE r.id BETWEEN ? AND ? "
                             "AND r.key IS NULL"));
    bind(q);
    if (!q.exec())
        return sqlError(q, QStringLiteral("keying a dataset"));
    q.prepare(QStringLiteral("UPDATE datasets SET key_field = ? WHERE id = ?"));
    q.addBindValue(field);
    q.addBindValue(datasetId);
    if (!q.exec())
        return sqlError(q, QStringLiteral("keying a dataset"));
    return write.commit();
}

Result<QList<DatasetInfo>> SqlStore::datasets(qint64 userId)
{
    auto db = this->db();
    if (!db)
        return db.error();
    QSqlQuery q(*db);
    // In byte order on both backends.
    q.prepare(QStringLiteral("SELECT ") + s_datasetColumns +
              QStringLiteral(" FROM datasets d WHERE d.user_id = ? ORDER BY d.name") +
              m_sql.byteOrder());
    q.addBindValue(userId);
    if (!q.exec())
        return sqlError(q, QStringLiteral("listing datasets"));
    QList<DatasetInfo> result;
    while (q.next())
        result.append(datasetFrom(q));
    return result;
}

Result<std::optional<DatasetInfo>> SqlStore::dataset(qint64 userId, const QString &name)
{
    auto db = this->db();
    if (!db)
        return db.error();
    QSqlQuery q(*db);
    q.prepare(QStringLiteral("SELECT ") + s_datasetColumns +
              QStringLiteral(" FROM datasets d WHERE d.user_id = ? AND d.name = ?"));
    q.addBindValue(userId);
    q.addBindValue(name);
    if (!q.exec())
        return sqlError(q, QStringLiteral("reading dataset %1").arg(name));
    std::optional<DatasetInfo> result;
    if (q.next())
        result = datasetFrom(q);
    return result;
}

Result<QList<RowError>> SqlStore::rowErrors(qint64 jobId, int limit)
{
    auto db = this->db();
    if (!db)
        return db.error();
    QSqlQuery q(*db);
    q.prepare(QStringLiteral("SELECT line, field, reason FROM job_row_errors WHERE job_id = ? "
                             "ORDER BY seq LIMIT ?"));
    q.addBindValue(jobId);
    q.addBindValue(m_sql.limit(limit)); // a negative limit means all of them
    if (!q.exec())
        return sqlError(q, QStringLiteral("reading the row errors of job %1").arg(jobId));
    QList<RowError> result;
    while (q.next())
        result.append({q.value(0).toLongLong(), q.value(1).toString(), q.value(2).toString()});
    return result;
}

} // namespace Ferry
