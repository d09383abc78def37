// PostgresStore: the job queue's hot paths (settle-and-claim, lease renewal; enqueue is in
// postgresenqueue.cpp) and what follows a cancel (NOTIFY ferry_cancel). The rest of the jobs'
// reads and changes are SqlStore's (sqljobqueries.cpp).
#include "postgresstore.h"

#include "store/postgresarrays.h"
#include "store/postgreserrors.h"
#include "store/sqlhelpers.h"
#include "store/sqlvalues.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QScopeGuard>
#include <QSet>
#include <QSqlDriver>
#include <QSqlError>
#include <QSqlField>
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
// Deadlock-free by construction (issue 17): the cycle never waits for a job row. Both its
// settle and its claim lock job rows with SKIP LOCKED; the only rows it waits for are
// fair_clock's, taken last and in priority order, and whoever holds those is another cycle that
// waits for nothing else. Before, the settle's UPDATE waited for rows: a claim's FOR UPDATE SKIP
// LOCKED may lock a row another node claimed after the claim's snapshot (the recheck drops the
// row but keeps the lock until commit); that node's settle of the row then waited for this
// cycle, while this cycle's settle waited for a row the other's claim held the same way, and
// PostgreSQL broke the cycle after deadlock_timeout (1 s). Now an attempt whose row is locked
// by someone else is `deferred`: the statement answers its id, and settleDeferred writes it at
// once in a statement of its own that waits for the row (it holds no fair_clock row, and every
// statement that waits for several job rows locks them in id order, so no waits form a circle).
//
// Settling: each finished attempt's fields travel as PostgreSQL array literals, one array per
// column, and unnest() turns them back into rows. The settle is fenced by the lease token (a
// lease lost to a rescue elsewhere changes nothing); only attempts whose row changed and that
// started get a job_attempts row. A cancel request wins over a settle back to pending or to
// dead (timeout, transient error, shutdown release, hand-back while paused): the job ends
// cancelled. The row is locked (`mine`) before the UPDATE reads cancel_requested, so a cancel
// committed before the lock (cancelJob locks the row too) is always seen. Parameters: the 14
// arrays of SettleArrays in order, the node.
//
// Plans that stay linear when the statistics are stale. After a large enqueue, ANALYZE counts
// no running job, so PostgreSQL takes the partial index of running jobs (jobs_leases) for
// empty, and it chose to scan it as the outer side of a nested loop that read all of `s` again
// for every running job: 2,000 finished attempts against 2,000 running jobs took 1.1 s instead
// of 30 ms, and the other lane's cycles shrank to 15 jobs meanwhile (bench/queue --db, one
// round in ten at 5-12k jobs/s). So the settle never filters jobs on `status = 'running'` in a
// form that index answers (`status || ''` is the same test, which PostgreSQL can neither match
// to the index nor estimate from the stale statistics), `mine` carries the attempts' fields so
// that the UPDATE joins only it, by primary key, and the UPDATE answers what the history needs
// instead of joining `s` again. The rows `mine` locked cannot change before the UPDATE: their
// lease token and status were checked on the version it locked.
QString settleCtes(bool skipLocked)
{
    return QStringLiteral(
               "WITH s AS (SELECT * FROM unnest(?::bigint[], ?::bigint[], ?::text[], ?::text[], "
               "  ?::text[], ?::bigint[], ?::integer[], ?::bigint[], ?::text[], ?::integer[], "
               "  ?::bigint[], ?::bigint[], ?::bigint[], ?::text[]) AS s(id, token, status, "
               "  result, error, run_at, release, finished_at, progress, attempt, user_id, "
               "  started_at, ended_at, outcome) CROSS JOIN (SELECT ?::text AS node) AS n), "
               "mine AS MATERIALIZED (SELECT s.* FROM jobs JOIN s ON jobs.id = s.id "
               "  AND jobs.lease_token = s.token WHERE jobs.status || '' = 'running' "
               "  ORDER BY jobs.id FOR NO KEY UPDATE OF jobs") +
           (skipLocked ? QStringLiteral(" SKIP LOCKED), ") : QStringLiteral("), ")) +
           QStringLiteral(
               "done AS (UPDATE jobs SET status = CASE WHEN jobs.cancel_requested = 1 AND "
               "  m.status IN ('pending', 'dead') THEN 'cancelled' ELSE m.status END, "
               "  result = m.result, error = CASE WHEN jobs.cancel_requested = 1 AND m.status IN "
               "  ('pending', 'dead') THEN 'Cancelled while running.' ELSE m.error END, "
               "  run_at = m.run_at, attempts = jobs.attempts - m.release, "
               "  finished_at = CASE WHEN jobs.cancel_requested = 1 AND m.status IN "
               "  ('pending', 'dead') THEN m.ended_at ELSE m.finished_at END, "
               "  lease_owner = NULL, lease_expires_at = NULL, "
               "  progress = coalesce(m.progress, jobs.progress) "
               "  FROM mine AS m WHERE jobs.id = m.id RETURNING jobs.id, m.token, m.attempt, "
               "  m.user_id, m.node, m.started_at, m.ended_at, m.outcome, m.error)");
}

