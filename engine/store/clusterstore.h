#pragma once
// Cluster membership: nodes, heartbeats and the leader lease (engine/cluster/; migration 0009).

#include "core/error.h"
#include "store/clusterrecords.h"

namespace Ferry {

class ClusterStore
{
public:
    virtual ~ClusterStore() = default;

    // Inserts or replaces the node's row (its heartbeat). node.leader is ignored.
    virtual Result<void> upsertNode(const NodeRecord &node) = 0;
    // Deletes the node's row (graceful stop).
    virtual Result<void> removeNode(const QString &nodeId) = 0;
    // Every registered node, by id; leader is set on the holder of the leader lease if it has
    // not expired at `now`.
    virtual Result<QList<NodeRecord>> nodes(qint64 now) = 0;
    // Takes or renews the named lease for holder until expiresAt when it is free, expired
    // (expires_at < now) or already holder's; one atomic upsert. True when holder holds it now.
    virtual Result<bool> acquireClusterLease(const QString &name,
                                             const QString &holder,
                                             qint64 now,
                                             qint64 expiresAt) = 0;
    // Gives the lease up if holder holds it (graceful stop: a successor need not wait).
    virtual Result<void> releaseClusterLease(const QString &name, const QString &holder) = 0;
    // Nodes (never `self`) whose heartbeat is older than heartbeatBefore are dead: their rows
    // are deleted and their running jobs rescued at once, as rescueLeases does for expired
    // leases (pending or dead by attempts, cancelled if requested, a 'lost' attempt recorded).
    virtual Result<DeadNodeRescue>
    rescueDeadNodes(qint64 heartbeatBefore, const QString &self, qint64 now) = 0;
    // The database server's clock, in ms since the epoch (DatabaseClock learns the offset of
    // this node's clock from it at every heartbeat: every node then counts in one time).
    virtual Result<qint64> databaseTimeMs() = 0;

protected:
    ClusterStore() = default;
    Q_DISABLE_COPY_MOVE(ClusterStore)
};

} // namespace Ferry
