// SqliteStore: datasets, their records, and migration checkpoints.
#include "sqlitestore.h"

#include "store/recordrange.h"
#include "store/sharedrows.h"
#include "store/sqlhelpers.h"
#include "store/sqlitenative.h"

#include <QFileInfo>
#include <QSqlQuery>

#include <sqlite3.h>

namespace Ferry {

namespace {

NativeStatement &bindUtf8(NativeStatement &statement, int index, std::string_view text)
{
    return statement.bindUtf8(index, text);
}

using SharedRows::datasetFrom;

const QString &s_datasetColumns = SharedRows::datasetColumns;

} // namespace

Result<qint64> SqliteStore::ensureDataset(qint64 userId, const QString &name, qint64 now)
{
    if (auto valid = validateDatasetName(name); !valid)
        return valid.error();
    const std::lock_guard writer(m_writeMutex);
    auto db = this->db();
    if (!db)
        return db.error();
    QSqlQuery q(*db);
    q.prepare(QStringLiteral("INSERT INTO datasets (user_id, name, created_at, updated_at) "
                             "VALUES (?, ?, ?, ?) ON CONFLICT (user_id, name) DO NOTHING"));
    q.addBindValue(userId);
    q.addBindValue(name);
    q.addBindValue(now);
    q.addBindValue(now);
    if (!q.exec())
        return sqlError(q, QStringLiteral("creating dataset %1").arg(name));
    q.prepare(QStringLiteral("SELECT id FROM datasets WHERE user_id = ? AND name = ?"));
    q.addBindValue(userId);
    q.addBindValue(name);
    if (!q.exec() || !q.next())
        return sqlError(q, QStringLiteral("reading dataset %1").arg(name));
    return q.value(0).toLongLong();
}

Result<std::optional<MigrationCheckpoint>> SqliteStore::checkpoint(qint64 jobId)
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

Result<void> SqliteStore::commitBatch(const ImportBatch &batch)
{
    // The WAL's frames are copied into the database file by the checkpointer, which grows the
    // file by up to the WAL's size: that room is spoken for already.
    if (!m_disk.aboveFloor(QFileInfo(m_walPath).size())) {
        // Stop while room remains: the undo, the job's outcome and everyone else's writes need
        // it. A transient error: the job retries (from this checkpoint) once room is back.
        return makeError(
            ErrorCode::Storage,
            QStringLiteral("Only %1 MiB are free on the database's disk, below the floor of %2 "
                           "MiB (--min-free-disk-mb): the import stopped before the disk fills.")
                .arg(m_disk.freeBytes() >> 20)
                .arg(m_disk.floorBytes() >> 20),
            QStringLiteral("Free disk space (or move --data-dir to a larger disk), then retry "
                           "the job."));
    }
    const std::lock_guard writer(m_writeMutex);
    auto native = NativeConnection::of(m_pool);
    if (!native)
        return native.error();
    NativeConnection &db = **native;
    auto fence = db.prepare(QStringLiteral(
        "SELECT 1 FROM jobs WHERE id = ?1 AND status = 'running' AND lease_token = ?2"));
    auto insert = db.prepare(QStringLiteral(
        "INSERT INTO records (id, dataset_id, doc, job_id) VALUES (?4, ?1, ?2, ?3)"));
    auto lastId = db.prepare(
        QStringLiteral("SELECT coalesce(max(id), ?1) FROM records WHERE id BETWEEN ?1 AND ?2"));
    // An overwrite keeps what it replaced (once per job) so a failed job can be undone.
    auto upsert = db.prepare(QStringLiteral(
        "INSERT INTO records (id, dataset_id, key, doc, job_id) VALUES (?5, ?1, ?2, ?3, ?4) "
        "ON CONFLICT (dataset_id, key) WHERE key IS NOT NULL DO UPDATE SET "
        "prev_doc = CASE WHEN records.job_id IS excluded.job_id THEN records.prev_doc "
        "ELSE records.doc END, "
        "prev_job = CASE WHEN records.job_id IS excluded.job_id THEN records.prev_job "
        "ELSE records.job_id END, "
        "doc = excluded.doc, job_id = excluded.job_id"));
    auto checkpoint = db.prepare(QStringLiteral(
        "INSERT INTO migration_checkpoints (job_id, dataset_id, byte_offset, line, rows_read, "
        "rows_imported, rows_rejected, state) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
        "ON CONFLICT (job_id) DO UPDATE SET dataset_id = excluded.dataset_id, "
        "byte_offset = excluded.byte_offset, line = excluded.line, rows_read = excluded.rows_read, "
        "rows_imported = excluded.rows_imported, rows_rejected = excluded.rows_rejected, "
        "state = excluded.state"));
    auto error = db.prepare(QStringLiteral("INSERT OR REPLACE INTO job_row_errors (job_id, seq, "
                                           "line, field, reason) VALUES (?1, ?2, ?3, ?4, ?5)"));
    for (const auto *statement : {&fence, &insert, &lastId, &upsert, &checkpoint, &error}) {
        if (!*statement)
            return statement->error();
    }

    NativeTransaction transaction(db);
    if (auto begun = transaction.begin(); !begun)
        return begun;
    {
        NativeStatement q(*fence);
        q.bind(1, batch.jobId).bind(2, batch.leaseToken);
        if (!q.step()) {
            if (q.failed())
                return q.error(QStringLiteral("checking the lease of job %1").arg(batch.jobId));
            return makeError(ErrorCode::Conflict,
                             QStringLiteral("Job %1 no longer holds its lease; its batch was not "
                                            "written.")
                                 .arg(batch.jobId),
                             QStringLiteral("The job was rescued and runs elsewhere."));
        }
    }
    const qint64 datasetId = batch.checkpoint.datasetId;
    qint64 nextId = 0;
    {
        NativeStatement q(*lastId);
        q.bind(1, firstRecordId(datasetId)).bind(2, lastRecordId(datasetId));
        if (!q.step())
            return q.error(QStringLiteral("numbering records"));
        nextId = q.int64(0) + 1;
    }
    if (nextId + qint64(batch.records.size()) > lastRecordId(datasetId)) {
        return makeError(ErrorCode::Unavailable,
                         QStringLiteral("The dataset is full (2^40 records)."),
                         QStringLiteral("Import into a new dataset."));
    }
    for (const RecordWrite &record : batch.records) {
        if (record.key.empty()) {
            NativeStatement q(*insert);
            q.bind(1, datasetId).bind(3, batch.jobId).bind(4, nextId++);
            bindUtf8(q, 2, record.doc).step();
            if (q.failed())
                return q.error(QStringLiteral("importing a record"));
        } else {
            NativeStatement q(*upsert);
            q.bind(1, datasetId).bind(4, batch.jobId).bind(5, nextId++);
            bindUtf8(q, 2, record.key);
            bindUtf8(q, 3, record.doc).step();
            if (q.failed())
                return q.error(QStringLiteral("importing a record"));
        }
    }
    {
        const MigrationCheckpoint &c = batch.checkpoint;
        NativeStatement q(*checkpoint);
        q.bind(1, batch.jobId)
            .bind(2, datasetId)
            .bind(3, c.byteOffset)
            .bind(4, c.line)
            .bind(5, c.rowsRead)
            .bind(6, c.rowsImported)
            .bind(7, c.rowsRejected);
        bindUtf8(q, 8, std::string_view(c.state.constData(), size_t(c.state.size()))).step();
        if (q.failed())
            return q.error(QStringLiteral("writing the checkpoint of job %1").arg(batch.jobId));
    }
    qint64 seq = batch.firstErrorSeq;
    for (const RowError &rowError : batch.errors) {
        NativeStatement q(*error);
        q.bind(1, batch.jobId)
            .bind(2, seq++)
            .bind(3, rowError.line)
            .bind(4, rowError.field)
            .bind(5, rowError.reason)
            .step();
        if (q.failed())
            return q.error(QStringLiteral("recording a rejected row"));
    }
    return transaction.commit();
}

Result<qint64> SqliteStore::undoJob(qint64 jobId, qint64 datasetId, qint64 leaseToken)
{
    auto undone = undoJobWithReserve(jobId, datasetId, leaseToken);
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

Result<std::optional<qint64>>
SqliteStore::undoJobWithReserve(qint64 jobId, qint64 datasetId, std::optional<qint64> leaseToken)
{
    auto undone = undoJobOnce(jobId, datasetId, leaseToken);
    // Deleting needs room in the WAL too. On a full disk the WAL cannot restart from its
    // beginning (its checkpoint cannot grow the database file), so every new frame needs new
    // space. Give the reserve back, let a checkpoint use it to finish and restart the WAL, whose
    // file keeps its size: the undo then overwrites frames already on disk.
    if (!undone && m_disk.release()) {
        restartWal();
        undone = undoJobOnce(jobId, datasetId, leaseToken);
    }
    return undone;
}

Result<int> SqliteStore::undoEndedMigrations()
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
        for (const auto &[jobId, datasetId] : std::as_const(queued)) {
            auto undone = undoJobWithReserve(jobId, datasetId, std::nullopt);
            if (!undone)
                return undone.error();
            if (*undone)
                ++undoneJobs;
            after = jobId;
        }
    }
}

