// PostgresStore: datasets, migration checkpoints, undo, and the row errors of migration jobs.
// Port of sqlitedatasets.cpp (same statements, statuses, error codes and messages); the import's
// batch write is in postgresimport.cpp, record reads in postgresrecords.cpp.
#include "postgresstore.h"

#include "store/recordrange.h"
#include "store/sharedrows.h"
#include "store/sqlhelpers.h"

#include <QJsonDocument>
#include <QSqlQuery>

namespace Ferry {

namespace {

using SharedRows::datasetFrom;

// The record count is an index range count over the dataset's id range (no per-dataset index).
const QString &s_datasetColumns = SharedRows::datasetColumns;

} // namespace

Result<qint64> PostgresStore::ensureDataset(qint64 userId, const QString &name, qint64 now)
{
    if (auto valid = validateDatasetName(name); !valid)
        return valid.error();
    auto db = this->db();
    if (!db)
        return db.error();
    // The unique (user_id, name) index decides between concurrent creators on any node: the
    // loser's insert waits for the winner's commit, then does nothing and reads the winner's id.
    // That read takes FOR KEY SHARE: while a delete of the dataset (or of its records) holds the
    // row FOR UPDATE it waits, then finds the row gone (and creates the dataset anew) or emptied;
    // so a migration never starts writing into a dataset a delete is removing
    // (postgresdatasetadmin.cpp).
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
        q.prepare(
            QStringLiteral("SELECT id FROM datasets WHERE user_id = ? AND name = ? FOR KEY SHARE"));
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

Result<std::optional<MigrationCheckpoint>> PostgresStore::checkpoint(qint64 jobId)
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

namespace {

// leaseToken: the running attempt's (undoJob); nullopt: the job must have ended
// (undoEndedMigrations). nullopt result: the fence did not hold, nothing was changed.
Result<std::optional<qint64>>
undoJobOnce(QSqlDatabase &db, qint64 jobId, qint64 datasetId, std::optional<qint64> leaseToken)
{
    SqlTransaction transaction(db);
    if (auto begun = transaction.begin(); !begun)
        return begun.error();
    QSqlQuery q(db);
    // The fence holds the job row as commitBatch does, then the dataset, in commitBatch's order:
    // no batch of this job commits after the check, and a rescue or a retry of the job (FOR
    // UPDATE) waits, while the attempt's lease renewal does not.
    q.prepare(QStringLiteral("SELECT status, lease_token FROM jobs WHERE id = ? "
                             "FOR KEY SHARE"));
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
            if (auto committed = transaction.commit(); !committed)
                return committed.error();
        }
        return std::optional<qint64>();
    }
    q.prepare(QStringLiteral("SELECT 1 FROM datasets WHERE id = ? FOR NO KEY UPDATE"));
    q.addBindValue(datasetId);
    if (!q.exec())
        return sqlError(q, QStringLiteral("undoing job %1").arg(jobId));
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
    if (auto committed = transaction.commit(); !committed)
        return committed.error();
    return std::optional<qint64>(undone);
}

} // namespace

