// PostgresStore: enqueueing jobs (single, bulk, with upload sessions and unique keys); each
// commits a NOTIFY on ferry_jobs so idle nodes claim at once. Claiming is in postgresjobs.cpp.
#include "postgresstore.h"

#include "store/batchfairranks.h"
#include "store/postgresarrays.h"
#include "store/sqlhelpers.h"
#include "store/sqlvalues.h"

#include <QSqlQuery>

#include <algorithm>
#include <map>

namespace Ferry {

// The hot statements below are prepared once per thread and connection (ConnectionPool::
// statement): a fresh QSqlQuery costs QPSQL a PREPARE and a DEALLOCATE round trip each time.
namespace {

// A user's next `count` fair ranks at a priority, reserved in user_fair_ranks (migration 0015):
// after the higher of the user's last pending job there and the fair clock, as before, and
// after the last rank already handed to that user there, which covers the jobs of an enqueue
// on another node that committed after this statement's snapshot (the upsert waits for its row
// lock and reads the row as committed). Binds: user, priority, count (the count twice).
// Answers the last rank reserved.
const QString s_reserveRanksCte = QStringLiteral(
    "INSERT INTO user_fair_ranks AS r (user_id, priority, last) VALUES (?::bigint, ?::integer, "
    "greatest(coalesce((SELECT max(fair_rank) FROM jobs WHERE user_id = ?::bigint AND priority = "
    "?::integer AND status = 'pending'), 0), coalesce((SELECT max(v) FROM fair_clock WHERE "
    "priority = ?::integer), 0)) + ?::bigint) ON CONFLICT (user_id, priority) DO UPDATE "
    "SET last = greatest(r.last + ?::bigint, excluded.last) RETURNING last");

int bindReserve(QSqlQuery &q, int at, qint64 userId, int priority, qint64 count)
{
    for (const QVariant &value :
         {QVariant(userId), QVariant(priority), QVariant(userId), QVariant(priority),
          QVariant(priority), QVariant(count), QVariant(count)})
        q.bindValue(at++, value);
    return at;
}

} // namespace

Result<qint64> PostgresStore::nextFairRank(qint64 userId, int priority)
{
    return reserveFairRanks(userId, priority, 1);
}

Result<qint64> PostgresStore::reserveFairRanks(qint64 userId, int priority, qint64 count)
{
    auto prepared = this->prepared(s_reserveRanksCte);
    if (!prepared)
        return prepared.error();
    QSqlQuery &q = **prepared;
    bindReserve(q, 0, userId, priority, count);
    if (!q.exec() || !q.next())
        return sqlError(q, QStringLiteral("ranking a job"));
    const qint64 last = q.value(0).toLongLong();
    q.finish();
    return last - count + 1;
}

Result<QHash<QPair<qint64, int>, qint64>>
PostgresStore::reserveBatchRanks(const QList<NewJob> &jobs)
{
    // Every (user, priority) of the batch at once, in key order: two enqueues of the same users
    // then wait for each other's rows in one order, never in a circle.
    std::map<std::pair<qint64, int>, qint64> counts;
    for (const NewJob &job : jobs)
        ++counts[{job.userId, job.priority}];
    QHash<QPair<qint64, int>, qint64> firsts;
    for (const auto &[key, count] : counts) {
        auto first = reserveFairRanks(key.first, key.second, count);
        if (!first)
            return first.error();
        firsts.insert(qMakePair(key.first, key.second), *first);
    }
    return firsts;
}

Result<QList<EnqueuedJob>> PostgresStore::enqueue(const QList<NewJob> &jobs, qint64 now)
{
    if (jobs.size() == 1 && !jobs.first().session && jobs.first().completesTusUpload.isEmpty())
        return enqueueOne(jobs.first(), now);
    const bool plain = std::none_of(jobs.cbegin(), jobs.cend(), [](const NewJob &job) {
        return job.session || !job.uniqueKey.isEmpty() || !job.completesTusUpload.isEmpty();
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
    auto reserved = reserveBatchRanks(jobs);
    if (!reserved)
        return reserved.error();
    BatchFairRanks ranks([firsts = *reserved](qint64 userId, int priority) -> Result<qint64> {
        return firsts.value(qMakePair(userId, priority));
    });
    const QString emptyPayload = QStringLiteral("{}");
    for (const NewJob &job : jobs) {
        if (job.session) {
            const UploadSession &u = *job.session;
            insertSession.bindValue(0, u.id);
            insertSession.bindValue(1, u.userId);
            insertSession.bindValue(2, nullIfEmpty(u.fileName));
            insertSession.bindValue(3, nullIfEmpty(u.contentType));
            insertSession.bindValue(4, u.sizeBytes);
            insertSession.bindValue(5, nullIfEmpty(u.blobId));
            insertSession.bindValue(6, u.createdAt);
            if (!insertSession.exec())
                return sqlError(insertSession, QStringLiteral("opening an upload session"));
        }
        auto rank = ranks.next(job.userId, job.priority);
        if (!rank)
            return rank.error();
        const QString sessionId = job.session ? job.session->id : job.sessionId;
        insert.bindValue(0, job.userId);
        insert.bindValue(1, nullIfEmpty(sessionId));
        insert.bindValue(2, job.type);
        insert.bindValue(3, job.payload.isEmpty() ? emptyPayload : jsonString(job.payload));
        insert.bindValue(4, job.priority);
        insert.bindValue(5, *rank);
        insert.bindValue(6, job.maxAttempts);
        insert.bindValue(7, job.runAt > 0 ? job.runAt : now);
        insert.bindValue(8, job.timeoutMs);
        insert.bindValue(9, nullIfEmpty(job.uniqueKey));
        insert.bindValue(10, now);
        if (!insert.exec())
            return sqlError(insert, QStringLiteral("enqueueing a job"));
        if (insert.next()) {
            result.append({insert.value(0).toLongLong(), false});
            insert.finish();
            if (!job.completesTusUpload.isEmpty()) {
                if (auto marked = markTusComplete(*db, job.completesTusUpload, sessionId,
                                                  result.last().id, now);
                    !marked)
                    return marked.error();
            }
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
    auto reserved = reserveBatchRanks(jobs);
    if (!reserved)
        return reserved.error();
    BatchFairRanks ranks([firsts = *reserved](qint64 userId, int priority) -> Result<qint64> {
        return firsts.value(qMakePair(userId, priority));
    });
    for (qsizetype first = 0; first < jobs.size(); first += Chunk) {
        NumberArray userIds, priorities, rankValues, maxAttempts, runAts, timeouts;
        TextArray sessionIds, types, payloads;
        const qsizetype end = qMin(jobs.size(), first + Chunk);
        for (qsizetype i = first; i < end; ++i) {
            const NewJob &job = jobs.at(i);
            auto rank = ranks.next(job.userId, job.priority);
            if (!rank)
                return rank.error();
            userIds.add(job.userId);
            sessionIds.add(job.sessionId.isEmpty() ? QString() : job.sessionId);
            types.add(job.type);
            payloads.add(job.payload.isEmpty() ? QStringLiteral("{}") : jsonString(job.payload));
            priorities.add(job.priority);
            rankValues.add(*rank);
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
    // The rank is reserved in the same statement (s_reserveRanksCte), so it stays one round trip.
    auto statement = prepared(
        QStringLiteral("WITH rank AS (") + s_reserveRanksCte +
        QStringLiteral("), ins AS (INSERT INTO jobs (user_id, session_id, type, payload, status, "
                       "priority, fair_rank, max_attempts, run_at, timeout_ms, unique_key, "
                       "created_at) VALUES (?, ?, ?, ?, 'pending', ?, (SELECT last FROM rank), "
                       "?, ?, ?, ?, ?) "
                       "ON CONFLICT (user_id, unique_key) WHERE unique_key IS NOT NULL "
                       "AND status IN ('pending', 'running') DO NOTHING RETURNING id) "
                       "SELECT ins.id FROM ins, pg_notify('ferry_jobs', '')"));
    if (!statement)
        return statement.error();
    QSqlQuery &insert = **statement;
    int at = bindReserve(insert, 0, job.userId, job.priority, 1);
    insert.bindValue(at++, job.userId);
    insert.bindValue(at++, nullIfEmpty(job.sessionId));
    insert.bindValue(at++, job.type);
    insert.bindValue(at++, job.payload.isEmpty() ? QStringLiteral("{}") : jsonString(job.payload));
    insert.bindValue(at++, job.priority);
    insert.bindValue(at++, job.maxAttempts);
    insert.bindValue(at++, job.runAt > 0 ? job.runAt : now);
    insert.bindValue(at++, job.timeoutMs);
    insert.bindValue(at++, nullIfEmpty(job.uniqueKey));
    insert.bindValue(at++, now);
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

} // namespace Ferry
