#include "clusternode.h"

#include "store/connectionpool.h"

#include <QLoggingCategory>
#include <QThread>
#include <QTimer>

#include <limits>

namespace Ferry {

Q_LOGGING_CATEGORY(lcCluster, "ferry.cluster")

ClusterNode::ClusterNode(ClusterStore &store, const Clock &clock, Options options, QObject *parent)
    : QObject(parent)
    , m_store(store)
    , m_clock(clock)
    , m_options(std::move(options))
    , m_address(m_options.address)
{}

ClusterNode::~ClusterNode()
{
    stop();
}

void ClusterNode::setAddress(const QString &address)
{
    std::lock_guard lock(m_stateMutex);
    m_address = address;
}

void ClusterNode::addLeaderTask(std::function<void()> task)
{
    std::lock_guard lock(m_stateMutex);
    m_leaderTasks.append(std::move(task));
}

bool ClusterNode::isLeader() const
{
    if (m_options.observer)
        return false;
    if (m_options.exclusiveStore)
        return true;
    return m_clock.nowMs() < m_leaderUntil.load();
}

void ClusterNode::setLeaderUntil(qint64 until)
{
    m_leaderUntil.store(until);
    const bool leader = until > 0;
    if (leader != m_wasLeader) {
        m_wasLeader = leader;
        qCInfo(lcCluster).noquote() << "node" << m_options.nodeId
                                    << (leader ? "is now the leader" : "is no longer the leader");
        Q_EMIT leadershipChanged(leader);
    }
}

Result<void> ClusterNode::start()
{
    if (m_thread)
        return {};
    m_startedAt = m_clock.nowMs();
    // Register before anything runs, so a node that cannot reach its database says so at start.
    NodeRecord self;
    self.id = m_options.nodeId;
    self.address = m_address;
    self.version = m_options.version;
    self.startedAt = m_startedAt;
    self.heartbeatAt = m_startedAt;
    self.runningJobs = 0;
    self.rssBytes = m_options.rssBytes ? m_options.rssBytes() : -1;
    self.observer = m_options.observer;
    if (auto registered = m_store.upsertNode(self); !registered)
        return registered.error();
    tick();
    m_thread = std::make_unique<QThread>();
    m_thread->setObjectName(QStringLiteral("ferry-cluster"));
    m_timer = new QTimer; // deleted on its thread when the thread finishes
    m_timer->setInterval(int(m_options.heartbeatIntervalMs));
    m_timer->moveToThread(m_thread.get());
    connect(m_timer, &QTimer::timeout, m_timer, [this] { tick(); });
    connect(m_thread.get(), &QThread::finished, m_timer, &QObject::deleteLater);
    // The heartbeat must get a connection even when every ordinary one is busy: a node whose
    // heartbeat waits is declared dead by the others, and its jobs are taken from it.
    connect(
        m_thread.get(), &QThread::started, m_timer, [] { ConnectionPool::reserveForThisThread(); },
        Qt::DirectConnection);
    m_thread->start();
    QMetaObject::invokeMethod(m_timer, qOverload<>(&QTimer::start));
    return {};
}

void ClusterNode::stop()
{
    if (m_thread) {
        QMetaObject::invokeMethod(m_timer, &QTimer::stop, Qt::BlockingQueuedConnection);
        m_thread->quit();
        m_thread->wait();
        m_thread.reset();
        m_timer = nullptr;
    }
    if (m_startedAt == 0)
        return;
    std::lock_guard lock(m_tickMutex);
    setLeaderUntil(0);
    if (!m_options.observer) { // an observer held no lease
        if (auto released = m_store.releaseClusterLease(LeaderLeaseName, m_options.nodeId);
            !released)
            qCWarning(lcCluster) << released.error().toString();
    }
    if (auto removed = m_store.removeNode(m_options.nodeId); !removed)
        qCWarning(lcCluster) << removed.error().toString();
    m_startedAt = 0;
}

void ClusterNode::tick()
{
    std::lock_guard lock(m_tickMutex);
    if (m_options.databaseClock) {
        // Before the times of this tick are taken: heartbeats, the leader lease and dead-node
        // detection count in the database's time, so a node whose clock is off by minutes
        // neither looks dead nor takes a lease that is still held (issue 17).
        if (auto read =
                m_options.databaseClock->learnFrom([this] { return m_store.databaseTimeMs(); });
            !read)
            qCWarning(lcCluster) << "database clock:" << read.error().toString();
    }
    const qint64 now = m_clock.nowMs();
    if (m_startedAt == 0)
        m_startedAt = now;
    NodeRecord self;
    self.id = m_options.nodeId;
    {
        std::lock_guard state(m_stateMutex);
        self.address = m_address;
    }
    self.version = m_options.version;
    self.startedAt = m_startedAt;
    self.heartbeatAt = now;
    self.runningJobs = m_options.runningJobs ? m_options.runningJobs() : 0;
    self.rssBytes = m_options.rssBytes ? m_options.rssBytes() : -1;
    self.observer = m_options.observer;
    if (auto beat = m_store.upsertNode(self); !beat)
        qCWarning(lcCluster) << "heartbeat:" << beat.error().toString();
    if (m_options.observer)
        return; // never a candidate for the leader lease

    // The lease, renewed every tick. An exclusive store (SQLite) takes over whatever a crashed
    // predecessor left: it passes "now" as the end of time, so any lease counts as expired.
    const qint64 leaseNow = m_options.exclusiveStore ? std::numeric_limits<qint64>::max() : now;
    auto held = m_store.acquireClusterLease(LeaderLeaseName, m_options.nodeId, leaseNow,
                                            now + m_options.leaderLeaseMs);
    if (!held) {
        qCWarning(lcCluster) << "leader lease:" << held.error().toString();
        setLeaderUntil(0); // cannot prove the lease: stop leader work at once
        return;
    }
    setLeaderUntil(*held ? now + m_options.leaderLeaseMs : 0);
    if (!isLeader())
        return;

    auto rescued = m_store.rescueDeadNodes(now - m_options.deadAfterMs, m_options.nodeId, now);
    if (!rescued) {
        qCWarning(lcCluster) << "dead-node rescue:" << rescued.error().toString();
    } else if (!rescued->nodes.isEmpty()) {
        qCWarning(lcCluster).noquote()
            << "nodes without a heartbeat for" << m_options.deadAfterMs
            << "ms:" << rescued->nodes.join(QStringLiteral(", ")) << "- rescued"
            << rescued->jobs.size() << "of their jobs, ended" << rescued->sessionsEnded
            << "of their database sessions";
        if (m_options.jobsRescued && !rescued->jobs.isEmpty())
            m_options.jobsRescued(int(rescued->jobs.size()));
        Q_EMIT deadNodesRescued(rescued->nodes, int(rescued->jobs.size()));
    }
    QList<std::function<void()>> tasks;
    {
        std::lock_guard state(m_stateMutex);
        tasks = m_leaderTasks;
    }
    for (const auto &task : std::as_const(tasks)) {
        if (!isLeader())
            break; // lost it meanwhile (by the clock): stop at once
        task();
    }
}

} // namespace Ferry