// The settled attempts' history. Nothing reads it (nor `done`, which it runs), so PostgreSQL
// runs both after the statement's answer, in the reverse of their order in the WITH list: it
// comes after `clock` in the dispatch cycle, so that the cycle's UPDATE of the finished rows
// runs before the fair clock's row is locked, not while it is held.
const QString s_historyCte = QStringLiteral(
    "history AS (INSERT INTO job_attempts (job_id, lease_token, attempt, user_id, node, "
    "  started_at, finished_at, outcome, error) SELECT id, token, attempt, user_id, node, "
    "  started_at, ended_at, outcome, error FROM done WHERE outcome <> '')");

// The attempts the settle passed over: their row still runs under their token (as of the
// snapshot) but another transaction held its lock. Usually none: the hashed NOT IN is checked
// first, so the cycle reads no job row twice.
const QString s_deferredCte = QStringLiteral(
    ", deferred AS (SELECT s.id FROM s WHERE s.id NOT IN (SELECT id FROM mine) AND EXISTS ("
    "  SELECT 1 FROM jobs WHERE jobs.id = s.id AND jobs.lease_token = s.token "
    "  AND jobs.status || '' = 'running')), ");

// The claim. The CTE picks and locks the next rows once (MATERIALIZED: PostgreSQL may otherwise
// inline it and re-run it per row, locking more than LIMIT rows); SKIP LOCKED lets other nodes'
// claims pass over rows this one holds instead of waiting for them. Parameters: now, limit,
// node, lease expiry, now. The persisted pause (setting queue.paused, committed by any process
// before this statement's snapshot) claims nothing; PostgreSQL evaluates it once (an InitPlan).
// The UPDATE finds the chosen rows by primary key through an array (an InitPlan), not by a join
// with `next`: once PostgreSQL caches a generic plan for the prepared statement, it guesses the
// LIMIT at a tenth of the ready rows its statistics last counted, and the join became a hash of a
// sequential scan of jobs, every cycle (38 ms a claim at 100,000 jobs, one bench round in ten).
const QString s_claimNextCtes = QStringLiteral(
    "next AS MATERIALIZED ("
    "  SELECT id FROM jobs WHERE status = 'pending' AND run_at <= ? AND NOT EXISTS (SELECT 1 "
    "  FROM settings WHERE key = 'queue.paused' AND value = '1') "
    "  ORDER BY priority DESC, fair_rank, id LIMIT ? FOR UPDATE SKIP LOCKED), "
    "claimed AS (UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_owner = ?, "
    "  lease_expires_at = ?, lease_token = lease_token + 1, started_at = ? "
    "  WHERE jobs.id = ANY(ARRAY(SELECT id FROM next)) "
    "  RETURNING jobs.id, user_id, session_id, type, payload, priority, fair_rank, attempts, "
    "  max_attempts, timeout_ms, lease_token, created_at), ");

