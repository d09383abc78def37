// EngineHost, cluster membership: the node registry and leader lease (ClusterNode, also for an
// observer), and on PostgreSQL LISTEN/NOTIFY and the settings follower (the rest of the wiring is
// in enginehost.cpp).
#include "enginehost.h"

#include <QLoggingCategory>

namespace Ferry {

Q_LOGGING_CATEGORY(lcHostCluster, "ferry.engine")

// --- Cluster: nodes, heartbeats, the leader, LISTEN/NOTIFY (engine/cluster/; docs/architecture.md,
// "Cluster"). On SQLite the one engine registers too (the console lists it) and always leads. ---
void EngineHost::createCluster()
{
    const bool sqlite = m_config.database.backend == DatabaseConfig::Backend::Sqlite;
    ClusterNode::Options options;
    options.nodeId = m_nodeId;
    options.version = QStringLiteral(FERRY_VERSION_STRING);
    options.exclusiveStore = sqlite;
    options.observer = m_role == Role::Observer;
    // A dead node's jobs come back within one job lease: it is declared dead after half a lease
    // without a heartbeat, and a dead leader's lease (a third of a job lease) passes to another
    // node in time to do it.
    options.deadAfterMs = qMax<qint64>(3 * options.heartbeatIntervalMs, m_config.queue.leaseMs / 2);
    options.leaderLeaseMs =
        qMax<qint64>(2 * options.heartbeatIntervalMs, m_config.queue.leaseMs / 3);
    if (m_dispatcher) {
        options.runningJobs = [dispatcher = m_dispatcher.get()] {
            return dispatcher->runningCount();
        };
    }
    options.rssBytes = [probe = m_probe.get()]() -> qint64 {
        auto rss = probe->processRssBytes();
        return rss ? *rss : -1;
    };
    options.jobsRescued = [queue = m_queue.get()](int) { queue->announceRemoteEnqueue(); };
    options.databaseClock = sqlite ? nullptr : &m_clock;
    m_cluster = std::make_unique<ClusterNode>(*m_store, m_clock, std::move(options));
    // Once-per-cluster maintenance (ageing, pruning, session files) only on the leader.
    if (m_dispatcher)
        m_dispatcher->setLeaderGate([cluster = m_cluster.get()] { return cluster->isLeader(); });
    if (!sqlite) {
        NotificationListener::Callbacks callbacks;
        callbacks.jobsEnqueued = [this, queue = m_queue.get()] {
            queue->announceRemoteEnqueue();
            if (m_eventHub) // events: another node's jobs changed
                m_eventHub->wake();
        };
        callbacks.cancelRequested = [queue = m_queue.get()](qint64 id) {
            queue->announceRemoteCancel(id);
        };
        // A pause (or per-user cap) set by another node or process applies here at once; so
        // does a console setting saved on another node (rate limit, proxies, job defaults...).
        callbacks.settingChanged = [this, queue = m_queue.get()](const QString &key) {
            if (key.startsWith(u"console.")) {
                if (m_settingsFollower)
                    m_settingsFollower->requestReload();
                return;
            }
            queue->reloadPaused();
        };
        // Held back by --cluster-max-running: jobs ended on another node, claim now.
        if (m_config.queue.clusterMaxRunning > 0 && m_dispatcher) {
            callbacks.slotsFreed = [queue = m_queue.get()] { queue->announceRemoteEnqueue(); };
        }
        m_listener =
            std::make_unique<NotificationListener>(m_config.database, std::move(callbacks));
    }
}

Result<void> EngineHost::startCluster()
{
    if (m_httpPort != 0) // an observer listens nowhere: its address stays empty
        m_cluster->setAddress(QStringLiteral("%1:%2").arg(m_config.listenHost).arg(m_httpPort));
    if (auto started = m_cluster->start(); !started)
        return started;
    if (m_listener) {
        // Console settings saved on other nodes: at their NOTIFY, and every 10 s in case one
        // was lost while the listener reconnected. Created once every applier is registered.
        m_settingsFollower = std::make_unique<SettingsFollower>(*m_settings, 10'000);
        // Not fatal: the dispatcher polls, and the listener keeps trying to connect.
        if (auto listening = m_listener->start(); !listening)
            qCWarning(lcHostCluster) << listening.error().toString();
    }
    return {};
}
// --- end cluster ---

} // namespace Ferry