Result<qint64> PostgresStore::undoJob(qint64 jobId, qint64 datasetId, qint64 leaseToken)
{
    auto db = this->db();
    if (!db)
        return db.error();
    auto undone = undoJobOnce(*db, jobId, datasetId, leaseToken);
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

Result<int> PostgresStore::undoEndedMigrations()
{
    auto db = this->db();
    if (!db)
        return db.error();
    int undoneJobs = 0;
    qint64 after = 0;
    while (true) {
        QList<std::pair<qint64, qint64>> queued; // job, dataset
        {
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
            auto undone = undoJobOnce(*db, jobId, datasetId, std::nullopt);
            if (!undone)
                return undone.error();
            if (*undone)
                ++undoneJobs;
            after = jobId;
        }
    }
}

Result<void> PostgresStore::forgetUndo(qint64 jobId, qint64 datasetId)
{
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

Result<void> PostgresStore::setColumns(qint64 datasetId,
                                       const QJsonArray &columns,
                                       const QJsonObject &types,
                                       qint64 now)
{
    auto db = this->db();
    if (!db)
        return db.error();
    SqlTransaction transaction(*db);
    if (auto begun = transaction.begin(); !begun)
        return begun.error();
    // FOR NO KEY UPDATE: two imports finishing at once on two nodes add their columns in turn.
    if (auto added = SharedRows::addColumns(*db, datasetId, columns, types, now,
                                            QStringLiteral(" FOR NO KEY UPDATE"));
        !added)
        return added.error();
    return transaction.commit();
}

Result<QString> PostgresStore::datasetKey(qint64 datasetId)
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

Result<void> PostgresStore::useKey(qint64 datasetId, const QString &field)
{
    auto db = this->db();
    if (!db)
        return db.error();
    SqlTransaction transaction(*db);
    if (auto begun = transaction.begin(); !begun)
        return begun.error();
    // The dataset's row, locked as commitBatch locks it: no batch of any import writes while
    // the records are keyed.
    QSqlQuery q(*db);
    q.prepare(QStringLiteral("SELECT key_field FROM datasets WHERE id = ? FOR NO KEY UPDATE"));
    q.addBindValue(datasetId);
    if (!q.exec())
        return sqlError(q, QStringLiteral("reading the key of a dataset"));
    const QString current = q.next() ? q.value(0).toString() : QString();
    q.finish();
    if (current == field)
        return {};
    if (!current.isEmpty())
        return SharedRows::keyedByAnother(current, field);

    // The field's value, as imports compare keys: ->> gives a string's text and anything else's
    // JSON text. The field name is a bound value (p.f), never SQL text.
    const QString records =
        QStringLiteral("FROM records r, (SELECT ?::text AS f) p WHERE r.id BETWEEN ? AND ? ");
    const QString value = QStringLiteral("(r.doc::jsonb ->> p.f)");
    auto bind = [&](QSqlQuery &query) {
        query.addBindValue(field);
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
        return SharedRows::recordWithoutKey(field, missing);
    q.finish();
    q.prepare(QStringLiteral("SELECT coalesce(r.key, ") + value + QStringLiteral(") AS k ") +
              records + QStringLiteral("GROUP BY k HAVING count(*) > 1 LIMIT 1"));
    bind(q);
    if (!q.exec())
        return sqlError(q, QStringLiteral("keying a dataset"));
    if (q.next())
        return SharedRows::recordsShareKey(field, q.value(0).toString());
    q.finish();
    q.prepare(QStringLiteral("UPDATE records r SET key = ") + value +
              QStringLiteral(" FROM (SELECT ?::text AS f) p WHERE r.id BETWEEN ? AND ? "
                             "AND r.key IS NULL"));
    bind(q);
    if (!q.exec())
        return sqlError(q, QStringLiteral("keying a dataset"));
    q.prepare(QStringLiteral("UPDATE datasets SET key_field = ? WHERE id = ?"));
    q.addBindValue(field);
    q.addBindValue(datasetId);
    if (!q.exec())
        return sqlError(q, QStringLiteral("keying a dataset"));
    return transaction.commit();
}

Result<QList<DatasetInfo>> PostgresStore::datasets(qint64 userId)
{
    auto db = this->db();
    if (!db)
        return db.error();
    QSqlQuery q(*db);
    // COLLATE "C": the byte order SQLite's BINARY collation gives.
    q.prepare(QStringLiteral("SELECT ") + s_datasetColumns +
              QStringLiteral(" FROM datasets d WHERE d.user_id = ? ORDER BY d.name COLLATE \"C\""));
    q.addBindValue(userId);
    if (!q.exec())
        return sqlError(q, QStringLiteral("listing datasets"));
    QList<DatasetInfo> result;
    while (q.next())
        result.append(datasetFrom(q));
    return result;
}

Result<std::optional<DatasetInfo>> PostgresStore::dataset(qint64 userId, const QString &name)
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

Result<QList<RowError>> PostgresStore::rowErrors(qint64 jobId, int limit)
{
    auto db = this->db();
    if (!db)
        return db.error();
    QSqlQuery q(*db);
    q.prepare(QStringLiteral("SELECT line, field, reason FROM job_row_errors WHERE job_id = ? "
                             "ORDER BY seq LIMIT ?"));
    q.addBindValue(jobId);
    // A negative limit means all of them, as SQLite's LIMIT -1 does (PostgreSQL: LIMIT NULL).
    q.addBindValue(limit < 0 ? QVariant(QMetaType(QMetaType::LongLong)) : QVariant(limit));
    if (!q.exec())
        return sqlError(q, QStringLiteral("reading the row errors of job %1").arg(jobId));
    QList<RowError> result;
    while (q.next())
        result.append({q.value(0).toLongLong(), q.value(1).toString(), q.value(2).toString()});
    return result;
}

} // namespace Ferry
