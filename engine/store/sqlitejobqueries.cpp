// SqliteStore: reading jobs and changing them on request (cancel, retry, priority, prune).
#include "sqlitestore.h"

#include "store/jobdeletesql.h"
#include "store/sqlhelpers.h"
#include "store/sqlitejobids.h"
#include "store/sqlitejobrows.h"
#include "store/sqlitenative.h"
#include "store/sqlvalues.h"

#include <QSqlQuery>

namespace Ferry {

Result<std::optional<JobStatus>> SqliteStore::statusOf(qint64 jobId, std::optional<qint64> userId)
{
    auto q = prepared(QStringLiteral("SELECT status, user_id FROM jobs WHERE id = ?"));
    if (!q)
        return q.error();
    QSqlQuery &query = **q;
    query.bindValue(0, jobId);
    if (!query.exec())
        return sqlError(query, QStringLiteral("reading job %1").arg(jobId));
    std::optional<JobStatus> status;
    if (query.next() && (!userId || query.value(1).toLongLong() == *userId))
        status = jobStatusFromName(query.value(0).toString());
    query.finish();
    return status;
}

Result<JobStatus> SqliteStore::cancelJob(qint64 jobId, std::optional<qint64> userId, qint64 now)
{
    // In-process writers queue here, not in SQLite's busy handler (see m_writeMutex).
    const std::lock_guard writer(m_writeMutex);
    auto db = this->db();
    if (!db)
        return db.error();
    SqlTransaction transaction(*db);
    if (auto begun = transaction.begin(); !begun)
        return begun.error();
    auto status = statusOf(jobId, userId);
    if (!status)
        return status.error();
    if (!status->has_value())
        return notFound(jobId);
    QSqlQuery q(*db);
    JobStatus result = JobStatus::Cancelled;
    if (**status == JobStatus::Pending) {
        q.prepare(QStringLiteral("UPDATE jobs SET status = 'cancelled', finished_at = ?, "
                                 "error = 'Cancelled before it started.' WHERE id = ?"));
        q.addBindValue(now);
    } else if (**status == JobStatus::Running) {
        q.prepare(QStringLiteral("UPDATE jobs SET cancel_requested = 1 WHERE id = ?"));
        result = JobStatus::Running;
    } else {
        return makeError(
            ErrorCode::Conflict,
            QStringLiteral("Job %1 already finished (%2).").arg(jobId).arg(jobStatusName(**status)),
            QStringLiteral("Only pending or running jobs can be cancelled."));
    }
    q.addBindValue(jobId);
    if (!q.exec())
        return sqlError(q, QStringLiteral("cancelling job %1").arg(jobId));
    if (auto committed = transaction.commit(); !committed)
        return committed.error();
    return result;
}

Result<void> SqliteStore::retryJob(qint64 jobId, std::optional<qint64> userId, qint64 now)
{
    // In-process writers queue here, not in SQLite's busy handler (see m_writeMutex).
    const std::lock_guard writer(m_writeMutex);
    auto db = this->db();
    if (!db)
        return db.error();
    SqlTransaction transaction(*db);
    if (auto begun = transaction.begin(); !begun)
        return begun.error();
    auto status = statusOf(jobId, userId);
    if (!status)
        return status.error();
    if (!status->has_value())
        return notFound(jobId);
    const JobStatus current = **status;
    if (current != JobStatus::Failed && current != JobStatus::Dead &&
        current != JobStatus::Cancelled) {
        return makeError(ErrorCode::Conflict,
                         QStringLiteral("Job %1 is %2.").arg(jobId).arg(jobStatusName(current)),
                         QStringLiteral("Only failed, dead or cancelled jobs can be retried."));
    }
    QSqlQuery q(*db);
    q.prepare(QStringLiteral("SELECT user_id, priority FROM jobs WHERE id = ?"));
    q.addBindValue(jobId);
    if (!q.exec() || !q.next())
        return sqlError(q, QStringLiteral("retrying job %1").arg(jobId));
    auto rank = nextFairRank(q.value(0).toLongLong(), q.value(1).toInt());
    if (!rank)
        return rank.error();
    q.prepare(QStringLiteral(
        "UPDATE jobs SET status = 'pending', attempts = 0, run_at = ?, fair_rank = ?, "
        "error = NULL, result = NULL, progress = NULL, finished_at = NULL, cancel_requested = 0 "
        "WHERE id = ?"));
    q.addBindValue(now);
    q.addBindValue(*rank);
    q.addBindValue(jobId);
    if (!q.exec()) {
        return makeError(ErrorCode::Conflict,
                         QStringLiteral("Job %1 cannot be retried: %2")
                             .arg(jobId)
                             .arg(sqlError(q, QStringLiteral("retrying")).message),
                         QStringLiteral("Another job with the same unique key is queued."));
    }
    if (auto committed = transaction.commit(); !committed)
        return committed.error();
    return {};
}

Result<void> SqliteStore::setPriority(qint64 jobId, std::optional<qint64> userId, int priority)
{
    // In-process writers queue here, not in SQLite's busy handler (see m_writeMutex).
    const std::lock_guard writer(m_writeMutex);
    auto q = prepared(QStringLiteral("UPDATE jobs SET priority = ? WHERE id = ? "
                                     "AND (? IS NULL OR user_id = ?)"));
    if (!q)
        return q.error();
    QSqlQuery &query = **q;
    const QVariant user = userId ? QVariant(*userId) : QVariant(QMetaType(QMetaType::LongLong));
    query.bindValue(0, priority);
    query.bindValue(1, jobId);
    query.bindValue(2, user);
    query.bindValue(3, user);
    if (!query.exec())
        return sqlError(query, QStringLiteral("setting the priority of job %1").arg(jobId));
    if (query.numRowsAffected() == 0)
        return notFound(jobId);
    return {};
}

Result<std::optional<Job>> SqliteStore::job(qint64 jobId, std::optional<qint64> userId)
{
    auto native = NativeConnection::of(m_pool);
    if (!native)
        return native.error();
    static const QString sql =
        QStringLiteral("SELECT ") + s_jobColumns + QStringLiteral(" FROM jobs WHERE id = ?1");
    auto prepared = (*native)->prepare(sql);
    if (!prepared)
        return prepared.error();
    NativeStatement q(*prepared);
    q.bind(1, jobId);
    std::optional<Job> result;
    if (q.step()) {
        Job job = jobFromNative(q);
        if (!userId || job.userId == *userId)
            result = std::move(job);
    } else if (q.failed()) {
        return q.error(QStringLiteral("reading job %1").arg(jobId));
    }
    return result;
}

Result<QList<Job>> SqliteStore::jobs(const JobFilter &filter)
{
    auto db = this->db();
    if (!db)
        return db.error();
    // A user's jobs walk the jobs_user index (user_id, id) in id order from the cursor; status
    // and dataset are checked on those rows. The cursor is a plain range ("id < ?", not
    // "? = 0 OR id < ?"), so a deep page starts at its place in the index instead of scanning.
    QString sql = QStringLiteral("SELECT ") + s_jobColumns + QStringLiteral(" FROM jobs WHERE 1");
    const qint64 cursor = filter.newestFirst ? filter.beforeId : filter.afterId;
    if (cursor > 0)
        sql += filter.newestFirst ? QStringLiteral(" AND id < ?") : QStringLiteral(" AND id > ?");
    if (filter.userId)
        sql += QStringLiteral(" AND user_id = ?");
    if (filter.status)
        sql += QStringLiteral(" AND status = ?");
    if (filter.dataset)
        sql += QStringLiteral(" AND CASE WHEN json_valid(payload) "
                              "THEN json_extract(payload, '$.dataset') END = ?");
    sql += filter.newestFirst ? QStringLiteral(" ORDER BY id DESC LIMIT ?")
                              : QStringLiteral(" ORDER BY id LIMIT ?");
    QSqlQuery q(*db);
    q.setForwardOnly(true);
    q.prepare(sql);
    if (cursor > 0)
        q.addBindValue(cursor);
    if (filter.userId)
        q.addBindValue(*filter.userId);
    if (filter.status)
        q.addBindValue(jobStatusName(*filter.status));
    if (filter.dataset)
        q.addBindValue(*filter.dataset);
    q.addBindValue(filter.limit);
    if (!q.exec())
        return sqlError(q, QStringLiteral("listing jobs"));
    QList<Job> result;
    while (q.next())
        result.append(jobFrom(q));
    return result;
}

Result<QList<JobAttempt>> SqliteStore::attempts(qint64 jobId)
{
    auto db = this->db();
    if (!db)
        return db.error();
    QSqlQuery q(*db);
    q.prepare(QStringLiteral("SELECT job_id, attempt, node, started_at, finished_at, outcome, "
                             "error FROM job_attempts WHERE job_id = ? ORDER BY lease_token"));
    q.addBindValue(jobId);
    if (!q.exec())
        return sqlError(q, QStringLiteral("reading attempts of job %1").arg(jobId));
    QList<JobAttempt> result;
    while (q.next()) {
        result.append({q.value(0).toLongLong(), q.value(1).toInt(), q.value(2).toString(),
                       q.value(3).toLongLong(), q.value(4).toLongLong(), q.value(5).toString(),
                       q.value(6).toString()});
    }
    return result;
}

Result<QHash<JobStatus, qint64>> SqliteStore::countByStatus()
{
    auto db = this->db();
    if (!db)
        return db.error();
    QSqlQuery q(*db);
    if (!q.exec(QStringLiteral("SELECT status, count(*) FROM jobs GROUP BY status")))
        return sqlError(q, QStringLiteral("counting jobs"));
    QHash<JobStatus, qint64> result;
    while (q.next()) {
        if (auto status = jobStatusFromName(q.value(0).toString()))
            result.insert(*status, q.value(1).toLongLong());
    }
    return result;
}

Result<int> SqliteStore::pruneFinished(qint64 finishedBefore, int batchSize)
{
    // In-process writers queue here, not in SQLite's busy handler (see m_writeMutex).
    const std::lock_guard writer(m_writeMutex);
    auto db = this->db();
    if (!db)
        return db.error();
    SqlTransaction transaction(*db);
    if (auto begun = transaction.begin(); !begun)
        return begun.error();
    QSqlQuery q(*db);
    if (!q.exec(SqliteJobIds::keepLastId))
        return sqlError(q, QStringLiteral("keeping the last job id"));
    // A failed migration waits for the undo sweep (its checkpoint goes then): its rows
    // are found by its job. The console and the API delete by the same rule.
    q.prepare(QStringLiteral("DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE "
                             "finished_at < ? AND ") +
              JobDeleteSql::deletable + QStringLiteral(" LIMIT ?)"));
    q.addBindValue(finishedBefore);
    q.addBindValue(batchSize);
    if (!q.exec())
        return sqlError(q, QStringLiteral("pruning finished jobs"));
    const int deleted = q.numRowsAffected();
    if (auto committed = transaction.commit(); !committed)
        return committed.error();
    return deleted;
}

Result<std::optional<UploadSession>> SqliteStore::session(const QString &id,
                                                          std::optional<qint64> userId)
{
    auto db = this->db();
    if (!db)
        return db.error();
    QSqlQuery q(*db);
    q.prepare(QStringLiteral("SELECT id, user_id, file_name, content_type, size_bytes, sha256, "
                             "created_at FROM upload_sessions WHERE id = ?"));
    q.addBindValue(id);
    if (!q.exec())
        return sqlError(q, QStringLiteral("reading an upload session"));
    std::optional<UploadSession> result;
    if (q.next() && (!userId || q.value(1).toLongLong() == *userId)) {
        result =
            UploadSession{q.value(0).toString(),  q.value(1).toLongLong(), q.value(2).toString(),
                          q.value(3).toString(),  q.value(4).toLongLong(), q.value(5).toString(),
                          q.value(6).toLongLong()};
    }
    return result;
}

Result<bool> SqliteStore::blobReferenced(const QString &blobId)
{
    auto db = this->db();
    if (!db)
        return db.error();
    QSqlQuery q(*db);
    q.prepare(QStringLiteral("SELECT EXISTS (SELECT 1 FROM upload_sessions WHERE sha256 = ?)"));
    q.addBindValue(blobId);
    if (!q.exec() || !q.next())
        return sqlError(q, QStringLiteral("checking an upload's references"));
    return q.value(0).toBool();
}

Result<QStringList> SqliteStore::pruneSessions(qint64 createdBefore, int batchSize)
{
    // In-process writers queue here, not in SQLite's busy handler (see m_writeMutex).
    const std::lock_guard writer(m_writeMutex);
    auto db = this->db();
    if (!db)
        return db.error();
    SqlTransaction transaction(*db);
    if (auto begun = transaction.begin(); !begun)
        return begun.error();
    QSqlQuery q(*db);
    q.prepare(QStringLiteral(
        "DELETE FROM upload_sessions WHERE id IN (SELECT s.id FROM upload_sessions s "
        "WHERE s.created_at < ? AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.session_id = s.id) "
        "LIMIT ?) RETURNING sha256"));
    q.addBindValue(createdBefore);
    q.addBindValue(batchSize);
    if (!q.exec())
        return sqlError(q, QStringLiteral("pruning upload sessions"));
    QStringList blobs;
    while (q.next()) {
        const QString blob = q.value(0).toString();
        if (!blob.isEmpty() && !blobs.contains(blob))
            blobs.append(blob);
    }
    q.finish();
    QStringList unreferenced;
    for (const QString &blob : std::as_const(blobs)) {
        auto referenced = blobReferenced(blob);
        if (!referenced)
            return referenced.error();
        if (!*referenced)
            unreferenced.append(blob);
    }
    if (auto committed = transaction.commit(); !committed)
        return committed.error();
    return unreferenced;
}

Result<std::optional<QString>> SqliteStore::deleteUnusedSession(const QString &sessionId)
{
    // In-process writers queue here, not in SQLite's busy handler (see m_writeMutex).
    const std::lock_guard writer(m_writeMutex);
    auto db = this->db();
    if (!db)
        return db.error();
    SqlTransaction transaction(*db);
    if (auto begun = transaction.begin(); !begun)
        return begun.error();
    QSqlQuery q(*db);
    q.prepare(JobDeleteSql::deleteUnusedSession);
    q.addBindValue(sessionId);
    if (!q.exec())
        return sqlError(q, QStringLiteral("deleting upload session %1").arg(sessionId));
    const QString blob = q.next() ? q.value(0).toString() : QString();
    q.finish();
    std::optional<QString> unreferenced;
    if (!blob.isEmpty()) {
        auto referenced = blobReferenced(blob);
        if (!referenced)
            return referenced.error();
        if (!*referenced)
            unreferenced = blob;
    }
    if (auto committed = transaction.commit(); !committed)
        return committed.error();
    return unreferenced;
}

} // namespace Ferry
