// SqlStore: managing datasets (their size, deleting them or their records). The payload's
// dataset is read with SqlDialect::jsonText; PostgreSQL locks the dataset's row first (SQLite
// has one writer; there every node writes).
#include "sqlstore.h"

#include "store/recordrange.h"
#include "store/sqlhelpers.h"

#include <QSqlQuery>

namespace Ferry {

namespace {

// The first migration that keeps a delete away, and its status: one pending or running into the
// dataset (by the payload's name: a pending one has no dataset id yet), or one that ended with
// its undo not run (its checkpoint still names the dataset's id). A status per branch, so each
// walks a small index: pending jobs by user (jobs_user_rank), running jobs (jobs_leases),
// checkpoints (kept only while a migration may resume or still needs its undo).
// Bound: user, name, user, name, dataset id.
QString busySql(const SqlDialect &sql)
{
    const QString dataset = sql.jsonText(QStringLiteral("payload"), QStringLiteral("dataset"));
    return QStringLiteral("SELECT id, status FROM jobs WHERE status = 'pending' AND user_id = ? "
                          "AND type = 'migrate' AND ") +
           dataset +
           QStringLiteral(" = ? UNION ALL "
                          "SELECT id, status FROM jobs WHERE status = 'running' AND user_id = ? "
                          "AND type = 'migrate' AND ") +
           dataset +
           QStringLiteral(" = ? UNION ALL "
                          "SELECT j.id, j.status FROM migration_checkpoints c "
                          "JOIN jobs j ON j.id = c.job_id "
                          "WHERE c.dataset_id = ? AND j.status <> 'completed' "
                          "LIMIT 1");
}

} // namespace

Result<qint64> SqlStore::datasetBytes(qint64 datasetId)
{
    auto db = this->db();
    if (!db)
        return db.error();
    QSqlQuery q(*db);
    q.setForwardOnly(true);
    // The bytes of each document's UTF-8 (SqlDialect::octetLength). On PostgreSQL octet_length
    // of a compressed or out-of-line document reads its header, not its bytes.
    q.prepare(QStringLiteral("SELECT CAST(coalesce(sum(") +
              m_sql.octetLength(QStringLiteral("doc")) +
              QStringLiteral("), 0) AS BIGINT) FROM records WHERE id BETWEEN ? AND ?"));
    q.addBindValue(firstRecordId(datasetId));
    q.addBindValue(lastRecordId(datasetId));
    if (!q.exec() || !q.next())
        return sqlError(q, QStringLiteral("measuring dataset %1").arg(datasetId));
    return q.value(0).toLongLong();
}

Result<DatasetDeletion>
SqlStore::deleteDataset(qint64 userId, const QString &name, DatasetDeleteScope scope, qint64 now)
{
    const auto turn = writeTurn();
    auto db = this->db();
    if (!db)
        return db.error();
    const QString doing = QStringLiteral("deleting dataset %1").arg(name);
    // On SQLite BEGIN IMMEDIATE (SqlTransaction): the check and the delete see one state, and no
    // migration (of this process or another: the CLI) is enqueued, claimed, started or undone in
    // between.
    SqlTransaction transaction(*db);
    if (auto begun = transaction.begin(); !begun)
        return begun.error();
    QSqlQuery q(*db);
    q.setForwardOnly(true);
    // On PostgreSQL the dataset's row first, FOR UPDATE: a batch being written into it
    // (commitBatch holds it FOR NO KEY UPDATE) is waited for and no new one starts, and a
    // migration that starts now waits in ensureDataset (FOR KEY SHARE) until this ends, then
    // writes into the dataset made anew (or emptied). The check below therefore sees every
    // migration that has the dataset's id or may still get it.
    q.prepare(QStringLiteral("SELECT id FROM datasets WHERE user_id = ? AND name = ?") +
              m_sql.deleteLock());
    q.addBindValue(userId);
    q.addBindValue(name);
    if (!q.exec())
        return sqlError(q, doing);
    DatasetDeletion deletion;
    if (!q.next())
        return deletion; // NotFound; rolled back, nothing changed
    const qint64 datasetId = q.value(0).toLongLong();
    q.finish();

    q.prepare(busySql(m_sql));
    for (const QVariant &value :
         {QVariant(userId), QVariant(name), QVariant(userId), QVariant(name), QVariant(datasetId)})
        q.addBindValue(value);
    if (!q.exec())
        return sqlError(q, doing);
    if (q.next()) {
        deletion.outcome = DatasetDeletion::Outcome::Busy;
        deletion.busyJobId = q.value(0).toLongLong();
        deletion.busyJobStatus = q.value(1).toString();
        return deletion; // rolled back: nothing changed
    }
    q.finish();

    // One range of the records' primary key (SQLite: of the rowid b-tree; records_key is the
    // only index to update).
    q.prepare(QStringLiteral("DELETE FROM records WHERE id BETWEEN ? AND ?"));
    q.addBindValue(firstRecordId(datasetId));
    q.addBindValue(lastRecordId(datasetId));
    if (!q.exec())
        return sqlError(q, doing);
    deletion.records = q.numRowsAffected();
    // Only completed migrations' checkpoints can be left (see busySql): nothing needs them.
    q.prepare(QStringLiteral("DELETE FROM migration_checkpoints WHERE dataset_id = ?"));
    q.addBindValue(datasetId);
    if (!q.exec())
        return sqlError(q, doing);
    if (scope == DatasetDeleteScope::Dataset) {
        q.prepare(QStringLiteral("DELETE FROM datasets WHERE id = ?"));
        q.addBindValue(datasetId);
    } else {
        q.prepare(QStringLiteral("UPDATE datasets SET columns = NULL, column_types = NULL, "
                                 "updated_at = ? WHERE id = ?"));
        q.addBindValue(now);
        q.addBindValue(datasetId);
    }
    if (!q.exec())
        return sqlError(q, doing);
    if (auto committed = transaction.commit(); !committed)
        return committed.error();
    deletion.outcome = DatasetDeletion::Outcome::Deleted;
    return deletion;
}

} // namespace Ferry