Result<std::optional<qint64>>
SqliteStore::undoJobOnce(qint64 jobId, qint64 datasetId, std::optional<qint64> leaseToken)
{
    const std::lock_guard writer(m_writeMutex);
    auto db = this->db();
    if (!db)
        return db.error();
    SqlTransaction transaction(*db);
    if (auto begun = transaction.begin(); !begun)
        return begun.error();
    QSqlQuery q(*db);
    // The fence, under the write lock: nothing can change the job before this commits.
    q.prepare(QStringLiteral("SELECT status, lease_token FROM jobs WHERE id = ?"));
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

Result<void> SqliteStore::forgetUndo(qint64 jobId, qint64 datasetId)
{
    const std::lock_guard writer(m_writeMutex);
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

Result<QList<DatasetInfo>> SqliteStore::datasets(qint64 userId)
{
    auto db = this->db();
    if (!db)
        return db.error();
    QSqlQuery q(*db);
    q.prepare(QStringLiteral("SELECT ") + s_datasetColumns +
              QStringLiteral(" FROM datasets d WHERE d.user_id = ? ORDER BY d.name"));
    q.addBindValue(userId);
    if (!q.exec())
        return sqlError(q, QStringLiteral("listing datasets"));
    QList<DatasetInfo> result;
    while (q.next())
        result.append(datasetFrom(q));
    return result;
}

Result<std::optional<DatasetInfo>> SqliteStore::dataset(qint64 userId, const QString &name)
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

Result<void> SqliteStore::forEachRecord(qint64 datasetId,
                                        const std::function<bool(std::string_view doc)> &sink)
{
    // Pages by id, so no read transaction stays open while the sink writes to a slow client.
    auto native = NativeConnection::of(m_pool);
    if (!native)
        return native.error();
    auto page = (*native)->prepare(QStringLiteral(
        "SELECT id, doc FROM records WHERE id > ?1 AND id <= ?2 ORDER BY id LIMIT 1000"));
    if (!page)
        return page.error();
    qint64 after = firstRecordId(datasetId);
    std::vector<std::string> docs;
    while (true) {
        docs.clear();
        {
            NativeStatement q(*page);
            q.bind(1, after).bind(2, lastRecordId(datasetId));
            while (q.step()) {
                after = q.int64(0);
                docs.emplace_back(q.utf8(1));
            }
            if (q.failed())
                return q.error(QStringLiteral("exporting a dataset"));
        }
        if (docs.empty())
            return {};
        for (const std::string &doc : docs) {
            if (!sink(doc))
                return {};
        }
    }
}

Result<QList<RowError>> SqliteStore::rowErrors(qint64 jobId, int limit)
{
    auto db = this->db();
    if (!db)
        return db.error();
    QSqlQuery q(*db);
    q.prepare(QStringLiteral("SELECT line, field, reason FROM job_row_errors WHERE job_id = ? "
                             "ORDER BY seq LIMIT ?"));
    q.addBindValue(jobId);
    q.addBindValue(limit);
    if (!q.exec())
        return sqlError(q, QStringLiteral("reading the row errors of job %1").arg(jobId));
    QList<RowError> result;
    while (q.next())
        result.append({q.value(0).toLongLong(), q.value(1).toString(), q.value(2).toString()});
    return result;
}

} // namespace Ferry