// The fair clock moves to the highest rank claimed at each priority; the statement answers the
// claimed rows, each with `deferred` false. Each server process advances its own slot of the
// clock (migration 0022; the clock is the highest slot): with one row per priority, a lane's
// claim waited at its end for the other lane's commit. Rows go in priority order: concurrent
// claims that touch the same priorities of one slot in different orders deadlocked on
// fair_clock's key (tst_sqlitestore_pg, 8 threads claiming).
const QString s_clockCte =
    QStringLiteral("clock AS (INSERT INTO fair_clock (priority, slot, v) SELECT priority, "
                   "  pg_backend_pid() % 64, max(fair_rank) FROM claimed "
                   "  GROUP BY priority ORDER BY priority ON CONFLICT (priority, slot) DO UPDATE "
                   "  SET v = greatest(fair_clock.v, excluded.v))");
const QString s_answerClaimed =
    QStringLiteral(" SELECT id, user_id, session_id, type, payload, priority, fair_rank, attempts, "
                   "max_attempts, timeout_ms, lease_token, created_at, false FROM claimed");

// ... and the deferred attempts' ids, flagged true.
const QString s_answerDeferred =
    QStringLiteral(" UNION ALL SELECT id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "
                   "NULL, NULL, true FROM deferred");

const QString s_settleAndClaimNext = settleCtes(true) + s_deferredCte + s_claimNextCtes +
                                     s_clockCte + QStringLiteral(", ") + s_historyCte +
                                     s_answerClaimed + s_answerDeferred;

// settleDeferred's statement: the same settle, waiting for the rows' locks (in id order).
const QString s_settleWaiting = settleCtes(false) + QStringLiteral(", ") + s_historyCte +
                                QStringLiteral(" SELECT count(*) FROM done");

// The claim with a per-user cap takes the ids cappedClaimIds chose (in the same transaction, which
// holds their row locks). Parameters: node, lease expiry, now, ids ('{1,2,3}').
const QString s_claimChosen =
    QStringLiteral(
        "WITH claimed AS (UPDATE jobs SET status = 'running', attempts = attempts + 1, "
        "  lease_owner = ?, lease_expires_at = ?, lease_token = lease_token + 1, started_at = ? "
        "  WHERE status = 'pending' AND id = ANY(?::bigint[]) "
        "  RETURNING jobs.id, user_id, session_id, type, payload, priority, fair_rank, attempts, "
        "  max_attempts, timeout_ms, lease_token, created_at), ") +
    s_clockCte + s_answerClaimed;

// The per-user cap, as SqliteStore::cappedClaimIds does it, inside the claim's transaction:
// count each user's running jobs, then lock the ready jobs in claim order a page at a time
// (FOR UPDATE SKIP LOCKED: rows other nodes are claiming are passed over), leaving out users at
// the cap and the rows already seen, taking each row whose user is still below the cap. A user
// at the cap with many jobs at the head of the queue so never hides the users behind them (a
// fixed window of 4x the limit did: 300 of one user's jobs hid another user's one,
// tst_maxperuser_pg). The running counts are read under claimUnderCap's lock (lockCappedClaims),
// so claims on several nodes never pass a user's cap together (tst_clusterdispatch).
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

    static SettleArrays of(const QList<SettledAttempt> &settled)
    {
        SettleArrays arrays;
        for (const SettledAttempt &s : settled)
            arrays.add(s);
        return arrays;
    }

    // The settle's parameters in order: the arrays, then the node.
    QVariantList values(const QString &node) const
    {
        return {id.text(),       token.text(),   status.text(),  result.text(),
                error.text(),    runAt.text(),   release.text(), finishedAt.text(),
                progress.text(), attempt.text(), userId.text(),  startedAt.text(),
                endedAt.text(),  outcome.text(), QVariant(node)};
    }
};

