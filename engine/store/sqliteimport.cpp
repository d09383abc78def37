// SqliteStore::commitBatch: one migration batch (records, checkpoint, row errors) in one
// transaction, fenced by the job's lease token, through SQLite's C API (sqlitenative.h): each
// record bound as UTF-8 straight from the batch, without a QVariant per value. Also the undo's
// second try on a full disk. PostgreSQL's twin is postgresimport.cpp (COPY); the rest of the
// datasets is SqlStore's (sqldatasets.cpp).
#include "sqlitestore.h"

#include "store/recordrange.h"
#include "store/sqlitenative.h"

#include <QFileInfo>

#include <sqlite3.h>

namespace Ferry {

namespace {

NativeStatement &bindUtf8(NativeStatement &statement, int index, std::string_view text)
{
    return statement.bindUtf8(index, text);
}

} // namespace

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
            return batchLeaseLost(batch.jobId);
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
    if (nextId + qint64(batch.records.size()) > lastRecordId(datasetId))
        return datasetFull();
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

Result<std::optional<qint64>>
SqliteStore::undoMigration(qint64 jobId, qint64 datasetId, std::optional<qint64> leaseToken)
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

} // namespace Ferry
