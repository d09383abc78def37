// PostgresStore: the job queue's hot paths (settle-and-claim, lease renewal; enqueue is in
// postgresenqueue.cpp) and what follows a cancel (NOTIFY ferry_cancel). The rest of the jobs'
// reads and changes are SqlStore's (sqljobqueries.cpp).
#include "postgresstore.h"

#include "store/postgresarrays.h"
#include "store/postgreserrors.h"
#include "store/sqlhelpers.h"
#include "store/sqlvalues.h"

#include <QSqlError>
#include <QSqlQuery>

#include <algorithm>
#include <climits>

namespace Ferry {

namespace {

// One dispatch cycle is ONE statement, so one round trip and its own transaction: settle the
// finished attempts, record them, claim the next jobs and advance the fair clock, as
// data-modifying CTEs. They share one snapshot: settling touches running rows and claiming
// pending ones, so they never meet; a job settled back to pending becomes claimable next cycle.
//
// Settling: each finished attempt's fields travel as PostgreSQL array literals, one array per
// column, and unnest() turns them back into rows. The settle is fenced by the lease token (a
// lease lost to a rescue elsewhere changes nothing); only attempts whose row changed and that
// started get a job_attempts row. A cancel request wins over a settle back to pending or to
// dead (timeout, transient error, shutdown release, hand-back while paused): the job ends
// cancelled. The UPDATE re-reads a row that a concurrent cancelJob (which locks it) changed, so
// a cancel committed before this settle is always seen. Parameters: the 14 arrays of
// SettleArrays in order, the node.
const QString s_settleCtes = QStringLiteral(
    "WITH s AS (SELECT * FROM unnest(?::bigint[], ?::bigint[], ?::text[], ?::text[], ?::text[], "
    "  ?::bigint[], ?::integer[], ?::bigint[], ?::text[], ?::integer[], ?::bigint[], "
    "  ?::bigint[], ?::bigint[], ?::text[]) AS s(id, token, status, result, error, run_at, "
    "  release, finished_at, progress, attempt, user_id, started_at, ended_at, outcome)), "
    "done AS (UPDATE jobs SET status = CASE WHEN jobs.cancel_requested = 1 AND s.status IN "
    "  ('pending', 'dead') THEN 'cancelled' ELSE s.status END, result = s.result, "
    "  error = CASE WHEN jobs.cancel_requested = 1 AND s.status IN ('pending', 'dead') "
    "  THEN 'Cancelled while running.' ELSE s.error END, run_at = s.run_at, "
    "  attempts = jobs.attempts - s.release, finished_at = CASE WHEN jobs.cancel_requested = 1 "
    "  AND s.status IN ('pending', 'dead') THEN s.ended_at ELSE s.finished_at END, "
    "  lease_owner = NULL, lease_expires_at = NULL, "
    "  progress = coalesce(s.progress, jobs.progress) "
    "  FROM s WHERE jobs.id = s.id AND jobs.status = 'running' AND jobs.lease_token = s.token "
    "  RETURNING jobs.id), "
    "history AS (INSERT INTO job_attempts (job_id, lease_token, attempt, user_id, node, "
    "  started_at, finished_at, outcome, error) SELECT s.id, s.token, s.attempt, s.user_id, "
    "  ?::text, s.started_at, s.ended_at, s.outcome, s.error FROM s JOIN done ON done.id = s.id "
    "  WHERE s.outcome <> ''), ");

// The claim. The CTE picks and locks the next rows once (MATERIALIZED: PostgreSQL may otherwise
// inline it and re-run it per row, locking more than LIMIT rows); SKIP LOCKED lets other nodes'
// claims pass over rows this one holds instead of waiting for them. Parameters: now, limit,
// node, lease expiry, now. The persisted pause (setting queue.paused, committed by any process
// before this statement's snapshot) claims nothing; PostgreSQL evaluates it once (an InitPlan).
const QString s_claimNextCtes = QStringLiteral(
    "next AS MATERIALIZED ("
    "  SELECT id FROM jobs WHERE status = 'pending' AND run_at <= ? AND NOT EXISTS (SELECT 1 "
    "  FROM settings WHERE key = 'queue.paused' AND value = '1') "
    "  ORDER BY priority DESC, fair_rank, id LIMIT ? FOR UPDATE SKIP LOCKED), "
    "claimed AS (UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_owner = ?, "
    "  lease_expires_at = ?, lease_token = lease_token + 1, started_at = ? "
    "  FROM next WHERE jobs.id = next.id "
    "  RETURNING jobs.id, user_id, session_id, type, payload, priority, fair_rank, attempts, "
    "  max_attempts, timeout_ms, lease_token, created_at), ");

// The fair clock moves to the highest rank claimed at each priority; the statement answers the
// claimed rows. Rows go in priority order: concurrent claims that touch the same priorities in
// different orders deadlocked on fair_clock's key (tst_sqlitestore_pg, 8 threads claiming).
const QString s_clockAndAnswer = QStringLiteral(
    "clock AS (INSERT INTO fair_clock (priority, v) SELECT priority, max(fair_rank) FROM claimed "
    "  GROUP BY priority ORDER BY priority ON CONFLICT (priority) DO UPDATE "
    "  SET v = greatest(fair_clock.v, excluded.v)) "
    "SELECT id, user_id, session_id, type, payload, priority, fair_rank, attempts, max_attempts, "
    "timeout_ms, lease_token, created_at FROM claimed");

const QString s_settleAndClaimNext = s_settleCtes + s_claimNextCtes + s_clockAndAnswer;

// The claim with a per-user cap takes the ids cappedClaimIds chose (in the same transaction, which
// holds their row locks). Parameters: node, lease expiry, now, ids ('{1,2,3}').
const QString s_claimChosen =
    QStringLiteral(
        "WITH claimed AS (UPDATE jobs SET status = 'running', attempts = attempts + 1, "
        "  lease_owner = ?, lease_expires_at = ?, lease_token = lease_token + 1, started_at = ? "
        "  WHERE status = 'pending' AND id = ANY(?::bigint[]) "
        "  RETURNING jobs.id, user_id, session_id, type, payload, priority, fair_rank, attempts, "
        "  max_attempts, timeout_ms, lease_token, created_at), ") +
    s_clockAndAnswer;

// The per-user cap, as SqliteStore::cappedClaimIds does it, inside the claim's transaction:
// count each user's running jobs, then lock the ready jobs in claim order a page at a time
// (FOR UPDATE SKIP LOCKED: rows other nodes are claiming are passed over), leaving out users at
// the cap and the rows already seen, taking each row whose user is still below the cap. A user
// at the cap with many jobs at the head of the queue so never hides the users behind them (a
// fixed window of 4x the limit did: 300 of one user's jobs hid another user's one,
// tst_maxperuser_pg). The running counts are read without a lock: two nodes claiming at the same
// moment may together pass a user's cap by a little.
Result<QList<qint64>> cappedClaimIds(QSqlDatabase &db, const ClaimRequest &request, int cap)
{
    QHash<qint64, int> perUser;
    QSqlQuery running(db);
    if (!running.exec(QStringLiteral(
            "SELECT user_id, count(*) FROM jobs WHERE status = 'running' GROUP BY user_id")))
        return sqlError(running, QStringLiteral("counting running jobs per user"));
    while (running.next())
        perUser.insert(running.value(0).toLongLong(), running.value(1).toInt());

    QSqlQuery page(db);
    page.prepare(
        QStringLiteral("SELECT id, user_id FROM jobs WHERE status = 'pending' AND run_at <= ? "
                       "AND NOT (user_id = ANY(?::bigint[])) AND NOT (id = ANY(?::bigint[])) "
                       "ORDER BY priority DESC, fair_rank, id LIMIT ? FOR UPDATE SKIP LOCKED"));
    QList<qint64> taken;
    QList<qint64> seen;
    while (taken.size() < request.limit) {
        QList<qint64> full;
        for (auto it = perUser.cbegin(); it != perUser.cend(); ++it) {
            if (it.value() >= cap)
                full.append(it.key());
        }
        const qint64 pageSize = request.limit - taken.size();
        page.bindValue(0, request.now);
        page.bindValue(1, bigintArray(full));
        page.bindValue(2, bigintArray(seen));
        page.bindValue(3, pageSize);
        if (!page.exec())
            return sqlError(page, QStringLiteral("choosing jobs under the per-user cap"));
        qint64 rows = 0;
        while (page.next()) {
            ++rows;
            const qint64 id = page.value(0).toLongLong();
            seen.append(id);
            int &count = perUser[page.value(1).toLongLong()];
            if (count < cap) {
                ++count;
                taken.append(id);
            }
        }
        if (rows < pageSize)
            break; // every ready job of a user below the cap was seen
    }
    return taken;
}

ClaimedJob claimedFrom(const QSqlQuery &q, qint64 now)
{
    ClaimedJob job;
    job.id = q.value(0).toLongLong();
    job.userId = q.value(1).toLongLong();
    job.sessionId = q.value(2).toString();
    job.type = q.value(3).toString();
    job.payload = jsonObject(q.value(4));
    job.priority = q.value(5).toInt();
    job.attempt = q.value(7).toInt();
    job.maxAttempts = q.value(8).toInt();
    job.timeoutMs = q.value(9).toLongLong();
    job.leaseToken = q.value(10).toLongLong();
    job.createdAt = q.value(11).toLongLong();
    job.startedAt = now;
    return job;
}

void sortInClaimOrder(QList<ClaimedJob> &claimed)
{
    // RETURNING gives no order; start jobs in claim order.
    std::sort(claimed.begin(), claimed.end(), [](const ClaimedJob &a, const ClaimedJob &b) {
        return a.priority != b.priority ? a.priority > b.priority : a.id < b.id;
    });
}

struct SettleArrays
{
    NumberArray id, token, runAt, release, finishedAt, attempt, userId, startedAt, endedAt;
    TextArray status, result, error, progress, outcome;