// s_settleAndClaimNext's parameters: the settle's, then the claim's.
QVariantList
cycleValues(const QList<SettledAttempt> &settled, const ClaimRequest &request, int limit)
{
    QVariantList values = SettleArrays::of(settled).values(request.node);
    values << request.now << limit << request.node << request.now + request.leaseMs << request.now;
    return values;
}

void bindAll(QSqlQuery &q, const QVariantList &values)
{
    for (int i = 0; i < values.size(); ++i)
        q.bindValue(i, values.at(i));
}

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
    // Under --cluster-max-running, attempts that end free slots other nodes may be waiting for.
    const bool freesSlots = request.clusterMaxRunning > 0 && !settled.isEmpty();
    if (maxPerUser > 0 || (limit > 0 && request.clusterMaxRunning > 0) || freesSlots) {
        // With a cap (per user, or the cluster's --cluster-max-running): settle in one
        // statement (limit 0), then claim in a transaction of its own that pages through the
        // queue (cappedClaimIds). The caps are off the hot path.
        if (!settled.isEmpty()) {
            ClaimRequest settleOnly = request;
            settleOnly.limit = 0;
            settleOnly.clusterMaxRunning = 0;
            if (auto done = settleAndClaim(settled, settleOnly); !done)
                return done.error();
        }
        if (freesSlots) {
            // A node held back by the limit claims at once, not at its next poll (issue 17).
            // Only while the limit is set: a NOTIFY serializes commits on the server.
            auto db = this->db();
            if (!db)
                return db.error();
            if (QSqlQuery notify(*db);
                !notify.exec(QStringLiteral("SELECT pg_notify('ferry_slots', '')")))
                return sqlError(notify, QStringLiteral("telling other nodes of free slots"));
        }
        if (limit == 0)
            return QList<ClaimedJob>{};
        return claimUnderCap(request, maxPerUser > 0 ? maxPerUser : INT_MAX);
    }
    auto statement = prepared(s_settleAndClaimNext);
    if (!statement)
        return statement.error();
    QSqlQuery &q = **statement;
    bindAll(q, cycleValues(settled, request, limit));
    // The statement is its own transaction and cannot deadlock (above); a deadlock or a
    // serialization failure all the same would have rolled it back whole, so it is run again,
    // a few times, and both are counted (/metrics: ferry_dispatch_deadlocks_total,
    // ferry_dispatch_reruns_total), so "cannot" stays checked in production.
    if (!execCounted(q)) {
        return sqlError(
            q, settled.isEmpty()
                   ? QStringLiteral("claiming jobs")
                   : QStringLiteral("finishing %1 jobs and claiming the next").arg(settled.size()));
    }
    QList<ClaimedJob> claimed;
    QSet<qint64> deferred;
    while (q.next()) {
        if (q.value(12).toBool())
            deferred.insert(q.value(0).toLongLong());
        else
            claimed.append(claimedFrom(q, request.now));
    }
    q.finish();
    if (!deferred.isEmpty()) {
        QList<SettledAttempt> waiting;
        for (const SettledAttempt &s : settled) {
            if (deferred.contains(s.jobId))
                waiting.append(s);
        }
        if (auto written = settleDeferred(waiting, request.node); !written)
            return written.error(); // the claimed jobs' leases expire; another cycle rescues them
    }
    sortInClaimOrder(claimed);
    return claimed;
}

Result<void> PostgresStore::settleDeferred(const QList<SettledAttempt> &settled,
                                           const QString &node)
{
    // The rows were locked a moment ago by a claim passing over them (its lock ends with its
    // statement), a cancel, or a rescue: waiting for them here holds no other lock anyone waits
    // for but in id order.
    m_deferredSettles.fetch_add(settled.size(), std::memory_order_relaxed);
    auto statement = prepared(s_settleWaiting);
    if (!statement)
        return statement.error();
    QSqlQuery &q = **statement;
    bindAll(q, SettleArrays::of(settled).values(node));
    if (!execCounted(q))
        return sqlError(q, QStringLiteral("finishing %1 jobs").arg(settled.size()));
    q.finish();
    return {};
}

