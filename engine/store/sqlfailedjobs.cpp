// SqlStore: the jobs that ended failed or dead, in the order they ended, for an observing
// console's notices (ui/attention). Both read jobs_failed_by_end (migration 0021 on PostgreSQL,
// 0017 on SQLite), which holds only failing jobs: the status test below is the index's own
// predicate, written the same way so that both planners use it.
#include "sqlstore.h"

#include "store/sqlhelpers.h"

#include <QSqlQuery>

namespace Ferry {

Result<QList<FailedJobRow>> SqlStore::failedJobsAfter(const FailedJobCursor &after, int limit)
{
    auto db = this->db();
    if (!db)
        return db.error();
    QSqlQuery q(*db);
    q.setForwardOnly(true);
    if (!q.prepare(QStringLiteral(
            "SELECT id, status, finished_at FROM jobs WHERE status IN ('failed', 'dead') AND "
            "(finished_at, id) > (?, ?) ORDER BY finished_at, id LIMIT ?")))
        return sqlError(q, QStringLiteral("reading failed jobs"));
    q.addBindValue(after.finishedAt);
    q.addBindValue(after.id);
    q.addBindValue(qBound(1, limit, 100'000));
    if (!q.exec())
        return sqlError(q, QStringLiteral("reading failed jobs"));
    QList<FailedJobRow> rows;
    while (q.next()) {
        rows.append({q.value(0).toLongLong(),
                     jobStatusFromName(q.value(1).toString()).value_or(JobStatus::Failed),
                     q.value(2).toLongLong()});
    }
    return rows;
}

Result<qint64> SqlStore::lastFailureAt()
{
    auto db = this->db();
    if (!db)
        return db.error();
    QSqlQuery q(*db);
    q.setForwardOnly(true);
    if (!q.exec(QStringLiteral("SELECT max(finished_at) FROM jobs WHERE status IN ('failed', "
                               "'dead')")) ||
        !q.next())
        return sqlError(q, QStringLiteral("reading the last failure"));
    return q.value(0).isNull() ? qint64(0) : q.value(0).toLongLong();
}

} // namespace Ferry
