// SqliteStore: the dialect's own part of the cluster block (the rest is sqlcluster.cpp): the
// global concurrency limit's count, on the claim's native connection.
#include "sqlitestore.h"

#include "store/sqlitenative.h"

namespace Ferry {

Result<int> SqliteStore::clusterClaimAllowance(NativeConnection &db, int clusterMaxRunning)
{
    // Called inside the claim's write transaction, under m_writeMutex: nobody else can claim
    // between this count and the claim.
    auto count = db.prepare(QStringLiteral("SELECT count(*) FROM jobs WHERE status = 'running'"));
    if (!count)
        return count.error();
    NativeStatement q(*count);
    if (!q.step())
        return q.error(QStringLiteral("counting running jobs"));
    return qMax<qint64>(0, qint64(clusterMaxRunning) - q.int64(0));
}

} // namespace Ferry