Result<QJsonArray> PostgresStore::explainSettleAndClaim(const QList<SettledAttempt> &settled,
                                                        const ClaimRequest &request)
{
    auto db = this->db();
    if (!db)
        return db.error();
    // EXPLAIN cannot be prepared, so the statement is prepared under a name of ours and
    // EXPLAIN runs EXECUTE on it, with the values formatted by the driver as QPSQL formats
    // them for its own EXECUTE.
    QString numbered;
    int placeholder = 0;
    for (const QChar c : s_settleAndClaimNext) {
        if (c == u'?')
            numbered += u'$' + QString::number(++placeholder);
        else
            numbered += c;
    }
    QStringList literals;
    for (const QVariant &value : cycleValues(settled, request, qMax(0, request.limit))) {
        QSqlField field(QString(), value.metaType());
        field.setValue(value);
        literals.append(db->driver()->formatValue(field));
    }
    QSqlQuery q(*db);
    if (!q.exec(QStringLiteral("PREPARE ferry_explain_cycle AS ") + numbered))
        return sqlError(q, QStringLiteral("preparing the dispatch cycle to explain it"));
    auto deallocate =
        qScopeGuard([&] { QSqlQuery(*db).exec(QStringLiteral("DEALLOCATE ferry_explain_cycle")); });
    if (!q.exec(QStringLiteral("EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE ferry_explain_cycle(") +
                literals.join(QStringLiteral(", ")) + u')') ||
        !q.next())
        return sqlError(q, QStringLiteral("explaining the dispatch cycle"));
    const QJsonArray plan = QJsonDocument::fromJson(q.value(0).toString().toUtf8()).array();
    q.finish();
    return plan;
}

bool PostgresStore::execCounted(QSqlQuery &q)
{
    bool ran = q.exec();
    for (int retry = 0; !ran && retry < 5; ++retry) {
        const QString state = q.lastError().nativeErrorCode();
        if (state == u"40P01")
            m_deadlocks.fetch_add(1, std::memory_order_relaxed);
        if (!isRetryablePostgresState(state))
            return false;
        m_reruns.fetch_add(1, std::memory_order_relaxed);
        ran = q.exec();
    }
    if (!ran && q.lastError().nativeErrorCode() == u"40P01")
        m_deadlocks.fetch_add(1, std::memory_order_relaxed);
    return ran;
}

DispatchConflicts PostgresStore::dispatchConflicts() const
{
    return {m_deadlocks.load(std::memory_order_relaxed), m_reruns.load(std::memory_order_relaxed),
            m_deferredSettles.load(std::memory_order_relaxed)};
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
    if (cap < INT_MAX) {
        // Exact across nodes (issue 17): every claim under a per-user cap counts running jobs
        // under one lock, held until it commits, and only claims make jobs running, so the
        // counts it reads include every claim committed before it; a settle meanwhile only
        // makes them high for a moment.
        if (auto locked = lockCappedClaims(*db); !locked)
            return locked.error();
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
    // The rows are locked in id order, as every statement that waits for several job rows
    // does (settleDeferred): waits in one order never form a circle (see settleCtes).
    auto q = prepared(QStringLiteral(
        "WITH mine AS MATERIALIZED (SELECT jobs.id FROM jobs JOIN unnest(?::bigint[], "
        "?::bigint[]) AS held(id, token) ON jobs.id = held.id AND jobs.lease_token = held.token "
        "WHERE jobs.lease_owner = ? AND jobs.status = 'running' ORDER BY jobs.id "
        "FOR NO KEY UPDATE OF jobs) "
        "UPDATE jobs SET lease_expires_at = ? FROM mine WHERE jobs.id = mine.id RETURNING "
        "jobs.id"));
    if (!q)
        return q.error();
    QSqlQuery &query = **q;
    query.bindValue(0, bigintArray(ids));
    query.bindValue(1, bigintArray(tokens));
    query.bindValue(2, node);
    query.bindValue(3, expiresAt);
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
