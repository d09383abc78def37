// PostgresStore: managing datasets (their size, deleting them or their records). Port of
// sqlitedatasetadmin.cpp: the payload's dataset is `payload::jsonb ->> 'dataset'`, and the
// dataset's row is locked first (SQLite has one writer; here every node writes).
#include "postgresstore.h"

#include "store/recordrange.h"
#include "store/sqlhelpers.h"

#include <QSqlQuery>

namespace Ferry {

namespace {

// See sqlitedatasetadmin.cpp's s_busy: a status per branch, so each can use its partial index.
const QString s_busy = QStringLiteral(
    "SELECT id, status FROM jobs WHERE status = 'pending' AND user_id = ? AND type = 'migrate' "
    "AND payload::jsonb ->> 'dataset' = ? "
    "UNION ALL "
    "SELECT id, status FROM jobs WHERE status = 'running' AND user_id = ? AND type = 'migrate' "
    "AND payload::jsonb ->> 'dataset' = ? "
    "UNION ALL "
    "SELECT j.id, j.status FROM migration_checkpoints c JOIN jobs j ON j.id = c.job_id "
    "WHERE c.dataset_id = ? AND j.status <> 'completed' "
    "LIMIT 1");

} // namespace

Result<qint64> PostgresStore::datasetBytes(qint64 datasetId)
{
    auto db = this->db();
    if (!db)
        return db.error();
    QSqlQuery q(*db);
    q.setForwardOnly(true);
    // octet_length of a compressed or out-of-line document reads its header, not its bytes.
    q.prepare(QStringLiteral("SELECT coalesce(sum(octet_length(doc)), 0)::bigint FROM records "
                             "WHERE id BETWEEN ? AND ?"));
    q.addBindValue(firstRecordId(datasetId));
    q.addBindValue(lastRecordId(datasetId));
    if (!q.exec() || !q.next())
        return sqlError(q, QStringLiteral("measuring dataset %1").arg(datasetId));
    return q.value(0).toLongLong();
}

Result<DatasetDeletion> PostgresStore::deleteDataset(qint64 userId,
                                                     const QString &name,
                                                     DatasetDeleteScope scope,
                                                     qint64 now)
{
    auto db = this->db();
    if (!db)
        return db.error();
    const QString doing = QStringLiteral("deleting dataset %1").arg(name);
    SqlTransaction transaction(*db);
    if (auto begun = transaction.begin(); !begun)
        return begun.error();
    QSqlQuery q(*db);
    q.setForwardOnly(true);
    // The dataset's row first, FOR UPDATE: a batch being written into it (commitBatch holds it
    // FOR NO KEY UPDATE) is waited for and no new one starts, and a migration that starts now
    // waits in ensureDataset (FOR KEY SHARE) until this ends, then writes into the dataset made
    // anew (or emptied). The check below therefore sees every migration that has the dataset's
    // id or may still get it.
    q.prepare(QStringLiteral("SELECT id FROM datasets WHERE user_id = ? AND name = ? FOR UPDATE"));
    q.addBindValue(userId);
    q.addBindValue(name);
    if (!q.exec())
        return sqlError(q, doing);
    DatasetDeletion deletion;
    if (!q.next())
        return deletion; // NotFound; rolled back, nothing changed
    const qint64 datasetId = q.value(0).toLongLong();
    q.finish();

    q.prepare(s_busy);
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

    q.prepare(QStringLiteral("DELETE FROM records WHERE id BETWEEN ? AND ?"));
    q.addBindValue(firstRecordId(datasetId));
    q.addBindValue(lastRecordId(datasetId));
    if (!q.exec())
        return sqlError(q, doing);
    deletion.records = q.numRowsAffected();
    // Only completed migrations' checkpoints can be left (see s_busy): nothing needs them.
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
