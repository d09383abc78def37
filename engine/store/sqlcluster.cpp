// SqlStore: the cluster block (nodes, heartbeats, the leader lease; engine/cluster/). On SQLite
// there is one engine, so it is always the leader and never finds a dead peer; the rows exist so
// the console shows the node. Each dialect keeps the global concurrency limit's count, part of
// its claim (clusterClaimAllowance in sqlitecluster.cpp, postgrescluster.cpp), and PostgreSQL
// ends a dead node's sessions (endDeadNodeSessions).
#include "sqlstore.h"

#include "store/sqlhelpers.h"

#include <QSqlQuery>

#include <algorithm>

namespace Ferry {

namespace {

const QString s_upsertNode = QStringLiteral(
    "INSERT INTO nodes (id, address, version, started_at, heartbeat_at, running_jobs, rss_bytes, "
    "role) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
    "address = excluded.address, version = excluded.version, started_at = excluded.started_at, "
    "heartbeat_at = excluded.heartbeat_at, running_jobs = excluded.running_jobs, "
    "rss_bytes = excluded.rss_bytes, role = excluded.role");

// Binds: lease name, now.
const QString s_nodes = QStringLiteral(
    "SELECT n.id, n.address, n.version, n.started_at, n.heartbeat_at, n.running_jobs, "
    "n.rss_bytes, CASE WHEN l.holder IS NULL THEN 0 ELSE 1 END, n.role FROM nodes n "
    "LEFT JOIN cluster_leases l ON l.name = ? AND l.holder = n.id AND l.expires_at >= ?");

// Binds: name, holder, expiresAt, now. Returns a row only when holder holds the lease after it:
// a live lease of another holder makes the DO UPDATE's WHERE false, so nothing is returned.
const QString s_acquireLease = QStringLiteral(
    "INSERT INTO cluster_leases (name, holder, expires_at) VALUES (?, ?, ?) "
    "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at "
    "WHERE cluster_leases.expires_at < ? OR cluster_leases.holder = excluded.holder "
    "RETURNING holder");

// Binds: heartbeatBefore, self.
const QString s_deadNodes =
    QStringLiteral("SELECT id FROM nodes WHERE heartbeat_at < ? AND id <> ?");
// Binds: expired (now - 1), heartbeatBefore, self. The dead nodes' leases end now, so the
// ordinary expired-lease rescue takes their jobs.
const QString s_expireDeadLeases = QStringLiteral(
    "UPDATE jobs SET lease_expires_at = ? WHERE status = 'running' AND lease_owner IN "
    "(SELECT id FROM nodes WHERE heartbeat_at < ? AND id <> ?)");
// Binds: heartbeatBefore, self.
const QString s_deleteDeadNodes =
    QStringLiteral("DELETE FROM nodes WHERE heartbeat_at < ? AND id <> ?");

// A null QString binds as SQL NULL (QPSQL); the columns are NOT NULL, empty means unknown.
QString notNull(const QString &text)
{
    return text.isNull() ? QStringLiteral("") : text;
}

void bindNode(QSqlQuery &q, const NodeRecord &node)
{
    q.addBindValue(node.id);
    q.addBindValue(notNull(node.address));
    q.addBindValue(notNull(node.version));
    q.addBindValue(node.startedAt);
    q.addBindValue(node.heartbeatAt);
    q.addBindValue(qint64(node.runningJobs));
    q.addBindValue(node.rssBytes);
    q.addBindValue(node.observer ? QStringLiteral("observer") : QStringLiteral("worker"));
}

NodeRecord nodeFrom(const QSqlQuery &q)
{
    NodeRecord node;
    node.id = q.value(0).toString();
    node.address = q.value(1).toString();
    node.version = q.value(2).toString();
    node.startedAt = q.value(3).toLongLong();
    node.heartbeatAt = q.value(4).toLongLong();
    node.runningJobs = q.value(5).toInt();
    node.rssBytes = q.value(6).toLongLong();
    node.leader = q.value(7).toInt() != 0;
    node.observer = q.value(8).toString() == u"observer";
    return node;
}

// One statement in an open transaction; the rows it changed.
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

Result<void> SqlStore::upsertNode(const NodeRecord &node)
{
    const auto turn = writeTurn();
    auto db = this->db();
    if (!db)
        return db.error();
    QSqlQuery q(*db);
    q.prepare(s_upsertNode);
    bindNode(q, node);
    if (!q.exec())
        return sqlError(q, QStringLiteral("recording this node's heartbeat"));
    return {};
}

Result<void> SqlStore::removeNode(const QString &nodeId)
{
    auto removed = writeStatement(QStringLiteral("DELETE FROM nodes WHERE id = ?"), {nodeId},
                                  QStringLiteral("unregistering a node"));
    if (!removed)
        return removed.error();
    return {};
}

Result<QList<NodeRecord>> SqlStore::nodes(qint64 now)
{
    auto db = this->db();
    if (!db)
        return db.error();
    QSqlQuery q(*db);
    q.prepare(s_nodes);
    q.addBindValue(LeaderLeaseName);
    q.addBindValue(now);
    if (!q.exec())
        return sqlError(q, QStringLiteral("listing the nodes"));
    QList<NodeRecord> nodes;
    while (q.next())
        nodes.append(nodeFrom(q));
    std::sort(nodes.begin(), nodes.end(),
              [](const NodeRecord &a, const NodeRecord &b) { return a.id < b.id; });
    return nodes;
}

Result<bool> SqlStore::acquireClusterLease(const QString &name,
                                           const QString &holder,
                                           qint64 now,
                                           qint64 expiresAt)
{
    const auto turn = writeTurn();
    auto db = this->db();
    if (!db)
        return db.error();
    // One statement in autocommit: of two nodes upserting at once (PostgreSQL), the second waits
    // for the first's row and re-checks the WHERE against it, so exactly one holds the lease.
    QSqlQuery q(*db);
    q.prepare(s_acquireLease);
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

Result<void> SqlStore::releaseClusterLease(const QString &name, const QString &holder)
{
    auto released =
        writeStatement(QStringLiteral("DELETE FROM cluster_leases WHERE name = ? AND holder = ?"),
                       {name, holder}, QStringLiteral("releasing the %1 lease").arg(name));
    if (!released)
        return released.error();
    return {};
}

Result<DeadNodeRescue>
SqlStore::rescueDeadNodes(qint64 heartbeatBefore, const QString &self, qint64 now)
{
    DeadNodeRescue result;
    {
        const auto turn = writeTurn();
        auto db = this->db();
        if (!db)
            return db.error();
        // SQLite's BEGIN and COMMIT are statements prepared once per thread; PostgreSQL's go as
        // they are (QPSQL does not prepare them).
        SqlTransaction transaction(*db, m_sql.isPostgres() ? nullptr : &m_pool);
        if (auto begun = transaction.begin(); !begun)
            return begun.error();
        QSqlQuery dead(*db);
        dead.prepare(s_deadNodes);
        dead.addBindValue(heartbeatBefore);
        dead.addBindValue(self);
        if (!dead.exec())
            return sqlError(dead, QStringLiteral("finding dead nodes"));
        while (dead.next())
            result.nodes.append(dead.value(0).toString());
        dead.finish();
        if (result.nodes.isEmpty())
            return result;
        auto ended = endDeadNodeSessions(*db, result.nodes);
        if (!ended)
            return ended.error();
        result.sessionsEnded = *ended;
        if (auto expired = execWrite(*db, s_expireDeadLeases, {now - 1, heartbeatBefore, self},
                                     QStringLiteral("ending the leases of dead nodes"));
            !expired)
            return expired.error();
        if (auto removed = execWrite(*db, s_deleteDeadNodes, {heartbeatBefore, self},
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

Result<qint64> SqlStore::databaseTimeMs()
{
    auto db = this->db();
    if (!db)
        return db.error();
    // clock_timestamp(), not now(): the time of this read, not of its transaction's start.
    // SQLite's is the machine's clock (one machine), read for symmetry only.
    QSqlQuery q(*db);
    if (!q.exec(
            m_sql.isPostgres()
                ? QStringLiteral("SELECT (extract(epoch from clock_timestamp()) * 1000)::bigint")
                : QStringLiteral("SELECT CAST((julianday('now') - 2440587.5) * 86400000.0 "
                                 "AS INTEGER)")) ||
        !q.next())
        return sqlError(q, QStringLiteral("reading the database's clock"));
    return q.value(0).toLongLong();
}

Result<int> SqlStore::endDeadNodeSessions(QSqlDatabase &, const QStringList &)
{
    return 0;
}

// One statement outside any transaction of its own, in the writers' turn; returns the rows it
// changed.
Result<int>
SqlStore::writeStatement(const QString &sql, const QVariantList &values, const QString &doing)
{
    const auto turn = writeTurn();
    auto db = this->db();
    if (!db)
        return db.error();
    return execWrite(*db, sql, values, doing);
}

} // namespace Ferry
