// PostgresStore: the job queue (jobs, job_attempts, fair_clock) and reading jobs.
#include "postgresstore.h"

#include "store/sqlhelpers.h"
#include "store/sqlitejobrows.h" // s_jobColumns and jobFrom: plain SQL, shared by both stores
#include "store/sqlvalues.h"

#include <QSqlQuery>

#include <algorithm>

namespace Ferry {

namespace {

QVariant nullableText(const QString &text)
{
    return text.isEmpty() ? QVariant(QMetaType(QMetaType::QString)) : QVariant(text);
}

QVariant nullableInt64(std::optional<qint64> value)
{
    return value ? QVariant(*value) : QVariant(QMetaType(QMetaType::LongLong));
}

// The claim. The CTE picks and locks the next rows once (MATERIALIZED: PostgreSQL may otherwise
// inline it and re-run it per row, locking more than LIMIT rows); SKIP LOCKED lets other nodes'
// claims pass over rows this one holds instead of waiting for them. Parameters: node, lease
// expiry, now, limit.
const QString s_claimNext = QStringLiteral(
    "WITH next AS MATERIALIZED ("
    "  SELECT id FROM jobs WHERE status = 'pending' AND run_at <= ? "
    "  ORDER BY priority DESC, fair_rank, id LIMIT ? FOR UPDATE SKIP LOCKED) "
    "UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_owner = ?, "
    "lease_expires_at = ?, lease_token = lease_token + 1, started_at = ?, cancel_requested = 0 "
    "FROM next WHERE jobs.id = next.id "
    "RETURNING jobs.id, user_id, session_id, type, payload, priority, fair_rank, attempts, "
    "max_attempts, timeout_ms, lease_token, created_at");

// The claim with a per-user cap: lock a few times the limit of candidates, then keep each user's
// first ones up to the cap minus what that user already runs. Row locks exclude window functions,
// so the ranking is a second step over the locked rows. The running counts are read without a
// lock: two nodes claiming at the same moment may together pass a user's cap by a little.
// Parameters: now, candidate limit, cap, limit, node, lease expiry, now.
const QString s_claimCapped = QStringLiteral(
    "WITH locked AS MATERIALIZED ("
    "  SELECT id, user_id, priority, fair_rank FROM jobs WHERE status = 'pending' AND run_at <= ? "
    "  ORDER BY priority DESC, fair_rank, id LIMIT ? FOR UPDATE SKIP LOCKED), "
    "running AS (SELECT user_id, count(*) AS n FROM jobs WHERE status = 'running' "
    "  AND user_id IN (SELECT user_id FROM locked) GROUP BY user_id), "
    "ranked AS (SELECT id, user_id, priority, fair_rank, row_number() OVER (PARTITION BY user_id "
    "  ORDER BY priority DESC, fair_rank, id) AS nth FROM locked), "
    "chosen AS (SELECT ranked.id FROM ranked LEFT JOIN running USING (user_id) "
    "  WHERE coalesce(running.n, 0) + ranked.nth <= ? "
    "  ORDER BY ranked.priority DESC, ranked.fair_rank, ranked.id LIMIT ?) "
    "UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_owner = ?, "
    "lease_expires_at = ?, lease_token = lease_token + 1, started_at = ?, cancel_requested = 0 "
    "FROM chosen WHERE jobs.id = chosen.id "
    "RETURNING jobs.id, user_id, session_id, type, payload, priority, fair_rank, attempts, "
    "max_attempts, timeout_ms, lease_token, created_at");

} // namespace

Result<qint64> PostgresStore::nextFairRank(QSqlDatabase &db, qint64 userId, int priority)
{
    QSqlQuery q(db);
    q.prepare(QStringLiteral(
        "SELECT greatest(coalesce((SELECT max(fair_rank) FROM jobs WHERE user_id = ? "
        "AND priority = ? AND status = 'pending'), 0), "
        "coalesce((SELECT v FROM fair_clock WHERE priority = ?), 0))"));
    q.addBindValue(userId);
    q.addBindValue(priority);
    q.addBindValue(priority);
    if (!q.exec() || !q.next())
        return sqlError(q, QStringLiteral("ranking a job"));
    return q.value(0).toLongLong() + 1;
}

Result<void> PostgresStore::advanceFairClock(QSqlDatabase &db, const QHash<int, qint64> &highest)
{
    QSqlQuery q(db);
    q.prepare(QStringLiteral("INSERT INTO fair_clock (priority, v) VALUES (?, ?) "
                             "ON CONFLICT (priority) DO UPDATE "
                             "SET v = greatest(fair_clock.v, excluded.v)"));
    for (auto it = highest.cbegin(); it != highest.cend(); ++it) {
        q.bindValue(0, it.key());
        q.bindValue(1, it.value());
        if (!q.exec())
            return sqlError(q, QStringLiteral("advancing the fair-queuing clock"));
    }
    return {};
}

Result<QList<EnqueuedJob>> PostgresStore::enqueue(const QList<NewJob> &jobs, qint64 now)
{
    auto db = this->db();
    if (!db)
        return db.error();
    SqlTransaction transaction(*db);
    if (auto begun = transaction.begin(); !begun)
        return begun.error();
    QSqlQuery insertSession(*db);
    insertSession.prepare(QStringLiteral(
        "INSERT INTO upload_sessions (id, user_id, file_name, content_type, size_bytes, sha256, "
        "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)"));
    // A unique key already pending or running (on any node) makes the insert a no-op; the
    // partial unique index jobs_unique_key is the arbiter, so concurrent enqueues cannot both win.
    QSqlQuery insert(*db);
    insert.prepare(QStringLiteral(
        "INSERT INTO jobs (user_id, session_id, type, payload, status, priority, fair_rank, "
        "max_attempts, run_at, timeout_ms, unique_key, created_at) "
        "VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (user_id, unique_key) WHERE unique_key IS NOT NULL "
        "AND status IN ('pending', 'running') DO NOTHING RETURNING id"));
    QSqlQuery duplicate(*db);
    duplicate.prepare(QStringLiteral("SELECT id FROM jobs WHERE user_id = ? AND unique_key = ? "
                                     "AND status IN ('pending', 'running')"));

    QList<EnqueuedJob> result;
    result.reserve(jobs.size());
    QHash<QPair<qint64, int>, qint64> ranks; // (user, priority) -> last rank given in this batch
    const QString emptyPayload = QStringLiteral("{}");
    for (const NewJob &job : jobs) {
        if (job.session) {
            const UploadSession &u = *job.session;
            insertSession.bindValue(0, u.id);
            insertSession.bindValue(1, u.userId);
            insertSession.bindValue(2, nullableText(u.fileName));
            insertSession.bindValue(3, nullableText(u.contentType));
            insertSession.bindValue(4, u.sizeBytes);
            insertSession.bindValue(5, nullableText(u.blobId));
            insertSession.bindValue(6, u.createdAt);
            if (!insertSession.exec())
                return sqlError(insertSession, QStringLiteral("opening an upload session"));
        }
        const auto rankKey = qMakePair(job.userId, job.priority);
        qint64 rank = 0;
        if (auto it = ranks.find(rankKey); it != ranks.end()) {
            rank = ++*it;
        } else {
            auto next = nextFairRank(*db, job.userId, job.priority);
            if (!next)
                return next.error();
            rank = *next;
            ranks.insert(rankKey, rank);
        }
        const QString sessionId = job.session ? job.session->id : job.sessionId;
        insert.bindValue(0, job.userId);
        insert.bindValue(1, nullableText(sessionId));
        insert.bindValue(2, job.type);
        insert.bindValue(3, job.payload.isEmpty() ? emptyPayload : jsonString(job.payload));
        insert.bindValue(4, job.priority);
        insert.bindValue(5, rank);
        insert.bindValue(6, job.maxAttempts);
        insert.bindValue(7, job.runAt > 0 ? job.runAt : now);
        insert.bindValue(8, job.timeoutMs);
        insert.bindValue(9, nullableText(job.uniqueKey));
        insert.bindValue(10, now);
        if (!insert.exec())
            return sqlError(insert, QStringLiteral("enqueueing a job"));
        if (insert.next()) {
            result.append({insert.value(0).toLongLong(), false});
            continue;
        }
        duplicate.bindValue(0, job.userId);
        duplicate.bindValue(1, job.uniqueKey);
        if (!duplicate.exec() || !duplicate.next())
            return sqlError(duplicate, QStringLiteral("checking a unique key"));
        result.append({duplicate.value(0).toLongLong(), true});
    }
    // Cluster: idle nodes listening on ferry_jobs wake at once (delivered on commit).
    if (QSqlQuery notify(*db); !notify.exec(QStringLiteral("SELECT pg_notify('ferry_jobs', '')")))
        return sqlError(notify, QStringLiteral("notifying other nodes"));
    if (auto committed = transaction.commit(); !committed)
        return committed.error();
    return result;
}

Result<QList<ClaimedJob>> PostgresStore::settleAndClaim(const QList<SettledAttempt> &settled,
                                                        const ClaimRequest &request)
{
    if (settled.isEmpty() && request.limit <= 0)
        return QList<ClaimedJob>{};
    auto db = this->db();
    if (!db)
        return db.error();
    SqlTransaction transaction(*db);
    if (auto begun = transaction.begin(); !begun)
        return begun.error();

    QSqlQuery settle(*db);
    settle.prepare(QStringLiteral(
        "UPDATE jobs SET status = ?, result = ?, error = ?, run_at = ?, attempts = attempts - ?, "
        "finished_at = ?, lease_owner = NULL, lease_expires_at = NULL, "
        "progress = coalesce(?, progress) WHERE id = ? AND status = 'running' AND lease_token = "
        "?"));
    QSqlQuery history(*db);
    history.prepare(QStringLiteral(
        "INSERT INTO job_attempts (job_id, lease_token, attempt, user_id, node, started_at, "
        "finished_at, outcome, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    for (const SettledAttempt &s : settled) {
        const bool terminal = isTerminal(s.newStatus);
        const QString progress = jsonString(s.progress);
        settle.bindValue(0, jobStatusName(s.newStatus));
        settle.bindValue(1, nullableText(jsonString(s.result)));
        settle.bindValue(2, nullableText(s.error));
        settle.bindValue(3, terminal ? s.finishedAt : s.retryAt);
        settle.bindValue(4, s.releaseAttempt ? 1 : 0);
        settle.bindValue(5, nullableInt64(terminal ? std::optional(s.finishedAt) : std::nullopt));
        settle.bindValue(6, nullableText(progress));
        settle.bindValue(7, s.jobId);
        settle.bindValue(8, s.leaseToken);
        if (!settle.exec())
            return sqlError(settle, QStringLiteral("finishing job %1").arg(s.jobId));
        if (settle.numRowsAffected() != 1)
            continue; // fenced: the lease was lost (rescued elsewhere); the holder decides
        if (s.outcome.isEmpty())
            continue; // handed back before it started: no attempt to record
        history.bindValue(0, s.jobId);
        history.bindValue(1, s.leaseToken);
        history.bindValue(2, s.attempt);
        history.bindValue(3, s.userId);
        history.bindValue(4, request.node);
        history.bindValue(5, s.startedAt);
        history.bindValue(6, s.finishedAt);
        history.bindValue(7, s.outcome);
        history.bindValue(8, nullableText(s.error));
        if (!history.exec())
            return sqlError(history, QStringLiteral("recording an attempt of job %1").arg(s.jobId));
    }

    QList<ClaimedJob> claimed;
    int limit = request.limit;
    if (limit > 0 && request.clusterMaxRunning > 0) { // global concurrency limit (cluster)
        auto allowed = clusterClaimAllowance(*db, request.clusterMaxRunning);
        if (!allowed)
            return allowed.error();
        limit = qMin(limit, *allowed);
    }
    if (limit > 0) {
        // Read the cap now, not when the request was built (see ClaimRequest::maxPerUserNow).
        const int maxPerUser = request.maxPerUserNow ? request.maxPerUserNow() : request.maxPerUser;
        const bool capped = maxPerUser > 0;
        QSqlQuery claim(*db);
        claim.prepare(capped ? s_claimCapped : s_claimNext);
        const qint64 expiresAt = request.now + request.leaseMs;
        if (capped) {
            claim.addBindValue(request.now);
            claim.addBindValue(qint64(limit) * 4);
            claim.addBindValue(maxPerUser);
            claim.addBindValue(limit);
        } else {
            claim.addBindValue(request.now);
            claim.addBindValue(limit);
        }
        claim.addBindValue(request.node);
        claim.addBindValue(expiresAt);
        claim.addBindValue(request.now);
        if (!claim.exec())
            return sqlError(claim, QStringLiteral("claiming jobs"));
        QHash<int, qint64> highestRank;
        while (claim.next()) {
            ClaimedJob job;
            job.id = claim.value(0).toLongLong();
            job.userId = claim.value(1).toLongLong();
            job.sessionId = claim.value(2).toString();
            job.type = claim.value(3).toString();
            job.payload = jsonObject(claim.value(4));
            job.priority = claim.value(5).toInt();
            const qint64 rank = claim.value(6).toLongLong();
            job.attempt = claim.value(7).toInt();
            job.maxAttempts = claim.value(8).toInt();
            job.timeoutMs = claim.value(9).toLongLong();
            job.leaseToken = claim.value(10).toLongLong();
            job.createdAt = claim.value(11).toLongLong();
            job.startedAt = request.now;
            qint64 &highest = highestRank[job.priority];
            highest = qMax(highest, rank);
            claimed.append(std::move(job));
        }
        if (auto advanced = advanceFairClock(*db, highestRank); !advanced)
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

Result<int> PostgresStore::renewLeases(const QString &node, qint64 expiresAt)
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

Result<QList<qint64>> PostgresStore::cancelRequested(const QString &node)
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

Result<void> PostgresStore::saveProgress(qint64 jobId, const QJsonObject &progress)
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

Result<std::optional<Job>> PostgresStore::job(qint64 jobId, std::optional<qint64> userId)
{
    auto q = prepared(QStringLiteral("SELECT ") + s_jobColumns +
                      QStringLiteral(" FROM jobs WHERE id = ?"));
    if (!q)
        return q.error();
    QSqlQuery &query = **q;
    query.bindValue(0, jobId);
    if (!query.exec())
        return sqlError(query, QStringLiteral("reading job %1").arg(jobId));
    std::optional<Job> result;
    if (query.next()) {
        Job job = jobFrom(query);
        if (!userId || job.userId == *userId)
            result = std::move(job);
    }
    query.finish();
    return result;
}

Result<QList<Job>> PostgresStore::jobs(const JobFilter &filter)
{
    auto db = this->db();
    if (!db)
        return db.error();
    QString sql =
        QStringLiteral("SELECT ") + s_jobColumns + QStringLiteral(" FROM jobs WHERE true");
    const qint64 cursor = filter.newestFirst ? filter.beforeId : filter.afterId;
    if (cursor > 0)
        sql += filter.newestFirst ? QStringLiteral(" AND id < ?") : QStringLiteral(" AND id > ?");
    if (filter.userId)
        sql += QStringLiteral(" AND user_id = ?");
    if (filter.status)
        sql += QStringLiteral(" AND status = ?");
    if (filter.dataset) {
        // SQLite reads the payload's dataset only where the payload is valid JSON; the payloads
        // this store writes always are (jsonString), so the cast cannot fail on them.
        sql += QStringLiteral(" AND payload::jsonb ->> 'dataset' = ?");
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

Result<QList<JobAttempt>> PostgresStore::attempts(qint64 jobId)
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

Result<QHash<JobStatus, qint64>> PostgresStore::countByStatus()
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

Result<qint64> PostgresStore::pendingJobCount()
{
    auto db = this->db();
    if (!db)
        return db.error();
    QSqlQuery q(*db);
    if (!q.exec(QStringLiteral("SELECT count(*) FROM jobs WHERE status = 'pending'")) || !q.next())
        return sqlError(q, QStringLiteral("counting pending jobs"));
    return q.value(0).toLongLong();
}

} // namespace Ferry
