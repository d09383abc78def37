// SqliteStore: the per-user cap of the claim ("at most N running jobs per user").
#include "sqlitestore.h"

#include "store/sqlitenative.h"

#include <QHash>

namespace Ferry {

// Runs inside settleAndClaim's transaction. Counts each user's running jobs (the running rows
// are few: at most the nodes' limits plus their prefetch), then walks the ready jobs in claim
// order and takes each whose user is still below the cap, until request.limit are taken. The
// fair rank interleaves users, so the walk normally ends after about limit rows; it reads
// further only past a run of jobs of users at their cap. Without a cap this is never called.
Result<QString> SqliteStore::cappedClaimIds(NativeConnection &db, const ClaimRequest &request)
{
    auto running = db.prepare(QStringLiteral(
        "SELECT user_id, count(*) FROM jobs WHERE status = 'running' GROUP BY user_id"));
    if (!running)
        return running.error();
    QHash<qint64, int> perUser;
    {
        NativeStatement q(*running);
        while (q.step())
            perUser.insert(q.int64(0), int(q.int64(1)));
        if (q.failed())
            return q.error(QStringLiteral("counting running jobs per user"));
    }
    auto ready =
        db.prepare(QStringLiteral("SELECT id, user_id FROM jobs WHERE status = 'pending' "
                                  "AND run_at <= ?1 ORDER BY priority DESC, fair_rank, id"));
    if (!ready)
        return ready.error();
    QString ids = QStringLiteral("[");
    int taken = 0;
    NativeStatement q(*ready);
    q.bind(1, request.now);
    while (taken < request.limit && q.step()) {
        int &count = perUser[q.int64(1)];
        if (count >= request.maxPerUser)
            continue;
        ++count;
        if (taken++ > 0)
            ids += u',';
        ids += QString::number(q.int64(0));
    }
    if (q.failed())
        return q.error(QStringLiteral("choosing jobs under the per-user cap"));
    ids += u']';
    return ids;
}

} // namespace Ferry
