// SqliteStore: the cluster block (nodes, heartbeats, the leader lease; engine/cluster/). On
// SQLite there is one engine, so it is always the leader and never finds a dead peer; the rows
// exist so the console shows the node.
#include "sqlitestore.h"

#include "store/clustersql.h"
#include "store/sqlhelpers.h"
#include "store/sqlitenative.h"

#include <QSqlQuery>

#include <algorithm>

namespace Ferry {

Result<void> SqliteStore::upsertNode(const NodeRecord &node)
{
    const std::lock_guard writer(m_writeMutex);
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

Result<void> SqliteStore::removeNode(const QString &nodeId)
{
    auto removed =
        writeStatement(ClusterSql::removeNode, {nodeId}, QStringLiteral("unregistering a node"));
    if (!removed)
        return removed.error();
    return {};
}

Result<QList<NodeRecord>> SqliteStore::nodes(qint64 now)
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

Result<bool> SqliteStore::acquireClusterLease(const QString &name,
                                              const QString &holder,
                                              qint64 now,
                                              qint64 expiresAt)
{
    const std::lock_guard writer(m_writeMutex);
    auto db = this->db();
    if (!db)
        return db.error();
    QSqlQuery q(*db);
    q.prepare(ClusterSql::acquireLease);
    q.addBindValue(name);
    q.addBindValue(holder);
    q.addBindValue(expiresAt);
    q.addBindValue(now);
    if (!q.exec())
        return sqlError(q, QStringLiteral("taking the %1 lease").arg(name));
    const bool held = q.next() && q.value(0).toString() == holder;
    q.finish();
    return held;
}

Result<void> SqliteStore::releaseClusterLease(const QString &name, const QString &holder)
{
    auto released = writeStatement(ClusterSql::releaseLease, {name, holder},
                                   QStringLiteral("releasing the %1 lease").arg(name));
    if (!released)
        return released.error();
    return {};
}

Result<DeadNodeRescue>
SqliteStore::rescueDeadNodes(qint64 heartbeatBefore, const QString &self, qint64 now)
{
    DeadNodeRescue result;
    {
        const std::lock_guard writer(m_writeMutex);
        auto db = this->db();
        if (!db)
            return db.error();
        SqlTransaction transaction(*db, &m_pool);
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
        dead.finish();
        if (result.nodes.isEmpty())
            return result;
        QSqlQuery expire(*db);
        expire.prepare(ClusterSql::expireDeadLeases);
        expire.addBindValue(now - 1);
        expire.addBindValue(heartbeatBefore);
        expire.addBindValue(self);
        if (!expire.exec())
            return sqlError(expire, QStringLiteral("ending the leases of dead nodes"));
        QSqlQuery remove(*db);
        remove.prepare(ClusterSql::deleteDeadNodes);
        remove.addBindValue(heartbeatBefore);
        remove.addBindValue(self);
        if (!remove.exec())
            return sqlError(remove, QStringLiteral("removing dead nodes"));
        if (auto committed = transaction.commit(); !committed)
            return committed.error();
    }
    auto rescued = rescueLeases(RescueScope::ExpiredLeases, self, now);
    if (!rescued)
        return rescued.error();
    result.jobs = std::move(*rescued);
    return result;
}

Result<int> SqliteStore::clusterClaimAllowance(NativeConnection &db, int clusterMaxRunning)
{
    // Called inside the claim's write transaction, under m_writeMutex: nobody else can claim
    // between this count and the claim.
    auto count = db.prepare(ClusterSql::countRunning);
    if (!count)
        return count.error();
    NativeStatement q(*count);
    if (!q.step())
        return q.error(QStringLiteral("counting running jobs"));
    return qMax<qint64>(0, qint64(clusterMaxRunning) - q.int64(0));
}

} // namespace Ferry
