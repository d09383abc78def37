// SqlStore: reading jobs and changing them on request (cancel, retry, priority), rescuing lost
// leases, ageing, pruning, and upload sessions. On PostgreSQL, rows another node may be changing
// at the same moment are read with a row lock (or SKIP LOCKED) inside the transaction that
// changes them; on SQLite the write's turn (writeTurn) keeps this process's writers apart.
#include "sqlstore.h"

#include "store/jobdeletesql.h"
#include "store/jobrows.h"
#include "store/sqlhelpers.h"
#include "store/sqlvalues.h"

#include <QSqlQuery>

namespace Ferry {

namespace {

struct LockedJob
{
    JobStatus status = JobStatus::Pending;
    qint64 userId = 0;
    int priority = 0;
};

// Binds: the job id. With the dialect's row lock appended (lockJob).
const QString s_lockJob = QStringLiteral("SELECT status, user_id, priority FROM jobs WHERE id = ?");

// The job's row (`q`: s_lockJob, locked on PostgreSQL until the transaction ends); nothing when
// it does not exist or belongs to another user (then it is "not found" too).
Result<std::optional<LockedJob>>
lockJob(Result<QSqlQuery *> q, qint64 jobId, std::optional<qint64> userId)
{
    if (!q)
        return q.error();
    QSqlQuery &query = **q;
    query.bindValue(0, jobId);
    if (!query.exec())
        return sqlError(query, QStringLiteral("reading job %1").arg(jobId));
    std::optional<LockedJob> job;
    if (query.next() && (!userId || query.value(1).toLongLong() == *userId)) {
        job = LockedJob{jobStatusFromName(query.value(0).toString()).value_or(JobStatus::Pending),
                        query.value(1).toLongLong(), query.value(2).toInt()};
    }
    query.finish();
    return job;
}

// One change of a job on request (cancel, retry), in a transaction of its own: the job's row is
// read with `lock` (s_lockJob, with the dialect's row lock), then `change` is given the connection
// and the row; "not found" when there is no such job of this user.
template<typename Change>
auto changeJob(QSqlDatabase db,
               Result<QSqlQuery *> lock,
               qint64 jobId,
               std::optional<qint64> userId,
               Change change) -> decltype(change(db, LockedJob{}))
{
    SqlTransaction transaction(db);
    if (auto begun = transaction.begin(); !begun)
        return begun.error();
    auto job = lockJob(std::move(lock), jobId, userId);
    if (!job)
        return job.error();
    if (!job->has_value())
        return notFound(jobId);
    auto result = change(db, **job);
    if (!result)
        return result.error();
    if (auto committed = transaction.commit(); !committed)
        return committed.error();
    return result;
}

} // namespace

Result<JobStatus> SqlStore::cancelJob(qint64 jobId, std::optional<qint64> userId, qint64 now)
{
    const auto turn = writeTurn();
    auto db = this->db();
    if (!db)
        return db.error();
    const auto cancel = [&](QSqlDatabase &connection, const LockedJob &job) -> Result<JobStatus> {
        QSqlQuery q(connection);
        JobStatus result = JobStatus::Cancelled;
        if (job.status == JobStatus::Pending) {
            q.prepare(QStringLiteral("UPDATE jobs SET status = 'cancelled', finished_at = ?, "
                                     "error = 'Cancelled before it started.' WHERE id = ?"));
            q.addBindValue(now);
        } else if (job.status == JobStatus::Running) {
            q.prepare(QStringLiteral("UPDATE jobs SET cancel_requested = 1 WHERE id = ?"));
            result = JobStatus::Running;
        } else {
            return makeError(ErrorCode::Conflict,
                             QStringLiteral("Job %1 already finished (%2).")
                                 .arg(jobId)
                                 .arg(jobStatusName(job.status)),
                             QStringLiteral("Only pending or running jobs can be cancelled."));
        }
        q.addBindValue(jobId);
        if (!q.exec())
            return sqlError(q, QStringLiteral("cancelling job %1").arg(jobId));
        // The node running it is told (cluster: at commit), and stops it at once.
        if (result == JobStatus::Running) {
            if (auto told = cancelRequestedOf(connection, {jobId}); !told)
                return told.error();
        }
        return result;
    };
    return changeJob(*db, prepared(s_lockJob + m_sql.rowLock()), jobId, userId, cancel);
}

Result<void> SqlStore::retryJob(qint64 jobId, std::optional<qint64> userId, qint64 now)
{
    const auto turn = writeTurn();
    auto db = this->db();
    if (!db)
        return db.error();
    const auto retry = [&](QSqlDatabase &connection, const LockedJob &job) -> Result<void> {
        if (job.status != JobStatus::Failed && job.status != JobStatus::Dead &&
            job.status != JobStatus::Cancelled) {
            return makeError(
                ErrorCode::Conflict,
                QStringLiteral("Job %1 is %2.").arg(jobId).arg(jobStatusName(job.status)),
                QStringLiteral("Only failed, dead or cancelled jobs can be retried."));
        }
        auto rank = nextFairRank(job.userId, job.priority);
        if (!rank)
            return rank.error();
        QSqlQuery q(connection);
        q.prepare(QStringLiteral(
            "UPDATE jobs SET status = 'pending', attempts = 0, run_at = ?, fair_rank = ?, "
            "error = NULL, result = NULL, progress = NULL, finished_at = NULL, "
            "cancel_requested = 0 WHERE id = ?"));
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
        return {};
    };
    return changeJob(*db, prepared(s_lockJob + m_sql.rowLock()), jobId, userId, retry);
}

Result<void> SqlStore::setPriority(qint64 jobId, std::optional<qint64> userId, int priority)
{
    const auto turn = writeTurn();
    // Two statements, not "? IS NULL OR user_id = ?": PostgreSQL cannot type an untyped NULL
    // parameter that is only compared with IS NULL.
    auto q = prepared(
        userId ? QStringLiteral("UPDATE jobs SET priority = ? WHERE id = ? AND user_id = ?")
               : QStringLiteral("UPDATE jobs SET priority = ? WHERE id = ?"));
    if (!q)
        return q.error();
    QSqlQuery &query = **q;
    query.bindValue(0, priority);
    query.bindValue(1, jobId);
    if (userId)
        query.bindValue(2, *userId);
    if (!query.exec())
        return sqlError(query, QStringLiteral("setting the priority of job %1").arg(jobId));
    if (query.numRowsAffected() == 0)
        return notFound(jobId);
    return {};
}

Result<QList<Job>> SqlStore::jobs(const JobFilter &filter)
{
    auto db = this->db();
    if (!db)
        return db.error();
    // A user's jobs walk the jobs_user index (user_id, id) in id order from the cursor; status
    // and dataset are checked on those rows. The cursor is a plain range ("id < ?", not
    // "? = 0 OR id < ?"), so a deep page starts at its place in the index instead of scanning.
    QString sql =
        QStringLiteral("SELECT ") + s_jobColumns + QStringLiteral(" FROM jobs WHERE TRUE");
    const qint64 cursor = filter.newestFirst ? filter.beforeId : filter.afterId;
    if (cursor > 0)
        sql += filter.newestFirst ? QStringLiteral(" AND id < ?") : QStringLiteral(" AND id > ?");
    if (filter.userId)
        sql += QStringLiteral(" AND user_id = ?");
    if (filter.status)
        sql += QStringLiteral(" AND status = ?");
    if (filter.dataset) {
        sql += QStringLiteral(" AND ") +
               m_sql.jsonField(QStringLiteral("payload"), QStringLiteral("dataset")) +
               QStringLiteral(" = ?");
    }
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

Result<QList<QList<Job>>> SqlStore::jobLists(const QList<JobFilter> &filters)
{
    auto db = this->db();
    if (!db)
        return db.error();
    SqlTransaction snapshot(*db);
    if (auto begun = snapshot.beginSnapshot(); !begun)
        return begun.error();
    QList<QList<Job>> lists;
    lists.reserve(filters.size());
    for (const JobFilter &filter : filters) {
        auto jobs = SqlStore::jobs(filter); // this thread's connection: inside the snapshot
        if (!jobs)
            return jobs.error();
        lists.append(std::move(*jobs));
    }
    if (auto committed = snapshot.commit(); !committed)
        return committed.error();
    return lists;
}

Result<QList<JobAttempt>> SqlStore::attempts(qint64 jobId)
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

Result<QHash<JobStatus, qint64>> SqlStore::countByStatus()
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

Result<QList<qint64>> SqlStore::cancelRequested(const QString &node)
{
    auto q = prepared(QStringLiteral("SELECT id FROM jobs WHERE status = 'running' "
                                     "AND lease_owner = ? AND cancel_requested = 1"));
    if (!q)
        return q.error();
    QSqlQuery &query = **q;
    query.bindValue(0, node);
    if (!query.exec())
        return sqlError(query, QStringLiteral("reading cancellations"));
    QList<qint64> ids;
    while (query.next())
        ids.append(query.value(0).toLongLong());
    query.finish();
    return ids;
}

Result<void> SqlStore::saveProgress(qint64 jobId, qint64 leaseToken, const QJsonObject &progress)
{
    const auto turn = writeTurn();
    auto q =
        prepared(QStringLiteral("UPDATE jobs SET progress = ? WHERE id = ? AND status = 'running' "
                                "AND lease_token = ?"));
    if (!q)
        return q.error();
    QSqlQuery &query = **q;
    query.bindValue(0, jsonText(progress));
    query.bindValue(1, jobId);
    query.bindValue(2, leaseToken);
    if (!query.exec())
        return sqlError(query, QStringLiteral("saving progress of job %1").arg(jobId));
    return {};
}

Result<QList<RescuedJob>> SqlStore::rescueLeases(RescueScope scope, const QString &node, qint64 now)
{
    const auto turn = writeTurn();
    auto db = this->db();
    if (!db)
        return db.error();
    // SQLite's BEGIN and COMMIT are statements prepared once per thread; PostgreSQL cannot
    // PREPARE BEGIN.
    SqlTransaction transaction(*db, m_sql.isPostgres() ? nullptr : &m_pool);
    if (auto begun = transaction.begin(); !begun)
        return begun.error();
    // A node never rescues its own leases: it knows they are running and renews them. SKIP
    // LOCKED (PostgreSQL): a row another node is settling or rescuing right now is that node's
    // business.
    QSqlQuery select(*db);
    select.prepare(
        QStringLiteral("SELECT id, user_id, attempts, max_attempts, cancel_requested, "
                       "lease_token, lease_owner, started_at FROM jobs WHERE status = 'running' "
                       "AND (lease_owner IS NULL OR lease_owner <> ?)") +
        (scope == RescueScope::ExpiredLeases ? QStringLiteral(" AND lease_expires_at < ?")
                                             : QString()) +
        m_sql.skipLocked());
    select.addBindValue(node);
    if (scope == RescueScope::ExpiredLeases)
        select.addBindValue(now);
    if (!select.exec())
        return sqlError(select, QStringLiteral("finding lost jobs"));
    struct Lost
    {
        qint64 id, userId;
        int attempts, maxAttempts;
        bool cancel;
        qint64 token;
        QString owner;
        qint64 startedAt;
    };
    QList<Lost> lost;
    while (select.next()) {
        lost.append({select.value(0).toLongLong(), select.value(1).toLongLong(),
                     select.value(2).toInt(), select.value(3).toInt(), select.value(4).toInt() != 0,
                     select.value(5).toLongLong(), select.value(6).toString(),
                     select.value(7).toLongLong()});
    }
    select.finish();

    const QString error =
        QStringLiteral("The worker running this attempt stopped (lease expired).");
    QSqlQuery update(*db);
    update.prepare(QStringLiteral(
        "UPDATE jobs SET status = ?, run_at = ?, error = ?, finished_at = ?, lease_owner = NULL, "
        "lease_expires_at = NULL WHERE id = ? AND lease_token = ? AND status = 'running'"));
    QSqlQuery history(*db);
    history.prepare(QStringLiteral(
        "INSERT INTO job_attempts (job_id, lease_token, attempt, user_id, node, started_at, "
        "finished_at, outcome, error) VALUES (?, ?, ?, ?, ?, ?, ?, 'lost', ?)"));
    QList<RescuedJob> rescued;
    for (const Lost &job : std::as_const(lost)) {
        const JobStatus status = job.cancel                        ? JobStatus::Cancelled
                                 : job.attempts >= job.maxAttempts ? JobStatus::Dead
                                                                   : JobStatus::Pending;
        update.bindValue(0, jobStatusName(status));
        update.bindValue(1, now);
        update.bindValue(2, error);
        update.bindValue(3, isTerminal(status) ? QVariant(now)
                                               : QVariant(QMetaType(QMetaType::LongLong)));
        update.bindValue(4, job.id);
        update.bindValue(5, job.token);
        if (!update.exec())
            return sqlError(update, QStringLiteral("rescuing job %1").arg(job.id));
        history.bindValue(0, job.id);
        history.bindValue(1, job.token);
        history.bindValue(2, job.attempts);
        history.bindValue(3, job.userId);
        history.bindValue(4, nullIfEmpty(job.owner));
        history.bindValue(5, job.startedAt);
        history.bindValue(6, now);
        history.bindValue(7, error);
        if (!history.exec())
            return sqlError(history, QStringLiteral("recording a lost attempt"));
        rescued.append({job.id, status});
    }
    if (auto committed = transaction.commit(); !committed)
        return committed.error();
    return rescued;
}

Result<int> SqlStore::agePendingJobs(qint64 readyBefore, int limit)
{
    const auto turn = writeTurn();
    auto db = this->db();
    if (!db)
        return db.error();
    QSqlQuery q(*db);
    q.prepare(
        QStringLiteral("UPDATE jobs SET priority = priority + 1 WHERE id IN (SELECT id FROM jobs "
                       "WHERE status = 'pending' AND priority < ? AND run_at <= ? ORDER BY run_at "
                       "LIMIT ?") +
        m_sql.skipLocked() + u')');
    q.addBindValue(MaxPriority);
    q.addBindValue(readyBefore);
    q.addBindValue(limit);
    if (!q.exec())
        return sqlError(q, QStringLiteral("ageing waiting jobs"));
    return q.numRowsAffected();
}

Result<int> SqlStore::pruneFinished(qint64 finishedBefore, int batchSize)
{
    WriteTransaction write(*this);
    if (auto begun = write.begin(); !begun)
        return begun.error();
    if (auto kept = beforeDeletingJobs(write.db()); !kept)
        return kept.error();
    QSqlQuery q(write.db());
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
    if (auto committed = write.commit(); !committed)
        return committed.error();
    return deleted;
}

Result<std::optional<UploadSession>> SqlStore::session(const QString &id,
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

Result<bool> SqlStore::blobReferenced(const QString &blobId)
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

Result<QStringList> SqlStore::pruneSessions(qint64 createdBefore, int batchSize)
{
    WriteTransaction write(*this);
    if (auto begun = write.begin(); !begun)
        return begun.error();
    QSqlQuery q(write.db());
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
    if (auto committed = write.commit(); !committed)
        return committed.error();
    return unreferenced;
}

Result<std::optional<QString>> SqlStore::deleteUnusedSession(const QString &sessionId)
{
    WriteTransaction write(*this);
    if (auto begun = write.begin(); !begun)
        return begun.error();
    QSqlQuery q(write.db());
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
    if (auto committed = write.commit(); !committed)
        return committed.error();
    return unreferenced;
}

} // namespace Ferry
