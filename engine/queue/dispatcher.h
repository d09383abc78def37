#pragma once

#include "core/clock.h"
#include "queue/backoff.h"
#include "queue/handlerregistry.h"
#include "queue/jobqueue.h"
#include "queue/queueconfig.h"

#include <QObject>

#include <memory>

namespace Ferry {

// Runs queued jobs on a QThreadPool. One dispatch thread owns all writes of the run cycle: it
// settles finished attempts and claims new jobs in one transaction, renews leases, enforces
// timeouts, rescues lost jobs and prunes old ones. Workers never touch the database themselves
// for the cycle; they hand their outcome back to the dispatch thread.
//
// Signals are emitted on the dispatch thread; connect with Qt::QueuedConnection (the default
// across threads).
class Dispatcher final : public QObject, private QueueObserver
{
    Q_OBJECT
public:
    Dispatcher(JobQueue &queue,
               const HandlerRegistry &handlers,
               const Clock &clock,
               QString nodeId,
               QObject *parent = nullptr);
    ~Dispatcher() override; // stop()s if needed
    Q_DISABLE_COPY_MOVE(Dispatcher)

    // Rescues what a crashed predecessor left running, then starts dispatching.
    Result<void> start();
    // Stops claiming, asks running jobs to stop, waits up to the grace period, and releases
    // the leases of jobs that did not finish so they restart promptly elsewhere or next time.
    void stop();

    // The operator's maximum (--max-concurrency, the console).
    Result<void> setMaxConcurrency(int limit);
    int maxConcurrency() const;
    // The resource governor's cap, kept apart from the operator's maximum: at most
    // min(maxConcurrency(), cap) jobs run. 0 removes the cap. Running jobs are never stopped;
    // workers above the new limit exit after their current job. Thread-safe.
    void setResourceLimit(int cap);
    int resourceLimit() const; // 0 = none
    int effectiveConcurrency() const;
    // While paused (free disk below the floor) nothing new is claimed; what runs finishes and
    // is settled. Separate from the queue's operator pause. Thread-safe.
    void setClaimingPaused(bool paused);
    bool claimingPaused() const;
    int runningCount() const;
    QString nodeId() const;

    // Runs on the dispatch thread after each hourly pruning of finished jobs, with the cut-off
    // (for what hangs off pruned jobs, such as upload sessions and their files). Set before
    // start().
    void setRetentionHook(std::function<void(qint64 cutoffMs)> hook);

    // Cluster: once-per-cluster maintenance (ageing, pruning and the retention hook) runs only
    // while the gate returns true (ClusterNode::isLeader). Unset: always. Set before start().
    void setLeaderGate(std::function<bool()> gate);

    // Test and benchmark hook: the random source of the retry backoff.
    void setBackoffRandom(std::function<double()> random);
    // Test hook: runs on the dispatch thread at the top of every cycle; a test blocks in it to
    // stall the loop (as a frozen VM would). Set before start().
    void setCycleHook(std::function<void()> hook);

Q_SIGNALS:
    void jobStarted(qint64 jobId);
    // status: a JobStatus value. error: what the attempt ended with, typed: the handler's error
    // (Failed; Pending for a retry; Dead, whose stored text adds "(gave up after N attempts)")
    // or a timeout (ErrorCode::Unavailable). None for a completed, cancelled, released or lost
    // attempt. The job's stored error is its text, Error::toString().
    void jobFinished(qint64 jobId, int status, const std::optional<Ferry::Error> &error);
    void storeError(const Ferry::Error &error);

private:
    void jobsEnqueued(int count) override;
    void cancelRequested(qint64 jobId) override;
    void pausedChanged(bool paused) override;
    void maxPerUserChanged(int cap) override;

    std::unique_ptr<class DispatchLoop> m_loop;
    JobQueue &m_queue;
};

} // namespace Ferry