    void add(const SettledAttempt &s)
    {
        const bool terminal = isTerminal(s.newStatus);
        id.add(s.jobId);
        token.add(s.leaseToken);
        status.add(jobStatusName(s.newStatus));
        result.add(jsonString(s.result));
        error.add(s.error.isEmpty() ? QString() : s.error);
        runAt.add(terminal ? s.finishedAt : s.retryAt);
        release.add(s.releaseAttempt ? 1 : 0);
        finishedAt.add(terminal ? std::optional(s.finishedAt) : std::nullopt);
        progress.add(jsonString(s.progress));
        attempt.add(s.attempt);
        userId.add(s.userId);
        startedAt.add(s.startedAt);
        endedAt.add(s.finishedAt);
        outcome.add(s.outcome.isNull() ? QStringLiteral("") : s.outcome);
    }

    // Binds the arrays and the node from position 0; answers the next position.
    int bind(QSqlQuery &q, const QString &node) const
    {
        const QString values[] = {
            id.text(),     token.text(),     status.text(),     result.text(),   error.text(),
            runAt.text(),  release.text(),   finishedAt.text(), progress.text(), attempt.text(),
            userId.text(), startedAt.text(), endedAt.text(),    outcome.text()};
        int i = 0;
        for (const QString &value : values)
            q.bindValue(i++, value);
        q.bindValue(i++, node);
        return i;
    }
};

} // namespace

// The hot statements below are prepared once per thread and connection (ConnectionPool::
// statement): a fresh QSqlQuery costs QPSQL a PREPARE and a DEALLOCATE round trip each time.
Result<QList<ClaimedJob>> PostgresStore::settleAndClaim(const QList<SettledAttempt> &settled,
                                                        const ClaimRequest &request)
{
    if (settled.isEmpty() && request.limit <= 0)
        return QList<ClaimedJob>{};
    const int limit = qMax(0, request.limit);
    // Read the cap now, not when the request was built (see ClaimRequest::maxPerUserNow).
    const int maxPerUser =
        limit == 0 ? 0 : (request.maxPerUserNow ? request.maxPerUserNow() : request.maxPerUser);
    if (maxPerUser > 0 || (limit > 0 && request.clusterMaxRunning > 0)) {
        // With a cap (per user, or the cluster's --cluster-max-running): settle in one
        // statement (limit 0), then claim in a transaction of its own that pages through the
        // queue (cappedClaimIds). The caps are off the hot path.
        if (!settled.isEmpty()) {
            ClaimRequest settleOnly = request;
            settleOnly.limit = 0;
            if (auto done = settleAndClaim(settled, settleOnly); !done)
                return done.error();
        }
        return claimUnderCap(request, maxPerUser > 0 ? maxPerUser : INT_MAX);
    }
    auto statement = prepared(s_settleAndClaimNext);
    if (!statement)
        return statement.error();
    QSqlQuery &q = **statement;
    SettleArrays arrays;
    for (const SettledAttempt &s : settled)
        arrays.add(s);
    int next = arrays.bind(q, request.node);
    const qint64 expiresAt = request.now + request.leaseMs;
    q.bindValue(next++, request.now);
    q.bindValue(next++, limit);
    q.bindValue(next++, request.node);
    q.bindValue(next++, expiresAt);
    q.bindValue(next++, request.now);
    // The statement is its own transaction. Concurrent cycles can deadlock: a claim's FOR UPDATE
    // SKIP LOCKED may lock a row another node claimed after this statement's snapshot (the
    // recheck drops the row but keeps the lock), and that node's settle of it in its next cycle
    // waits for this one (tst_sqlitestore_pg, 8 threads). PostgreSQL rolled the whole cycle back,
    // so it is simply run again, a few times.
    bool ran = q.exec();
    for (int retry = 0;
         !ran && retry < 5 && isRetryablePostgresState(q.lastError().nativeErrorCode()); ++retry)
        ran = q.exec();
    if (!ran) {
        return sqlError(
            q, settled.isEmpty()
                   ? QStringLiteral("claiming jobs")
                   : QStringLiteral("finishing %1 jobs and claiming the next").arg(settled.size()));
    }
    QList<ClaimedJob> claimed;
    while (q.next())
        claimed.append(claimedFrom(q, request.now));
    q.finish();
    sortInClaimOrder(claimed);
    return claimed;
}

Result<QList<ClaimedJob>> PostgresStore::claimUnderCap(const ClaimRequest &request, int cap)
{
    auto db = this->db();
    if (!db)
        return db.error();
    SqlTransaction transaction(*db);
    if (auto begun = transaction.begin(); !begun)
        return begun.error();
    ClaimRequest bounded = request;
    {
        // The persisted pause (see s_claimNextCtes), read in this claim's transaction.
        QSqlQuery paused(*db);
        if (!paused.exec(QStringLiteral(
                "SELECT 1 FROM settings WHERE key = 'queue.paused' AND value = '1'")))
            return sqlError(paused, QStringLiteral("reading the queue's pause"));
        if (paused.next())
            return QList<ClaimedJob>{}; // the transaction rolls back: nothing was written
    }
    if (request.clusterMaxRunning > 0) { // global concurrency limit (cluster)
        auto allowed = clusterClaimAllowance(*db, request.clusterMaxRunning);
        if (!allowed)
            return allowed.error();
        bounded.limit = qMin(request.limit, *allowed);
        if (bounded.limit <= 0)
            return QList<ClaimedJob>{}; // the transaction rolls back: nothing was written
    }
    auto ids = cappedClaimIds(*db, bounded, cap);
    if (!ids)
        return ids.error();
    QList<ClaimedJob> claimed;
    if (!ids->isEmpty()) {
        auto statement = prepared(s_claimChosen);
        if (!statement)
            return statement.error();
        QSqlQuery &q = **statement;
        q.bindValue(0, request.node);
        q.bindValue(1, request.now + request.leaseMs);
        q.bindValue(2, request.now);
        q.bindValue(3, bigintArray(*ids));
        if (!q.exec())
            return sqlError(q, QStringLiteral("claiming jobs"));
        while (q.next())
            claimed.append(claimedFrom(q, request.now));
        q.finish();
    }
    if (auto committed = transaction.commit(); !committed)
        return committed.error();
    sortInClaimOrder(claimed);
    return claimed;
}

Result<QList<qint64>>
PostgresStore::renewLeases(const QString &node, const QList<HeldLease> &leases, qint64 expiresAt)
{
    if (leases.isEmpty())
        return QList<qint64>{};
    QList<qint64> ids, tokens;
    ids.reserve(leases.size());
    tokens.reserve(leases.size());
    for (const HeldLease &lease : leases) {
        ids.append(lease.jobId);
        tokens.append(lease.leaseToken);
    }
    auto q = prepared(QStringLiteral(
        "UPDATE jobs SET lease_expires_at = ? FROM unnest(?::bigint[], ?::bigint[]) "
        "AS held(id, token) WHERE jobs.id = held.id AND jobs.lease_token = held.token "
        "AND jobs.lease_owner = ? AND jobs.status = 'running' RETURNING jobs.id"));
    if (!q)
        return q.error();
    QSqlQuery &query = **q;
    query.bindValue(0, expiresAt);
    query.bindValue(1, bigintArray(ids));
    query.bindValue(2, bigintArray(tokens));
    query.bindValue(3, node);
    if (!query.exec())
        return sqlError(query, QStringLiteral("renewing leases"));
    QList<qint64> held;
    while (query.next())
        held.append(query.value(0).toLongLong());
    query.finish();
    return held;
}

Result<void> PostgresStore::cancelRequestedOf(QSqlDatabase &db, const QList<qint64> &jobIds)
{
    // Cluster: the nodes running them hear ferry_cancel at commit and stop them at once.
    if (jobIds.isEmpty())
        return {};
    QSqlQuery notify(db);
    notify.prepare(QStringLiteral("SELECT pg_notify('ferry_cancel', id::text) "
                                  "FROM unnest(?::bigint[]) AS id"));
    notify.addBindValue(bigintArray(jobIds));
    if (!notify.exec())
        return sqlError(notify, QStringLiteral("notifying the nodes running them"));
    return {};
}

} // namespace Ferry
