// PostgresStore: the job queue (jobs, job_attempts, fair_clock) and reading jobs.
#include "postgresstore.h"

#include "store/postgreserrors.h"
#include "store/sqlhelpers.h"
#include "store/sqlitejobrows.h" // s_jobColumns and jobFrom: plain SQL, shared by both stores
#include "store/sqlvalues.h"

#include <QSqlError>
#include <QSqlQuery>

#include <algorithm>
#include <climits>

namespace Ferry {

namespace {

QVariant nullableText(const QString &text)
{
    return text.isEmpty() ? QVariant(QMetaType(QMetaType::QString)) : QVariant(text);
}

// One dispatch cycle is ONE statement, so one round trip and its own transaction: settle the
// finished attempts, record them, claim the next jobs and advance the fair clock, as
// data-modifying CTEs. They share one snapshot: settling touches running rows and claiming
// pending ones, so they never meet; a job settled back to pending becomes claimable next cycle.
//
// Settling: each finished attempt's fields travel as PostgreSQL array literals, one array per
// column, and unnest() turns them back into rows. The settle is fenced by the lease token (a
// lease lost to a rescue elsewhere changes nothing); only attempts whose row changed and that
// started get a job_attempts row. Parameters: the 14 arrays of SettleArrays in order, the node.
const QString s_settleCtes = QStringLiteral(
    "WITH s AS (SELECT * FROM unnest(?::bigint[], ?::bigint[], ?::text[], ?::text[], ?::text[], "
    "  ?::bigint[], ?::integer[], ?::bigint[], ?::text[], ?::integer[], ?::bigint[], "
    "  ?::bigint[], ?::bigint[], ?::text[]) AS s(id, token, status, result, error, run_at, "
    "  release, finished_at, progress, attempt, user_id, started_at, ended_at, outcome)), "
    "done AS (UPDATE jobs SET status = s.status, result = s.result, error = s.error, "
    "  run_at = s.run_at, attempts = jobs.attempts - s.release, finished_at = s.finished_at, "
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
// node, lease expiry, now.
const QString s_claimNextCtes = QStringLiteral(
    "next AS MATERIALIZED ("
    "  SELECT id FROM jobs WHERE status = 'pending' AND run_at <= ? "
    "  ORDER BY priority DESC, fair_rank, id LIMIT ? FOR UPDATE SKIP LOCKED), "
    "claimed AS (UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_owner = ?, "
    "  lease_expires_at = ?, lease_token = lease_token + 1, started_at = ?, cancel_requested = 0 "
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
        "  lease_owner = ?, lease_expires_at = ?, lease_token = lease_token + 1, started_at = ?, "
        "  cancel_requested = 0 WHERE status = 'pending' AND id = ANY(?::bigint[]) "
        "  RETURNING jobs.id, user_id, session_id, type, payload, priority, fair_rank, attempts, "
        "  max_attempts, timeout_ms, lease_token, created_at), ") +
    s_clockAndAnswer;

QString bigintArray(const QList<qint64> &values)
{
    QString text = QStringLiteral("{");
    for (qsizetype i = 0; i < values.size(); ++i) {
        if (i > 0)
            text += u',';
        text += QString::number(values.at(i));
    }
    return text + u'}';
}

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

// A PostgreSQL array literal of text elements: each quoted, backslash and quote escaped; a
// null QString is NULL.
class TextArray
{
public:
    void add(const QString &value)
    {
        m_text += m_text.isEmpty() ? QStringLiteral("{") : QStringLiteral(",");
        if (value.isNull()) {
            m_text += QStringLiteral("NULL");
            return;
        }
        QString escaped = value;
        escaped.replace(u'\\', QStringLiteral("\\\\"));
        escaped.replace(u'"', QStringLiteral("\\\""));
        m_text += u'"' + escaped + u'"';
    }
    QString text() const { return m_text.isEmpty() ? QStringLiteral("{}") : m_text + u'}'; }

private:
    QString m_text;
};

class NumberArray
{
public:
    void add(std::optional<qint64> value)
    {
        m_text += m_text.isEmpty() ? QStringLiteral("{") : QStringLiteral(",");
        m_text += value ? QString::number(*value) : QStringLiteral("NULL");
    }
    QString text() const { return m_text.isEmpty() ? QStringLiteral("{}") : m_text + u'}'; }

private:
    QString m_text;
};

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
Result<qint64> PostgresStore::nextFairRank(QSqlDatabase & /*db: this thread's, as prepared()'s*/,
                                           qint64 userId,
                                           int priority)
{
    auto prepared = this->prepared(QStringLiteral(
        "SELECT greatest(coalesce((SELECT max(fair_rank) FROM jobs WHERE user_id = ? "
        "AND priority = ? AND status = 'pending'), 0), "
        "coalesce((SELECT v FROM fair_clock WHERE priority = ?), 0))"));
    if (!prepared)
        return prepared.error();
    QSqlQuery &q = **prepared;
    q.bindValue(0, userId);
    q.bindValue(1, priority);
    q.bindValue(2, priority);
    if (!q.exec() || !q.next())
        return sqlError(q, QStringLiteral("ranking a job"));
    const qint64 rank = q.value(0).toLongLong() + 1;
    q.finish();
    return rank;
}

Result<QList<EnqueuedJob>> PostgresStore::enqueue(const QList<NewJob> &jobs, qint64 now)
{
    if (jobs.size() == 1 && !jobs.first().session)
        return enqueueOne(jobs.first(), now);
    const bool plain = std::none_of(jobs.cbegin(), jobs.cend(), [](const NewJob &job) {
        return job.session || !job.uniqueKey.isEmpty();
    });
    if (plain)
        return enqueuePlain(jobs, now);
    auto db = this->db();
    if (!db)
        return db.error();
    SqlTransaction transaction(*db); // not the pool: PostgreSQL cannot PREPARE BEGIN
    if (auto begun = transaction.begin(); !begun)
        return begun.error();
    auto insertSessionStatement = prepared(QStringLiteral(
        "INSERT INTO upload_sessions (id, user_id, file_name, content_type, size_bytes, sha256, "
        "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)"));
    if (!insertSessionStatement)
        return insertSessionStatement.error();
    QSqlQuery &insertSession = **insertSessionStatement;
    // A unique key already pending or running (on any node) makes the insert a no-op; the
    // partial unique index jobs_unique_key is the arbiter, so concurrent enqueues cannot both win.
    auto insertStatement = prepared(QStringLiteral(
        "INSERT INTO jobs (user_id, session_id, type, payload, status, priority, fair_rank, "
        "max_attempts, run_at, timeout_ms, unique_key, created_at) "
        "VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (user_id, unique_key) WHERE unique_key IS NOT NULL "
        "AND status IN ('pending', 'running') DO NOTHING RETURNING id"));
    if (!insertStatement)
        return insertStatement.error();
    QSqlQuery &insert = **insertStatement;
    auto duplicateStatement =
        prepared(QStringLiteral("SELECT id FROM jobs WHERE user_id = ? AND unique_key = ? "
                                "AND status IN ('pending', 'running')"));
    if (!duplicateStatement)
        return duplicateStatement.error();
    QSqlQuery &duplicate = **duplicateStatement;

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
            insert.finish();
            continue;
        }
        insert.finish();
        duplicate.bindValue(0, job.userId);
        duplicate.bindValue(1, job.uniqueKey);
        if (!duplicate.exec() || !duplicate.next())
            return sqlError(duplicate, QStringLiteral("checking a unique key"));
        result.append({duplicate.value(0).toLongLong(), true});
        duplicate.finish();
    }
    // Cluster: idle nodes listening on ferry_jobs wake at once (delivered on commit).
    if (QSqlQuery notify(*db); !notify.exec(QStringLiteral("SELECT pg_notify('ferry_jobs', '')")))
        return sqlError(notify, QStringLiteral("notifying other nodes"));
    if (auto committed = transaction.commit(); !committed)
        return committed.error();
    return result;
}

// Several jobs without upload sessions or unique keys (bulk enqueue): ranked per user and
// priority as enqueue() does, then inserted by one statement per chunk from array literals
// (unnest WITH ORDINALITY keeps their order, so the sequence hands out ids in input order).
Result<QList<EnqueuedJob>> PostgresStore::enqueuePlain(const QList<NewJob> &jobs, qint64 now)
{
    constexpr qsizetype Chunk = 10'000;
    auto db = this->db();
    if (!db)
        return db.error();
    SqlTransaction transaction(*db); // not the pool: PostgreSQL cannot PREPARE BEGIN
    if (auto begun = transaction.begin(); !begun)
        return begun.error();
    auto statement = prepared(QStringLiteral(
        "INSERT INTO jobs (user_id, session_id, type, payload, status, priority, fair_rank, "
        "max_attempts, run_at, timeout_ms, created_at) "
        "SELECT n.user_id, n.session_id, n.type, n.payload, 'pending', n.priority, n.rank, "
        "n.max_attempts, n.run_at, n.timeout_ms, ?::bigint FROM unnest(?::bigint[], ?::text[], "
        "?::text[], ?::text[], ?::integer[], ?::bigint[], ?::integer[], ?::bigint[], "
        "?::bigint[]) WITH ORDINALITY AS n(user_id, session_id, type, payload, priority, rank, "
        "max_attempts, run_at, timeout_ms, ord) ORDER BY n.ord RETURNING id"));
    if (!statement)
        return statement.error();
    QSqlQuery &insert = **statement;
    QList<EnqueuedJob> result;
    result.reserve(jobs.size());
    QHash<QPair<qint64, int>, qint64> ranks; // (user, priority) -> last rank given in this batch
    for (qsizetype first = 0; first < jobs.size(); first += Chunk) {
        NumberArray userIds, priorities, rankValues, maxAttempts, runAts, timeouts;
        TextArray sessionIds, types, payloads;
        const qsizetype end = qMin(jobs.size(), first + Chunk);
        for (qsizetype i = first; i < end; ++i) {
            const NewJob &job = jobs.at(i);
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
            userIds.add(job.userId);
            sessionIds.add(job.sessionId.isEmpty() ? QString() : job.sessionId);
            types.add(job.type);
            payloads.add(job.payload.isEmpty() ? QStringLiteral("{}") : jsonString(job.payload));
            priorities.add(job.priority);
            rankValues.add(rank);
            maxAttempts.add(job.maxAttempts);
            runAts.add(job.runAt > 0 ? job.runAt : now);
            timeouts.add(job.timeoutMs);
        }
        const QString values[] = {userIds.text(),     sessionIds.text(), types.text(),
                                  payloads.text(),    priorities.text(), rankValues.text(),
                                  maxAttempts.text(), runAts.text(),     timeouts.text()};
        insert.bindValue(0, now);
        int position = 1;
        for (const QString &value : values)
            insert.bindValue(position++, value);
        if (!insert.exec())
            return sqlError(insert, QStringLiteral("enqueueing %1 jobs").arg(end - first));
        QList<qint64> ids;
        ids.reserve(end - first);
        while (insert.next())
            ids.append(insert.value(0).toLongLong());
        insert.finish();
        if (ids.size() != end - first) {
            return makeError(
                ErrorCode::Internal,
                QStringLiteral("Enqueueing %1 jobs inserted %2.").arg(end - first).arg(ids.size()));
        }
        std::sort(ids.begin(), ids.end()); // RETURNING has no order; ids follow the input's
        for (qint64 id : std::as_const(ids))
            result.append({id, false});
    }
    // Cluster: idle nodes listening on ferry_jobs wake at once (delivered on commit).
    if (QSqlQuery notify(*db); !notify.exec(QStringLiteral("SELECT pg_notify('ferry_jobs', '')")))
        return sqlError(notify, QStringLiteral("notifying other nodes"));
    if (auto committed = transaction.commit(); !committed)
        return committed.error();
    return result;
}

// One job without an upload session (the API's and the benchmark's single enqueue): ranked and
// inserted by one statement, its own transaction, so one round trip instead of four.
Result<QList<EnqueuedJob>> PostgresStore::enqueueOne(const NewJob &job, qint64 now)
{
    // The notification (idle nodes wake at once) is part of the same statement, and sent only
    // when a row went in: pg_notify in FROM runs once per statement, delivered at commit.
    auto statement = prepared(QStringLiteral(
        "WITH ins AS (INSERT INTO jobs (user_id, session_id, type, payload, status, priority, "
        "fair_rank, max_attempts, run_at, timeout_ms, unique_key, created_at) "
        "VALUES (?, ?, ?, ?, 'pending', ?, greatest(coalesce((SELECT max(fair_rank) FROM jobs "
        "WHERE user_id = ?::bigint AND priority = ?::integer AND status = 'pending'), 0), "
        "coalesce((SELECT v FROM fair_clock WHERE priority = ?::integer), 0)) + 1, "
        "?, ?, ?, ?, ?) "
        "ON CONFLICT (user_id, unique_key) WHERE unique_key IS NOT NULL "
        "AND status IN ('pending', 'running') DO NOTHING RETURNING id) "
        "SELECT ins.id FROM ins, pg_notify('ferry_jobs', '')"));
    if (!statement)
        return statement.error();
    QSqlQuery &insert = **statement;
    insert.bindValue(0, job.userId);
    insert.bindValue(1, nullableText(job.sessionId));
    insert.bindValue(2, job.type);
    insert.bindValue(3, job.payload.isEmpty() ? QStringLiteral("{}") : jsonString(job.payload));
    insert.bindValue(4, job.priority);
    insert.bindValue(5, job.userId);
    insert.bindValue(6, job.priority);
    insert.bindValue(7, job.priority);
    insert.bindValue(8, job.maxAttempts);
    insert.bindValue(9, job.runAt > 0 ? job.runAt : now);
    insert.bindValue(10, job.timeoutMs);
    insert.bindValue(11, nullableText(job.uniqueKey));
    insert.bindValue(12, now);
    if (!insert.exec())
        return sqlError(insert, QStringLiteral("enqueueing a job"));
    if (insert.next()) {
        const qint64 id = insert.value(0).toLongLong();
        insert.finish();
        return QList<EnqueuedJob>{{id, false}};
    }
    insert.finish();
    auto duplicateStatement =
        prepared(QStringLiteral("SELECT id FROM jobs WHERE user_id = ? AND unique_key = ? "
                                "AND status IN ('pending', 'running')"));
    if (!duplicateStatement)
        return duplicateStatement.error();
    QSqlQuery &duplicate = **duplicateStatement;
    duplicate.bindValue(0, job.userId);
    duplicate.bindValue(1, job.uniqueKey);
    if (!duplicate.exec())
        return sqlError(duplicate, QStringLiteral("checking a unique key"));
    if (!duplicate.next()) {
        // The holder finished between the insert and this read: say so rather than guess.
        return makeError(ErrorCode::Conflict,
                         QStringLiteral("A job with unique key '%1' was finishing while this "
                                        "one was enqueued.")
                             .arg(job.uniqueKey),
                         QStringLiteral("Enqueue it again."));
    }
    const qint64 id = duplicate.value(0).toLongLong();
    duplicate.finish();
    return QList<EnqueuedJob>{{id, true}};
}

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

Result<QList<qint64>> PostgresStore::renewLeases(const QString &node, qint64 expiresAt)
{
    auto q = prepared(QStringLiteral("UPDATE jobs SET lease_expires_at = ? "
                                     "WHERE lease_owner = ? AND status = 'running' RETURNING id"));
    if (!q)
        return q.error();
    QSqlQuery &query = **q;
    query.bindValue(0, expiresAt);
    query.bindValue(1, node);
    if (!query.exec())
        return sqlError(query, QStringLiteral("renewing leases"));
    QList<qint64> held;
    while (query.next())
        held.append(query.value(0).toLongLong());
    query.finish();
    return held;
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
