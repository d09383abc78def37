// SqliteStore: managing datasets (their size, deleting them or their records). The PostgreSQL
// port is postgresdatasetadmin.cpp: the same statements but for the payload's dataset
// (json_extract here, ->> there) and the row lock PostgreSQL needs (SQLite has one writer).
#include "sqlitestore.h"

#include "store/recordrange.h"
#include "store/sqlhelpers.h"
#include "store/sqlitenative.h"

#include <QSqlQuery>

namespace Ferry {

namespace {

// The first migration that keeps a delete away, and its status: one pending or running into the
// dataset (by the payload's name: a pending one has no dataset id yet), or one that ended with
// its undo not run (its checkpoint still names the dataset's id). Each branch walks a small
// index: pending jobs by user (jobs_user_rank), running jobs (jobs_leases), checkpoints (kept
// only while a migration may resume or still needs its undo).
const QString s_busy = QStringLiteral(
    "SELECT id, status FROM jobs WHERE status = 'pending' AND user_id = ?1 AND type = 'migrate' "
    "AND CASE WHEN json_valid(payload) THEN json_extract(payload, '$.dataset') END = ?2 "
    "UNION ALL "
    "SELECT id, status FROM jobs WHERE status = 'running' AND user_id = ?1 AND type = 'migrate' "
    "AND CASE WHEN json_valid(payload) THEN json_extract(payload, '$.dataset') END = ?2 "
    "UNION ALL "
    "SELECT j.id, j.status FROM migration_checkpoints c JOIN jobs j ON j.id = c.job_id "
    "WHERE c.dataset_id = ?3 AND j.status <> 'completed' "
    "LIMIT 1");

} // namespace

Result<qint64> SqliteStore::datasetBytes(qint64 datasetId)
{
    auto db = this->db();
    if (!db)
        return db.error();
    QSqlQuery q(*db);
    q.setForwardOnly(true);
    // length() of text counts characters; of the same bytes as a blob, bytes.
    q.prepare(QStringLiteral("SELECT coalesce(sum(length(CAST(doc AS BLOB))), 0) FROM records "
                             "WHERE id BETWEEN ? AND ?"));
    q.addBindValue(firstRecordId(datasetId));
    q.addBindValue(lastRecordId(datasetId));
    if (!q.exec() || !q.next())
        return sqlError(q, QStringLiteral("measuring dataset %1").arg(datasetId));
    return q.value(0).toLongLong();
}

Result<DatasetDeletion>
SqliteStore::deleteDataset(qint64 userId, const QString &name, DatasetDeleteScope scope, qint64 now)
{
    const std::lock_guard writer(m_writeMutex);
    auto native = NativeConnection::of(m_pool);
    if (!native)
        return native.error();
    NativeConnection &db = **native;
    auto find =
        db.prepare(QStringLiteral("SELECT id FROM datasets WHERE user_id = ?1 AND name = ?2"));
    auto busy = db.prepare(s_busy);
    auto records = db.prepare(QStringLiteral("DELETE FROM records WHERE id BETWEEN ?1 AND ?2"));
    // Only completed migrations' checkpoints can be left (see s_busy): nothing needs them.
    auto checkpoints =
        db.prepare(QStringLiteral("DELETE FROM migration_checkpoints WHERE dataset_id = ?1"));
    auto finish =
        db.prepare(scope == DatasetDeleteScope::Dataset
                       ? QStringLiteral("DELETE FROM datasets WHERE id = ?1")
                       : QStringLiteral("UPDATE datasets SET columns = NULL, column_types = NULL, "
                                        "updated_at = ?2 WHERE id = ?1"));
    for (const auto *statement : {&find, &busy, &records, &checkpoints, &finish}) {
        if (!*statement)
            return statement->error();
    }
    const QString doing = QStringLiteral("deleting dataset %1").arg(name);
    // BEGIN IMMEDIATE: the check and the delete see one state, and no migration (of this
    // process or another: the CLI) is enqueued, claimed, started or undone in between.
    NativeTransaction transaction(db);
    if (auto begun = transaction.begin(); !begun)
        return begun.error();
    DatasetDeletion deletion;
    qint64 datasetId = 0;
    {
        NativeStatement q(*find);
        q.bind(1, userId).bind(2, name);
        if (!q.step())
            return q.failed() ? Result<DatasetDeletion>(q.error(doing)) : deletion; // NotFound
        datasetId = q.int64(0);
    }
    {
        NativeStatement q(*busy);
        q.bind(1, userId).bind(2, name).bind(3, datasetId);
        if (q.step()) {
            deletion.outcome = DatasetDeletion::Outcome::Busy;
            deletion.busyJobId = q.int64(0);
            deletion.busyJobStatus = q.text(1);
            return deletion; // rolled back: nothing changed
        }
        if (q.failed())
            return q.error(doing);
    }
    {
        // One range of the rowid b-tree; records_key is the only index to update.
        NativeStatement q(*records);
        q.bind(1, firstRecordId(datasetId)).bind(2, lastRecordId(datasetId)).step();
        if (q.failed())
            return q.error(doing);
        deletion.records = q.changes();
    }
    {
        NativeStatement q(*checkpoints);
        q.bind(1, datasetId).step();
        if (q.failed())
            return q.error(doing);
    }
    {
        NativeStatement q(*finish);
        q.bind(1, datasetId);
        if (scope == DatasetDeleteScope::Records)
            q.bind(2, now);
        q.step();
        if (q.failed())
            return q.error(doing);
    }
    if (auto committed = transaction.commit(); !committed)
        return committed.error();
    deletion.outcome = DatasetDeletion::Outcome::Deleted;
    return deletion;
}

} // namespace Ferry
