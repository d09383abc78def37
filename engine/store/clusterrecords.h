#pragma once

#include "store/records.h"

#include <QList>
#include <QString>
#include <QStringList>

namespace Ferry {

// One Ferry node sharing the database (table `nodes`, migration 0009; engine/cluster/).
struct NodeRecord
{
    QString id;      // engine/core/nodeid: the lease_owner of its jobs
    QString address; // where its HTTP endpoint listens; empty when not listening
    QString version;
    qint64 startedAt = 0;   // epoch ms
    qint64 heartbeatAt = 0; // epoch ms
    int runningJobs = 0;
    qint64 rssBytes = -1; // -1: unknown
    bool leader = false;  // read only: holds the leader lease (Store::nodes)
    // A console that observes the cluster (`ferry --observe`): it runs no job, serves no HTTP and
    // never takes the leader lease. Column nodes.role, 'observer' or 'worker' (migration 0019).
    bool observer = false;
};

// What Store::rescueDeadNodes did: the nodes declared dead (rows deleted) and the jobs returned.
struct DeadNodeRescue
{
    QStringList nodes;
    QList<RescuedJob> jobs;
    int sessionsEnded = 0; // PostgreSQL: the dead nodes' sessions that were terminated
};

// The lease that elects the cluster's leader (cluster_leases.name).
inline const QString LeaderLeaseName = QStringLiteral("leader");

} // namespace Ferry
