// SqliteStore: the job queue's hot paths (jobs, job_attempts, fair_clock): enqueue,
// settle-and-claim and lease renewal, over SQLite's C API where it is faster, and the largest job
// id kept before jobs are deleted. The rest of the jobs' reads and changes are SqlStore's
// (sqljobqueries.cpp).
#include "sqlitestore.h"

#include "store/batchfairranks.h"
#include "store/sqlhelpers.h"
#include "store/sqlitejobids.h"
#include "store/sqlitenative.h"
#include "store/sqlvalues.h"

#include <QSqlQuery>

#include <sqlite3.h>

namespace Ferry {

Result<qint64> SqliteStore::nextFairRank(qint64 userId, int priority)
{
    auto native = NativeConnection::of(m_pool);
    if (!native)
        return native.error();
    auto prepared = (*native)->prepare(
        QStringLiteral("SELECT max(coalesce((SELECT max(fair_rank) FROM jobs WHERE user_id = ?1 "
                       "AND priority = ?2 AND status = 'pending'), 0), "
                       "coalesce((SELECT v FROM fair_clock WHERE priority = ?2), 0))"));
    if (!prepared)
        return prepared.error();
    NativeStatement q(*prepared);
    q.bind(1, userId).bind(2, qint64(priority));
    if (!q.step())
        return q.error(QStringLiteral("ranking a job"));
    return q.int64(0) + 1;
}

Result<void> SqliteStore::advanceFairClock(const QHash<int, qint64> &highest)
{
    if (highest.isEmpty())
        return {};
    auto native = NativeConnection::of(m_pool);
    if (!native)
        return native.error();
    auto prepared = (*native)->prepare(
        QStringLiteral("INSERT INTO fair_clock (priority, v) VALUES (?1, ?2) "
                       "ON CONFLICT (priority) DO UPDATE SET v = max(v, excluded.v)"));
    if (!prepared)
        return prepared.error();
    for (auto it = highest.cbegin(); it != highest.cend(); ++it) {
        NativeStatement q(*prepared);
        q.bind(1, qint64(it.key())).bind(2, it.value()).step();
        if (q.failed())
            return q.error(QStringLiteral("advancing the fair-queuing clock"));
    }
    return {};
}

Result<QList<EnqueuedJob>> SqliteStore::enqueue(const QList<NewJob> &jobs, qint64 now)
{
    // In-process writers queue here, not in SQLite's busy handler (see m_writeMutex).
    const std::lock_guard writer(m_writeMutex);
    auto native = NativeConnection::of(m_pool);
    if (!native)
        return native.error();
    NativeConnection &db = **native;
    auto insert = db.prepare(
        QStringLiteral("INSERT INTO jobs (id, user_id, session_id, type, payload, status, "
                       "priority, fair_rank, "
                       "max_attempts, run_at, timeout_ms, unique_key, created_at) VALUES (") +
        SqliteJobIds::nextId +
        QStringLiteral(", ?1, ?2, ?3, ?4, 'pending', ?5, ?6, ?7, ?8, ?9, ?10, ?11)"));
    if (!insert)
        return insert.error();
    auto insertSession = db.prepare(QStringLiteral(
        "INSERT INTO upload_sessions (id, user_id, file_name, content_type, size_bytes, sha256, "
        "created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
    if (!insertSession)
        return insertSession.error();
    auto duplicate =
        db.prepare(QStringLiteral("SELECT id FROM jobs WHERE user_id = ?1 AND unique_key = ?2 "
                                  "AND status IN ('pending', 'running')"));
    if (!duplicate)
        return duplicate.error();

    NativeTransaction transaction(db);
    if (auto begun = transaction.begin(); !begun)
        return begun.error();
    QList<EnqueuedJob> result;
    result.reserve(jobs.size());
    BatchFairRanks ranks(
        [this](qint64 userId, int priority) { return nextFairRank(userId, priority); });
    const QString emptyPayload = QStringLiteral("{}");
    for (const NewJob &job : jobs) {
        if (!job.uniqueKey.isEmpty()) {
            NativeStatement dup(*duplicate);
            dup.bind(1, job.userId).bind(2, job.uniqueKey);
            if (dup.step()) {
                result.append({dup.int64(0), true});
                continue;
            }
            if (dup.failed())
                return dup.error(QStringLiteral("checking a unique key"));
        }
        if (job.session) {
            const UploadSession &u = *job.session;
            NativeStatement q(*insertSession);
            q.bind(1, u.id)
                .bind(2, u.userId)
                .bind(3, u.fileName)
                .bind(4, u.contentType)
                .bind(5, u.sizeBytes)
                .bind(6, u.blobId)
                .bind(7, u.createdAt)
                .step();
            if (q.failed())
                return q.error(QStringLiteral("opening an upload session"));
        }
        auto rank = ranks.next(job.userId, job.priority);
        if (!rank)
            return rank.error();
        NativeStatement q(*insert);
        q.bind(1, job.userId)
            .bind(2, job.session               ? job.session->id
                     : job.sessionId.isEmpty() ? QString()
                                               : job.sessionId)
            .bind(3, job.type)
            .bind(4, job.payload.isEmpty() ? emptyPayload : jsonString(job.payload))
            .bind(5, qint64(job.priority))
            .bind(6, *rank)
            .bind(7, qint64(job.maxAttempts))
            .bind(8, job.runAt > 0 ? job.runAt : now)
            .bind(9, job.timeoutMs)
            .bind(10, job.uniqueKey.isEmpty() ? QString() : job.uniqueKey)
            .bind(11, now)
            .step();
        if (q.failed())
            return q.error(QStringLiteral("enqueueing a job"));
        result.append({sqlite3_last_insert_rowid(db.handle()), false});
        if (!job.completesTusUpload.isEmpty()) {
            if (auto marked = markTusComplete(db, job.completesTusUpload,
                                              job.session ? job.session->id : job.sessionId,
                                              result.last().id, now);
                !marked)
                return marked.error();
        }
    }
    if (auto committed = transaction.commit(); !committed)
        return committed.error();
    return result;
}

Result<QList<ClaimedJob>> SqliteStore::settleAndClaim(const QList<SettledAttempt> &settled,
                                                      const ClaimRequest &asked)
{
    // In-process writers queue here, not in SQLite's busy handler (see m_writeMutex).
    const std::lock_guard writer(m_writeMutex);
    // The per-user cap as it is now, under the write lock: a cap changed while this claim waited
    // for the lock applies to it (any job it can see was enqueued after the change).
    ClaimRequest request = asked;
    if (asked.maxPerUserNow)
        request.maxPerUser = asked.maxPerUserNow();
    if (settled.isEmpty() && request.limit <= 0)
        return QList<ClaimedJob>{};
    auto native = NativeConnection::of(m_pool);
    if (!native)
        return native.error();
    NativeConnection &db = **native;

    NativeTransaction transaction(db);
    if (auto begun = transaction.begin(); !begun)
        return begun.error();
    if (auto done = settleAttempts(db, settled, request.node); !done)
        return done.error();
    if (auto limit = claimLimitNow(db, request); !limit)
        return limit.error();
    else
        request.limit = *limit;
    QList<ClaimedJob> claimed;
    if (request.limit > 0) {
        auto taken = claimJobs(db, request);
        if (!taken)
            return taken.error();
        claimed = std::move(*taken);
    }
    if (auto committed = transaction.commit(); !committed)
        return committed.error();
    // RETURNING gives no order; start jobs in claim order.
    std::sort(claimed.begin(), claimed.end(), [](const ClaimedJob &a, const ClaimedJob &b) {
        return a.priority != b.priority ? a.priority > b.priority : a.id < b.id;
    });
    return claimed;
}

Result<void> SqliteStore::settleAttempts(NativeConnection &db,
                                         const QList<SettledAttempt> &settled,
                                         const QString &node)
{
    if (settled.isEmpty())
        return {};
    // A cancel request wins over every later settle that is not the handler's own verdict: an
    // attempt that times out, fails transiently, is released at shutdown or handed back while
    // paused would go back to pending (or dead on its last attempt) and run again; with
    // cancel_requested set it ends cancelled instead. Read under this statement's write lock,
    // so a cancel accepted before the settle is never missed (cancelJob takes the same lock).
    auto settle = db.prepare(QStringLiteral(
        "UPDATE jobs SET status = CASE WHEN cancel_requested = 1 AND ?1 IN ('pending', 'dead') "
        "THEN 'cancelled' ELSE ?1 END, result = ?2, "
        "error = CASE WHEN cancel_requested = 1 AND ?1 IN ('pending', 'dead') "
        "THEN 'Cancelled while running.' ELSE ?3 END, run_at = ?4, attempts = attempts - ?5, "
        "finished_at = CASE WHEN cancel_requested = 1 AND ?1 IN ('pending', 'dead') "
        "THEN ?10 ELSE ?6 END, lease_owner = NULL, lease_expires_at = NULL, "
        "progress = coalesce(?9, progress) "
        "WHERE id = ?7 AND status = 'running' AND lease_token = ?8"));
    if (!settle)
        return settle.error();
    auto history = db.prepare(QStringLiteral(
        "INSERT INTO job_attempts (job_id, lease_token, attempt, user_id, node, started_at, "
        "finished_at, outcome, error) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"));
    if (!history)
        return history.error();
    for (const SettledAttempt &s : settled) {
        const bool terminal = isTerminal(s.newStatus);
        {
            NativeStatement q(*settle);
            q.bind(1, jobStatusName(s.newStatus))
                .bind(2, jsonString(s.result))
                .bind(3, s.error.isEmpty() ? QString() : s.error)
                .bind(4, terminal ? s.finishedAt : s.retryAt)
                .bind(5, qint64(s.releaseAttempt ? 1 : 0))
                .bind(7, s.jobId)
                .bind(8, s.leaseToken)
                .bind(9, jsonString(s.progress))
                .bind(10, s.finishedAt);
            if (terminal)
                q.bind(6, s.finishedAt);
            else
                q.bindNull(6);
            q.step();
            if (q.failed())
                return q.error(QStringLiteral("finishing job %1").arg(s.jobId));
            if (q.changes() != 1)
                continue; // fenced: the lease was lost (rescued elsewhere); the holder decides
        }
        if (s.outcome.isEmpty())
            continue; // handed back before it started: no attempt to record
        NativeStatement h(*history);
        h.bind(1, s.jobId)
            .bind(2, s.leaseToken)
            .bind(3, qint64(s.attempt))
            .bind(4, s.userId)
            .bind(5, node)
            .bind(6, s.startedAt)
            .bind(7, s.finishedAt)
            .bind(8, s.outcome)
            .bind(9, s.error.isEmpty() ? QString() : s.error)
            .step();
        if (h.failed())
            return h.error(QStringLiteral("recording an attempt of job %1").arg(s.jobId));
    }
    return {};
}

Result<int> SqliteStore::claimLimitNow(NativeConnection &db, const ClaimRequest &request)
{
    if (request.limit <= 0)
        return request.limit;
    { // the persisted pause, as it is under this write lock
        auto paused = db.prepare(
            QStringLiteral("SELECT 1 FROM settings WHERE key = 'queue.paused' AND value = '1'"));
        if (!paused)
            return paused.error();
        NativeStatement q(*paused);
        if (q.step()) {
            if (request.claimPaused)
                request.claimPaused();
            return 0;
        }
        if (q.failed())
            return q.error(QStringLiteral("reading the queue's pause"));
    }
    if (request.clusterMaxRunning > 0) { // global concurrency limit
        auto allowed = clusterClaimAllowance(db, request.clusterMaxRunning);
        if (!allowed)
            return allowed.error();
        return qMin(request.limit, *allowed);
    }
    return request.limit;
}

Result<QList<ClaimedJob>> SqliteStore::claimJobs(NativeConnection &db, const ClaimRequest &request)
{
    // Per-user cap: with a cap the candidates are picked first (cappedClaimIds) and passed as a
    // JSON array in ?4; without one (the hot path) the claim is the one statement it always was.
    const bool capped = request.maxPerUser > 0;
    static const QString claimHead = QStringLiteral(
        "UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_owner = ?1, "
        "lease_expires_at = ?2, lease_token = lease_token + 1, started_at = ?3 ");
    static const QString claimTail = QStringLiteral(
        "RETURNING id, user_id, session_id, type, payload, priority, fair_rank, attempts, "
        "max_attempts, timeout_ms, lease_token, created_at");
    static const QString claimNext =
        claimHead +
        QStringLiteral("WHERE id IN (SELECT id FROM jobs WHERE status = 'pending' AND "
                       "run_at <= ?3 ORDER BY priority DESC, fair_rank, id LIMIT ?4) ") +
        claimTail;
    static const QString claimChosen =
        claimHead +
        QStringLiteral("WHERE status = 'pending' AND id IN (SELECT value FROM json_each(?4)) ") +
        claimTail;
    auto claim = db.prepare(capped ? claimChosen : claimNext);
    if (!claim)
        return claim.error();
    QString cappedIds;
    if (capped) {
        auto ids = cappedClaimIds(db, request);
        if (!ids)
            return ids.error();
        cappedIds = *ids;
    }
    QList<ClaimedJob> claimed;
    QHash<int, qint64> highestRank;
    NativeStatement q(*claim);
    q.bind(1, request.node).bind(2, request.now + request.leaseMs).bind(3, request.now);
    if (capped)
        q.bind(4, cappedIds);
    else
        q.bind(4, qint64(request.limit));
    while (q.step()) {
        ClaimedJob job;
        job.id = q.int64(0);
        job.userId = q.int64(1);
        job.sessionId = q.text(2);
        job.type = q.text(3);
        job.payload = jsonObject(q.text(4));
        job.priority = int(q.int64(5));
        const qint64 rank = q.int64(6);
        job.attempt = int(q.int64(7));
        job.maxAttempts = int(q.int64(8));
        job.timeoutMs = q.int64(9);
        job.leaseToken = q.int64(10);
        job.createdAt = q.int64(11);
        job.startedAt = request.now;
        qint64 &highest = highestRank[job.priority];
        highest = qMax(highest, rank);
        claimed.append(std::move(job));
    }
    if (q.failed())
        return q.error(QStringLiteral("claiming jobs"));
    if (auto advanced = advanceFairClock(highestRank); !advanced)
        return advanced.error();
    return claimed;
}

Result<QList<qint64>>
SqliteStore::renewLeases(const QString &node, const QList<HeldLease> &leases, qint64 expiresAt)
{
    if (leases.isEmpty())
        return QList<qint64>{};
    // In-process writers queue here, not in SQLite's busy handler (see m_writeMutex).
    const std::lock_guard writer(m_writeMutex);
    // The leases travel as one JSON array of [id, token] pairs; each is a primary-key lookup.
    QString pairs = QStringLiteral("[");
    for (const HeldLease &lease : leases) {
        if (pairs.size() > 1)
            pairs += u',';
        pairs +=
            u'[' + QString::number(lease.jobId) + u',' + QString::number(lease.leaseToken) + u']';
    }
    pairs += u']';
    auto q = prepared(QStringLiteral(
        "UPDATE jobs SET lease_expires_at = ? FROM (SELECT json_extract(value, '$[0]') AS id, "
        "json_extract(value, '$[1]') AS token FROM json_each(?)) AS held "
        "WHERE jobs.id = held.id AND jobs.lease_token = held.token AND lease_owner = ? "
        "AND status = 'running' RETURNING jobs.id"));
    if (!q)
        return q.error();
    QSqlQuery &query = **q;
    query.bindValue(0, expiresAt);
    query.bindValue(1, pairs);
    query.bindValue(2, node);
    if (!query.exec())
        return sqlError(query, QStringLiteral("renewing leases"));
    QList<qint64> held;
    while (query.next())
        held.append(query.value(0).toLongLong());
    query.finish();
    return held;
}

Result<void> SqliteStore::beforeDeletingJobs(QSqlDatabase &db)
{
    QSqlQuery q(db);
    if (!q.exec(SqliteJobIds::keepLastId))
        return sqlError(q, QStringLiteral("keeping the last job id"));
    return {};
}

} // namespace Ferry
