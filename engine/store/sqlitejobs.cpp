// SqliteStore: the job queue's tables (jobs, job_attempts, fair_clock).
#include "sqlitestore.h"

#include "store/sqlhelpers.h"
#include "store/sqlitejobrows.h"
#include "store/sqlvalues.h"

#include <QSqlQuery>

namespace Ferry {


Result<qint64> SqliteStore::nextFairRank(qint64 userId, int priority)
{
    auto q = prepared(QStringLiteral(
        "SELECT max(coalesce((SELECT max(fair_rank) FROM jobs WHERE user_id = ? AND priority = ? "
        "AND status = 'pending'), 0), coalesce((SELECT v FROM fair_clock WHERE priority = ?), 0))"));
    if (!q)
        return q.error();
    QSqlQuery &query = **q;
    query.bindValue(0, userId);
    query.bindValue(1, priority);
    query.bindValue(2, priority);
    if (!query.exec() || !query.next())
        return sqlError(query, QStringLiteral("ranking a job"));
    const qint64 rank = query.value(0).toLongLong() + 1;
    query.finish();
    return rank;
}

Result<void> SqliteStore::advanceFairClock(const QHash<int, qint64> &highest)
{
    if (highest.isEmpty())
        return {};
    auto q = prepared(QStringLiteral("INSERT INTO fair_clock (priority, v) VALUES (?, ?) "
                                     "ON CONFLICT (priority) DO UPDATE SET v = max(v, excluded.v)"));
    if (!q)
        return q.error();
    QSqlQuery &query = **q;
    for (auto it = highest.cbegin(); it != highest.cend(); ++it) {
        query.bindValue(0, it.key());
        query.bindValue(1, it.value());
        if (!query.exec())
            return sqlError(query, QStringLiteral("advancing the fair-queuing clock"));
    }
    return {};
}

Result<QList<EnqueuedJob>> SqliteStore::enqueue(const QList<NewJob> &jobs, qint64 now)
{
    auto db = this->db();
    if (!db)
        return db.error();
    auto insert = prepared(QStringLiteral(
        "INSERT INTO jobs (user_id, session_id, type, payload, status, priority, fair_rank, "
        "max_attempts, run_at, timeout_ms, unique_key, created_at) "
        "VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?)"));
    if (!insert)
        return insert.error();
    auto duplicate = prepared(QStringLiteral(
        "SELECT id FROM jobs WHERE user_id = ? AND unique_key = ? "
        "AND status IN ('pending', 'running')"));
    if (!duplicate)
        return duplicate.error();

    SqlTransaction transaction(*db);
    if (auto begun = transaction.begin(); !begun)
        return begun.error();
    QList<EnqueuedJob> result;
    result.reserve(jobs.size());
    QHash<QPair<qint64, int>, qint64> ranks; // (user, priority) -> last rank given in this batch
    for (const NewJob &job : jobs) {
        if (!job.uniqueKey.isEmpty()) {
            QSqlQuery &dup = **duplicate;
            dup.bindValue(0, job.userId);
            dup.bindValue(1, job.uniqueKey);
            if (!dup.exec())
                return sqlError(dup, QStringLiteral("checking a unique key"));
            const bool found = dup.next();
            const qint64 existing = found ? dup.value(0).toLongLong() : 0;
            dup.finish();
            if (found) {
                result.append({existing, true});
                continue;
            }
        }
        const auto rankKey = qMakePair(job.userId, job.priority);
        qint64 rank = 0;
        if (auto it = ranks.find(rankKey); it != ranks.end()) {
            rank = ++*it;
        } else {
            auto next = nextFairRank(job.userId, job.priority);
            if (!next)
                return next.error();
            rank = *next;
            ranks.insert(rankKey, rank);
        }
        QSqlQuery &q = **insert;
        q.bindValue(0, job.userId);
        q.bindValue(1, nullIfEmpty(job.sessionId));
        q.bindValue(2, job.type);
        q.bindValue(3, job.payload.isEmpty() ? QStringLiteral("{}") : jsonText(job.payload));
        q.bindValue(4, job.priority);
        q.bindValue(5, rank);
        q.bindValue(6, job.maxAttempts);
        q.bindValue(7, job.runAt > 0 ? job.runAt : now);
        q.bindValue(8, job.timeoutMs);
        q.bindValue(9, nullIfEmpty(job.uniqueKey));
        q.bindValue(10, now);
        if (!q.exec())
            return sqlError(q, QStringLiteral("enqueueing a job"));
        result.append({q.lastInsertId().toLongLong(), false});
    }
    if (auto committed = transaction.commit(); !committed)
        return committed.error();
    return result;
}

Result<QList<ClaimedJob>> SqliteStore::settleAndClaim(const QList<SettledAttempt> &settled,
                                                      const ClaimRequest &request)
{
    if (settled.isEmpty() && request.limit <= 0)
        return QList<ClaimedJob>{};
    auto db = this->db();
    if (!db)
        return db.error();
    auto settle = prepared(QStringLiteral(
        "UPDATE jobs SET status = ?, result = ?, error = ?, run_at = ?, attempts = attempts - ?, "
        "finished_at = ?, lease_owner = NULL, lease_expires_at = NULL "
        "WHERE id = ? AND status = 'running' AND lease_token = ?"));
    if (!settle)
        return settle.error();
    auto history = prepared(QStringLiteral(
        "INSERT INTO job_attempts (job_id, lease_token, attempt, user_id, node, started_at, "
        "finished_at, outcome, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    if (!history)
        return history.error();
    auto claim = prepared(QStringLiteral(
        "UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_owner = ?, "
        "lease_expires_at = ?, lease_token = lease_token + 1, started_at = ?, "
        "cancel_requested = 0 "
        "WHERE id IN (SELECT id FROM jobs WHERE status = 'pending' AND run_at <= ? "
        "ORDER BY priority DESC, fair_rank, id LIMIT ?) "
        "RETURNING id, user_id, session_id, type, payload, priority, fair_rank, attempts, "
        "max_attempts, timeout_ms, lease_token, created_at"));
    if (!claim)
        return claim.error();

    SqlTransaction transaction(*db);
    if (auto begun = transaction.begin(); !begun)
        return begun.error();
    for (const SettledAttempt &s : settled) {
        QSqlQuery &q = **settle;
        const bool terminal = isTerminal(s.newStatus);
        q.bindValue(0, jobStatusName(s.newStatus));
        q.bindValue(1, jsonText(s.result));
        q.bindValue(2, nullIfEmpty(s.error));
        q.bindValue(3, terminal ? s.finishedAt : s.retryAt);
        q.bindValue(4, s.releaseAttempt ? 1 : 0);
        q.bindValue(5, terminal ? QVariant(s.finishedAt) : QVariant(QMetaType(QMetaType::LongLong)));
        q.bindValue(6, s.jobId);
        q.bindValue(7, s.leaseToken);
        if (!q.exec())
            return sqlError(q, QStringLiteral("finishing job %1").arg(s.jobId));
        if (q.numRowsAffected() != 1)
            continue; // fenced: the lease was lost (rescued elsewhere); the newer holder decides
        QSqlQuery &h = **history;
        h.bindValue(0, s.jobId);
        h.bindValue(1, s.leaseToken);
        h.bindValue(2, s.attempt);
        h.bindValue(3, s.userId);
        h.bindValue(4, request.node);
        h.bindValue(5, s.startedAt);
        h.bindValue(6, s.finishedAt);
        h.bindValue(7, s.outcome);
        h.bindValue(8, nullIfEmpty(s.error));
        if (!h.exec())
            return sqlError(h, QStringLiteral("recording an attempt of job %1").arg(s.jobId));
    }

    QList<ClaimedJob> claimed;
    if (request.limit > 0) {
        QSqlQuery &q = **claim;
        q.bindValue(0, request.node);
        q.bindValue(1, request.now + request.leaseMs);
        q.bindValue(2, request.now);
        q.bindValue(3, request.now);
        q.bindValue(4, request.limit);
        if (!q.exec())
            return sqlError(q, QStringLiteral("claiming jobs"));
        QHash<int, qint64> highestRank;
        while (q.next()) {
            ClaimedJob job;
            job.id = q.value(0).toLongLong();
            job.userId = q.value(1).toLongLong();
            job.sessionId = q.value(2).toString();
            job.type = q.value(3).toString();
            job.payload = jsonObject(q.value(4));
            job.priority = q.value(5).toInt();
            const qint64 rank = q.value(6).toLongLong();
            job.attempt = q.value(7).toInt();
            job.maxAttempts = q.value(8).toInt();
            job.timeoutMs = q.value(9).toLongLong();
            job.leaseToken = q.value(10).toLongLong();
            job.createdAt = q.value(11).toLongLong();
            job.startedAt = request.now;
            qint64 &highest = highestRank[job.priority];
            highest = qMax(highest, rank);
            claimed.append(std::move(job));
        }
        q.finish();
        if (auto advanced = advanceFairClock(highestRank); !advanced)
            return advanced.error();
    }
    if (auto committed = transaction.commit(); !committed)
        return committed.error();
    // RETURNING gives no order; start jobs in claim order.
    std::sort(claimed.begin(), claimed.end(), [](const ClaimedJob &a, const ClaimedJob &b) {
        return a.priority != b.priority ? a.priority > b.priority : a.id < b.id;
    });
    return claimed;
}

Result<int> SqliteStore::renewLeases(const QString &node, qint64 expiresAt)
{
    auto q = prepared(QStringLiteral("UPDATE jobs SET lease_expires_at = ? "
                                     "WHERE lease_owner = ? AND status = 'running'"));
    if (!q)
        return q.error();
    QSqlQuery &query = **q;
    query.bindValue(0, expiresAt);
    query.bindValue(1, node);
    if (!query.exec())
        return sqlError(query, QStringLiteral("renewing leases"));
    return query.numRowsAffected();
}

Result<QList<qint64>> SqliteStore::cancelRequested(const QString &node)
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

Result<void> SqliteStore::saveProgress(qint64 jobId, const QJsonObject &progress)
{
    auto q = prepared(
        QStringLiteral("UPDATE jobs SET progress = ? WHERE id = ? AND status = 'running'"));
    if (!q)
        return q.error();
    QSqlQuery &query = **q;
    query.bindValue(0, jsonText(progress));
    query.bindValue(1, jobId);
    if (!query.exec())
        return sqlError(query, QStringLiteral("saving progress of job %1").arg(jobId));
    return {};
}

Result<QList<RescuedJob>> SqliteStore::rescueLeases(RescueScope scope, const QString &node,
                                                    qint64 now)
{
    auto db = this->db();
    if (!db)
        return db.error();
    SqlTransaction transaction(*db);
    if (auto begun = transaction.begin(); !begun)
        return begun.error();
    QSqlQuery select(*db);
    // A node never rescues its own leases: it knows they are running and renews them.
    select.prepare(QStringLiteral("SELECT id, user_id, attempts, max_attempts, cancel_requested, "
                                  "lease_token, lease_owner, started_at FROM jobs "
                                  "WHERE status = 'running' AND (lease_owner IS NULL OR "
                                  "lease_owner <> ?) AND (? = 0 OR lease_expires_at < ?)"));
    select.addBindValue(node);
    select.addBindValue(scope == RescueScope::ExpiredLeases ? 1 : 0);
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
                     select.value(2).toInt(), select.value(3).toInt(), select.value(4).toBool(),
                     select.value(5).toLongLong(), select.value(6).toString(),
                     select.value(7).toLongLong()});
    }
    select.finish();

    const QString error = QStringLiteral("The worker running this attempt stopped (lease expired).");
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
        const JobStatus status = job.cancel                           ? JobStatus::Cancelled
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

} // namespace Ferry
