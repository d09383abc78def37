// PostgresStore: the cluster block (nodes, heartbeats, the leader lease; engine/cluster/) and the
// global concurrency limit's count.
#include "postgresstore.h"

#include "store/clustersql.h"
#include "store/postgresarrays.h"
#include "store/sqlhelpers.h"

#include <QSqlQuery>

#include <algorithm>

namespace Ferry {

namespace {

// pg_advisory_xact_lock key of the global concurrency limit (the migrator uses 7262011).
constexpr qint64 ClusterClaimLockKey = 7262012;

Result<int>
execWrite(QSqlDatabase db, const QString &sql, const QVariantList &values, const QString &doing)
{
    QSqlQuery q(db);
    q.prepare(sql);
    for (const QVariant &value : values)
        q.addBindValue(value);
    if (!q.exec())
        return sqlError(q, doing);
    return q.numRowsAffected();
}

} // namespace

Result<void> PostgresStore::upsertNode(const NodeRecord &node)
{
    auto db = this->db();
    if (!db)
        return db.error();
    QSqlQuery q(*db);
    q.prepare(ClusterSql::upsertNode);
    ClusterSql::bindNode(q, node);
    if (!q.exec())
        return sqlError(q, QStringLiteral("recording this node's heartbeat"));
    return {};
}

Result<void> PostgresStore::removeNode(const QString &nodeId)
{
    auto db = this->db();
    if (!db)
        return db.error();
    if (auto removed = execWrite(*db, ClusterSql::removeNode, {nodeId},
                                 QStringLiteral("unregistering a node"));
        !removed)
        return removed.error();
    return {};
}

Result<QList<NodeRecord>> PostgresStore::nodes(qint64 now)
{
    auto db = this->db();
    if (!db)
        return db.error();
    QSqlQuery q(*db);
    q.prepare(ClusterSql::nodes);
    q.addBindValue(LeaderLeaseName);
    q.addBindValue(now);
    if (!q.exec())
        return sqlError(q, QStringLiteral("listing the nodes"));
    QList<NodeRecord> nodes;
    while (q.next())
        nodes.append(ClusterSql::nodeFrom(q));
    std::sort(nodes.begin(), nodes.end(),
              [](const NodeRecord &a, const NodeRecord &b) { return a.id < b.id; });
    return nodes;
}

Result<bool> PostgresStore::acquireClusterLease(const QString &name,
                                                const QString &holder,
                                                qint64 now,
                                                qint64 expiresAt)
{
    auto db = this->db();
    if (!db)
        return db.error();
    // One statement in autocommit: of two nodes upserting at once, the second waits for the
    // first's row and re-checks the WHERE against it, so exactly one holds the lease.
    QSqlQuery q(*db);
    q.prepare(ClusterSql::acquireLease);
    q.addBindValue(name);
    q.addBindValue(holder);
    q.addBindValue(expiresAt);
    q.addBindValue(now);
    if (!q.exec())
        return sqlError(q, QStringLiteral("taking the %1 lease").arg(name));
    return q.next() && q.value(0).toString() == holder;
}

Result<void> PostgresStore::releaseClusterLease(const QString &name, const QString &holder)
{
    auto db = this->db();
    if (!db)
        return db.error();
    if (auto released = execWrite(*db, ClusterSql::releaseLease, {name, holder},
                                  QStringLiteral("releasing the %1 lease").arg(name));
        !released)
        return released.error();
    return {};
}

Result<DeadNodeRescue>
PostgresStore::rescueDeadNodes(qint64 heartbeatBefore, const QString &self, qint64 now)
{
    DeadNodeRescue result;
    {
        auto db = this->db();
        if (!db)
            return db.error();
        SqlTransaction transaction(*db);
        if (auto begun = transaction.begin(); !begun)
            return begun.error();
        QSqlQuery dead(*db);
        dead.prepare(ClusterSql::deadNodes);
        dead.addBindValue(heartbeatBefore);
        dead.addBindValue(self);
        if (!dead.exec())
            return sqlError(dead, QStringLiteral("finding dead nodes"));
        while (dead.next())
            result.nodes.append(dead.value(0).toString());
        if (result.nodes.isEmpty())
            return result;
        TextArray sessions;
        for (const QString &node : std::as_const(result.nodes))
            sessions.add(DatabaseConfig::sessionNameFor(node));
        QSqlQuery ended(*db);
        ended.prepare(ClusterSql::endDeadSessions);
        ended.addBindValue(sessions.text());
        if (!ended.exec() || !ended.next())
            return sqlError(ended, QStringLiteral("ending the sessions of dead nodes"));
        result.sessionsEnded = ended.value(0).toInt();
        ended.finish();
        if (auto expired =
                execWrite(*db, ClusterSql::expireDeadLeases, {now - 1, heartbeatBefore, self},
                          QStringLiteral("ending the leases of dead nodes"));
            !expired)
            return expired.error();
        if (auto removed = execWrite(*db, ClusterSql::deleteDeadNodes, {heartbeatBefore, self},
                                     QStringLiteral("removing dead nodes"));
            !removed)
            return removed.error();
        if (auto committed = transaction.commit(); !committed)
            return committed.error();
    }
    auto rescued = rescueLeases(RescueScope::ExpiredLeases, self, now);
    if (!rescued)
        return rescued.error();
    result.jobs = std::move(*rescued);
    return result;
}

Result<int> PostgresStore::clusterClaimAllowance(QSqlDatabase &db, int clusterMaxRunning)
{
    // Inside the claim's transaction: the lock is held until it commits, so two nodes cannot
    // both count the same free slots.
    QSqlQuery q(db);
    if (!q.exec(QStringLiteral("SELECT pg_advisory_xact_lock(%1)").arg(ClusterClaimLockKey)))
        return sqlError(q, QStringLiteral("locking the global concurrency limit"));
    if (!q.exec(ClusterSql::countRunning) || !q.next())
        return sqlError(q, QStringLiteral("counting running jobs"));
    return int(qMax<qint64>(0, qint64(clusterMaxRunning) - q.value(0).toLongLong()));
}

} // namespace Ferry
