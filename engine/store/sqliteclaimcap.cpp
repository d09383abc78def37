// SqliteStore: the per-user cap of the claim ("at most N running jobs per user").
#include "sqlitestore.h"

#include "store/sqlitenative.h"

#include <QHash>
#include <limits>

namespace Ferry {

namespace {
QString jsonArray(const QList<qint64> &values)
{
    QString text = QStringLiteral("[");
    for (qsizetype i = 0; i < values.size(); ++i) {
        if (i > 0)
            text += u',';
        text += QString::number(values.at(i));
    }
    return text + u']';
}
} // namespace

// Runs inside settleAndClaim's transaction; every read walks an index, never the table:
// 1. each user's running jobs (the jobs_leases index: at most the nodes' limits plus prefetch);
// 2. the users with pending jobs, by a skip-scan of jobs_user_rank (one seek per user), so a
//    claim in which every such user is at the cap stops without reading the queue;
// 3. the ready jobs in claim order (jobs_ready), leaving out users at the cap in SQL, taking
//    each whose user is still below it; a page that fills up is followed by another that also
//    leaves out the users who reached the cap on the previous one.
Result<QString> SqliteStore::cappedClaimIds(NativeConnection &db, const ClaimRequest &request)
{
    const int cap = request.maxPerUser;
    auto running = db.prepare(QStringLiteral("SELECT user_id FROM jobs WHERE status = 'running'"));
    if (!running)
        return running.error();
    QHash<qint64, int> perUser;
    {
        NativeStatement q(*running);
        while (q.step())
            ++perUser[q.int64(0)];
        if (q.failed())
            return q.error(QStringLiteral("counting running jobs per user"));
    }

    auto nextUser = db.prepare(QStringLiteral("SELECT user_id FROM jobs WHERE status = 'pending' "
                                              "AND user_id > ?1 ORDER BY user_id LIMIT 1"));
    if (!nextUser)
        return nextUser.error();
    QList<qint64> pendingUsers;
    for (qint64 after = std::numeric_limits<qint64>::min();;) {
        NativeStatement q(*nextUser);
        q.bind(1, after);
        if (!q.step()) {
            if (q.failed())
                return q.error(QStringLiteral("listing users with pending jobs"));
            break;
        }
        after = q.int64(0);
        pendingUsers.append(after);
    }

    auto page = db.prepare(
        QStringLiteral("SELECT id, user_id FROM jobs WHERE status = 'pending' AND run_at <= ?1 "
                       "AND user_id NOT IN (SELECT value FROM json_each(?2)) "
                       "AND id NOT IN (SELECT value FROM json_each(?3)) "
                       "ORDER BY priority DESC, fair_rank, id LIMIT ?4"));
    if (!page)
        return page.error();
    QList<qint64> taken;
    while (taken.size() < request.limit) {
        QList<qint64> full;
        bool someoneBelowCap = false;
        for (const qint64 user : std::as_const(pendingUsers)) {
            if (perUser.value(user) >= cap)
                full.append(user);
            else
                someoneBelowCap = true;
        }
        if (!someoneBelowCap)
            break;
        const qint64 pageSize = request.limit - taken.size();
        qint64 rows = 0;
        NativeStatement q(*page);
        q.bind(1, request.now).bind(2, jsonArray(full)).bind(3, jsonArray(taken)).bind(4, pageSize);
        while (q.step()) {
            ++rows;
            int &count = perUser[q.int64(1)];
            if (count < cap) {
                ++count;
                taken.append(q.int64(0));
            }
        }
        if (q.failed())
            return q.error(QStringLiteral("choosing jobs under the per-user cap"));
        if (rows < pageSize)
            break; // every ready job of a user below the cap was seen
    }
    return jsonArray(taken);
}

} // namespace Ferry
