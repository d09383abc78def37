// PostgresStore::commitBatch: one migration batch (records, checkpoint, row errors) in one
// transaction, fenced by the job's lease token. Records go in with COPY ... FROM STDIN in binary
// format through libpq (postgresnative.h): row-by-row INSERTs through QPSQL reach a fraction of
// psql's \copy (docs/benchmarks.md). Same semantics, codes and messages as SqliteStore's
// (sqliteimport.cpp).
#include "postgresstore.h"

#include "store/postgresnative.h"
#include "store/recordrange.h"

#include <algorithm>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace Ferry {

namespace {

// Keyed records and row errors go through session-private staging tables, then one
// INSERT ... SELECT ... ON CONFLICT each. Notices ("already exists, skipping") are silenced for
// this transaction only.
const char s_createStaging[] =
    "SET LOCAL client_min_messages = warning; "
    "CREATE TEMP TABLE IF NOT EXISTS ferry_stage_records (id BIGINT, key TEXT, doc JSONB) "
    "ON COMMIT DELETE ROWS; "
    "CREATE TEMP TABLE IF NOT EXISTS ferry_stage_row_errors "
    "(seq BIGINT, line BIGINT, field TEXT, reason TEXT) ON COMMIT DELETE ROWS";

// An overwrite keeps what it replaced (once per job) so a failed job can be undone.
const char s_upsertStaged[] =
    "INSERT INTO records (id, dataset_id, key, doc, job_id) "
    "SELECT id, $1::bigint, key, doc, $2::bigint FROM ferry_stage_records ORDER BY id "
    "ON CONFLICT (dataset_id, key) WHERE key IS NOT NULL DO UPDATE SET "
    "prev_doc = CASE WHEN records.job_id IS NOT DISTINCT FROM excluded.job_id "
    "THEN records.prev_doc ELSE records.doc END, "
    "prev_job = CASE WHEN records.job_id IS NOT DISTINCT FROM excluded.job_id "
    "THEN records.prev_job ELSE records.job_id END, "
    "doc = excluded.doc, job_id = excluded.job_id";

const char s_insertStagedErrors[] =
    "INSERT INTO job_row_errors (job_id, seq, line, field, reason) "
    "SELECT $1::bigint, seq, line, field, reason FROM ferry_stage_row_errors "
    "ON CONFLICT (job_id, seq) DO UPDATE SET line = excluded.line, field = excluded.field, "
    "reason = excluded.reason";

const char s_upsertCheckpoint[] =
    "INSERT INTO migration_checkpoints (job_id, dataset_id, byte_offset, line, rows_read, "
    "rows_imported, rows_rejected, state) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
    "ON CONFLICT (job_id) DO UPDATE SET dataset_id = excluded.dataset_id, "
    "byte_offset = excluded.byte_offset, line = excluded.line, rows_read = excluded.rows_read, "
    "rows_imported = excluded.rows_imported, rows_rejected = excluded.rows_rejected, "
    "state = excluded.state";

// A keyed record as SQLite's row-by-row upsert leaves it: a key seen twice in one batch keeps the
// id of its first row and the document of its last (PostgreSQL refuses to touch one row twice in
// one INSERT ... ON CONFLICT, so the batch is folded first).
struct StagedRecord
{
    qint64 id;
    std::string_view key;
    std::string_view doc;
};

} // namespace

