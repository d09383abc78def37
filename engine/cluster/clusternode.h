#pragma once

#include "core/clock.h"
#include "core/databaseclock.h"
#include "store/clusterstore.h"

#include <QObject>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>

class QThread;
class QTimer;

namespace Ferry {

// This node's membership of the cluster (several Ferry nodes on one PostgreSQL; SQLite is a
// cluster of one): on its own thread (`ferry-cluster`), every heartbeat interval it
//  0. reads the database's clock (with a databaseClock: the times below are the database's);
//  1. upserts its `nodes` row (address, running jobs, RSS, version, heartbeat time);
//  2. (not an observer) takes or renews the leader lease (Store::acquireClusterLease); failing
//     to, or failing to reach the database, ends its leadership at once;
//  3. as leader, rescues the jobs of nodes whose heartbeat is older than deadAfterMs
//     (Store::rescueDeadNodes) and runs the leader tasks added with addLeaderTask.
// isLeader() gates the once-per-cluster maintenance elsewhere (the dispatcher's ageing and
// pruning, stale tus uploads, sessions). It is true only until the lease it last renewed
// expires, by the clock it was given (the database's, through DatabaseClock, on PostgreSQL),
// even when a tick hangs on the database.
class ClusterNode final : public QObject
{
    Q_OBJECT
public:
    struct Options
    {
        QString nodeId; // engine/core/nodeid: the lease_owner of this node's jobs
        QString address;
        QString version;
        qint64 heartbeatIntervalMs = 2'000;
        qint64 leaderLeaseMs = 10'000; // renewed every heartbeat; a dead leader's lasts this long
        qint64 deadAfterMs = 15'000;   // heartbeat age that makes a node dead (half a job lease)
        // SQLite: the only engine on the store (its lock file proves it), hence always leader;
        // it takes over a lease a crashed predecessor left behind at once.
        bool exclusiveStore = false;
        // A console observing the cluster (`ferry --observe`): registered (role 'observer') and
        // heartbeating, so the Nodes page lists it, but it never takes the leader lease, so it
        // never rescues dead nodes or runs leader tasks.
        bool observer = false;
        std::function<int()> runningJobs;     // Dispatcher::runningCount
        std::function<qint64()> rssBytes;     // ProcProbe; -1 when unknown
        std::function<void(int)> jobsRescued; // jobs of dead nodes back in the queue (wake)
        // PostgreSQL: the engine's clock, which learns the database's time at every tick (and
        // is the clock passed to the constructor). Null: the clock is taken as it is (SQLite,
        // tests with a ManualClock).
        DatabaseClock *databaseClock = nullptr;
    };

    ClusterNode(ClusterStore &store,
                const Clock &clock,
                Options options,
                QObject *parent = nullptr);
    ~ClusterNode() override; // stop()s
    Q_DISABLE_COPY_MOVE(ClusterNode)

    // Registers at once (first tick on the caller's thread), then ticks on its own thread.
    Result<void> start();
    // Stops ticking, gives up the leader lease and deletes this node's row.
    void stop();
    // One heartbeat, lease renewal and (as leader) dead-node rescue. Tests call it directly
    // with a ManualClock instead of start().
    void tick();

    bool isLeader() const;
    QString nodeId() const { return m_options.nodeId; }
    // Runs on the cluster thread after each tick while this node leads (once per cluster).
    void addLeaderTask(std::function<void()> task);
    // Changes the address shown in the nodes table (the HTTP port is known after listen()).
    void setAddress(const QString &address);

Q_SIGNALS:
    void leadershipChanged(bool leader); // from the ticking thread
    void deadNodesRescued(const QStringList &nodes, int jobs);

private:
    void setLeaderUntil(qint64 until);

    ClusterStore &m_store;
    const Clock &m_clock;
    Options m_options;
    qint64 m_startedAt = 0;
    std::atomic<qint64> m_leaderUntil{0}; // clock ms; 0 = not leader
    bool m_wasLeader = false;             // as last signalled (tick mutex)
    std::mutex m_tickMutex;
    std::mutex m_stateMutex; // address and tasks
    QString m_address;
    QList<std::function<void()>> m_leaderTasks;
    std::unique_ptr<QThread> m_thread;
    QTimer *m_timer = nullptr; // lives on m_thread
};

} // namespace Ferry