Result<void> PostgresStore::commitBatch(const ImportBatch &batch)
{
    auto connection = PgConnection::of(m_pool);
    if (!connection)
        return connection.error();
    PgConnection &db = *connection;
    PgTransaction transaction(db);

    // BEGIN and the transaction's statements before the COPY go in one round trip: each round
    // trip is time the server is not ingesting rows (docs/benchmarks.md, issue 17). The
    // checkpoint is written with them, last; a refusal below rolls it back with the rest.
    //
    // The fence: the job's row, locked until commit, still running under this lease. Whatever
    // ends or hands out an attempt from outside it (a rescue, a claim, a retry, a cancel) locks
    // the row FOR UPDATE first, which waits for this lock or skips the row; so a node that lost
    // its lease writes nothing, and one that still holds it writes the whole batch. KEY SHARE,
    // the weakest lock that does this, lets the plain UPDATEs of the attempt's own bookkeeping
    // through: lease renewal and progress never wait behind a batch (issue 18).
    const qint64 datasetId = batch.checkpoint.datasetId;
    const MigrationCheckpoint &c = batch.checkpoint;
    std::vector<PgStatement> first = {
        {"SELECT 1 FROM jobs WHERE id = $1 AND status = 'running' AND lease_token = $2 "
         "FOR KEY SHARE",
         {pgInt(batch.jobId), pgInt(batch.leaseToken)},
         QStringLiteral("checking the lease of job %1").arg(batch.jobId)}};
    if (!batch.records.empty()) {
        // Writers of one dataset take turns (SQLite has one writer at all): the ids are numbered
        // from the highest one, read after the lock, in a statement of its own so its snapshot
        // sees the previous writer's commit.
        first.push_back({"SELECT 1 FROM datasets WHERE id = $1 FOR NO KEY UPDATE",
                         {pgInt(datasetId)},
                         QStringLiteral("numbering records")});
        first.push_back({"SELECT coalesce(max(id), $1) FROM records WHERE id BETWEEN $1 AND $2",
                         {pgInt(firstRecordId(datasetId)), pgInt(lastRecordId(datasetId))},
                         QStringLiteral("numbering records")});
    }
    first.push_back({s_upsertCheckpoint,
                     {pgInt(batch.jobId), pgInt(datasetId), pgInt(c.byteOffset), pgInt(c.line),
                      pgInt(c.rowsRead), pgInt(c.rowsImported), pgInt(c.rowsRejected),
                      c.state.isNull() ? QByteArray("") : c.state},
                     QStringLiteral("writing the checkpoint of job %1").arg(batch.jobId)});
    auto begun = transaction.begin(first);
    if (!begun)
        return begun.error();
    if ((*begun)[0].rows() == 0)
        return batchLeaseLost(batch.jobId);

    qint64 nextId = 0;
    if (!batch.records.empty()) {
        // A delete of the dataset refuses while this job runs (sqldatasetadmin.cpp), so
        // this never happens; if it did, the batch must not land in a range nobody owns.
        if ((*begun)[1].rows() == 0) {
            return makeError(ErrorCode::InvalidArgument,
                             QStringLiteral("The dataset was deleted while job %1 imported into "
                                            "it; its batch was not written.")
                                 .arg(batch.jobId),
                             QStringLiteral("Run the import again."));
        }
        nextId = (*begun)[2].int64(0, 0) + 1;
        if (nextId + qint64(batch.records.size()) > lastRecordId(datasetId))
            return datasetFull();
    }

    // Rows are streamed into their COPY as they are encoded (PgCopyIn). Plain records go as
    // they come; keyed ones are folded first and staged below.
    const bool anyPlain = std::any_of(batch.records.begin(), batch.records.end(),
                                      [](const RecordWrite &record) { return record.key.empty(); });
    PgCopyIn plain(db, QStringLiteral("importing a record"));
    if (anyPlain) {
        if (auto started = plain.start("COPY records (id, dataset_id, doc, job_id) FROM STDIN "
                                       "(FORMAT binary)");
            !started)
            return started;
    }
    std::vector<StagedRecord> keyed;
    std::unordered_map<std::string_view, size_t> keyedIndex;
    for (const RecordWrite &record : batch.records) {
        const qint64 id = nextId++;
        if (record.key.empty()) {
            PgCopyBuffer &rows = plain.rows();
            rows.startRow(4);
            rows.addInt64(id);
            rows.addInt64(datasetId);
            rows.addJsonb(record.doc);
            rows.addInt64(batch.jobId);
            plain.sendIfFull();
            continue;
        }
        const auto [it, added] = keyedIndex.try_emplace(std::string_view(record.key), keyed.size());
        if (added)
            keyed.push_back({id, record.key, record.doc});
        else
            keyed[it->second].doc = record.doc;
    }
    if (anyPlain) {
        if (auto copied = plain.finish(); !copied)
            return copied;
    }
    if (!keyed.empty() || !batch.errors.isEmpty()) {
        if (auto staged = db.exec(s_createStaging, QStringLiteral("importing a record")); !staged)
            return staged;
    }
    if (!keyed.empty()) {
        PgCopyIn staged(db, QStringLiteral("importing a record"));
        if (auto started = staged.start("COPY ferry_stage_records (id, key, doc) FROM STDIN "
                                        "(FORMAT binary)");
            !started)
            return started;
        for (const StagedRecord &record : keyed) {
            PgCopyBuffer &rows = staged.rows();
            rows.startRow(3);
            rows.addInt64(record.id);
            rows.addText(record.key);
            rows.addJsonb(record.doc);
            staged.sendIfFull();
        }
        if (auto copied = staged.finish(); !copied)
            return copied;
        if (auto upserted = db.exec(s_upsertStaged, {pgInt(datasetId), pgInt(batch.jobId)},
                                    QStringLiteral("importing a record"));
            !upserted)
            return upserted.error();
    }

    if (!batch.errors.isEmpty()) {
        PgCopyIn staged(db, QStringLiteral("recording a rejected row"));
        if (auto started = staged.start("COPY ferry_stage_row_errors (seq, line, field, reason) "
                                        "FROM STDIN (FORMAT binary)");
            !started)
            return started;
        qint64 seq = batch.firstErrorSeq;
        for (const RowError &rowError : batch.errors) {
            PgCopyBuffer &rows = staged.rows();
            rows.startRow(4);
            rows.addInt64(seq++);
            rows.addInt64(rowError.line);
            rows.addText(rowError.field);
            rows.addText(rowError.reason.isNull() ? QStringLiteral("") : rowError.reason);
            staged.sendIfFull();
        }
        if (auto copied = staged.finish(); !copied)
            return copied;
        if (auto inserted = db.exec(s_insertStagedErrors, {pgInt(batch.jobId)},
                                    QStringLiteral("recording a rejected row"));
            !inserted)
            return inserted.error();
    }
    return transaction.commit();
}

} // namespace Ferry
