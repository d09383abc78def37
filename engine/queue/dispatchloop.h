#pragma once

#include "core/clock.h"
#include "queue/backoff.h"
#include "queue/handlerregistry.h"
#include "queue/jobqueue.h"

#include <QMutex>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

class QThreadPool;

namespace Ferry {

// The dispatch thread behind Dispatcher (see dispatcher.h for the contract).
class DispatchLoop final
{
public:
    struct Callbacks
    {
        std::function<void(qint64)> started;
        // The error is what the attempt ended with (see Dispatcher::jobFinished).
        std::function<void(qint64, JobStatus, const std::optional<Error> &)> finished;
        std::function<void(const Error &)> storeError;
    };

    DispatchLoop(JobQueue &queue,
                 const HandlerRegistry &handlers,
                 const Clock &clock,
                 QString nodeId,
                 Callbacks callbacks);
    ~DispatchLoop();
    Q_DISABLE_COPY_MOVE(DispatchLoop)

    Result<void> start();
    void stop();
    void wake();
    void cancelLocal(qint64 jobId, CancelReason reason);
    void setLimit(int limit);
    int limit() const { return m_limit.load(); }
    // The resource governor's side (see Dispatcher::setResourceLimit).
    void setResourceLimit(int cap);
    int resourceLimit() const { return m_resourceLimit.load(); }
    int effectiveLimit() const;
    void setClaimingPaused(bool paused);
    bool claimingPaused() const { return m_claimingPaused.load(); }
    int runningCount() const; // executing now (not the claimed ones waiting for a worker)
    QString nodeId() const { return m_node; }
    void setBackoffRandom(std::function<double()> random);
    void setRetentionHook(std::function<void(qint64)> hook) { m_retentionHook = std::move(hook); }
    void setLeaderGate(std::function<bool()> gate) { m_leaderGate = std::move(gate); }
    // Test hook: runs on the dispatch thread at the top of every cycle (a test blocks in it to
    // stall the loop past its lease, as a frozen VM would).
    void setCycleHook(std::function<void()> hook) { m_cycleHook = std::move(hook); }

private:
    using SteadyTime = std::chrono::steady_clock::time_point;

    struct Completion
    {
        qint64 jobId = 0;
        qint64 leaseToken = 0; // which attempt of the job ended
        JobOutcome outcome;
        qint64 durationNs = 0;
    };
    struct Task
    {
        ClaimedJob job;
        std::shared_ptr<RunState> state;
        std::shared_ptr<JobHandler> handler;
    };
    // Shared with workers: a worker stuck past shutdown may outlive the loop.
    struct Inbox
    {
        std::mutex mutex;
        std::condition_variable wakeUp;
        std::deque<Task> ready;              // claimed, waiting for a worker
        std::vector<Completion> completions; // finished, waiting to be written
        int activeWorkers = 0;               // worker loops on the pool
        int limit = 0;                       // how many may run at once
        bool wakeRequested = false;
        bool stopping = false;
        bool paused = false;
        std::function<void(qint64)> started;
    };
    struct Running
    {
        ClaimedJob job;
        std::shared_ptr<RunState> state;
    };

    void run();
    int ownedCount() const; // claimed by this node and not yet settled (running or waiting)
    static void workerLoop(const std::shared_ptr<Inbox> &inbox);
    void hand(const QList<ClaimedJob> &claimed); // claimed jobs join the ready queue
    void startWaiting(qint64 jobId); // a waiting attempt's predecessor ended: it may run now
    void startWorkers();             // one worker loop per free slot
    int prefetch() const;
    QList<SettledAttempt> takeBackReady(qint64 now);
    // An ended attempt: what the store writes, and the error it ended with, typed (the store
    // keeps only its text; jobFinished carries the type).
    struct Settled
    {
        SettledAttempt attempt;
        std::optional<Error> error;
    };
    Settled settle(const Running &running, const JobOutcome &outcome, qint64 now);
    void maintain(qint64 now, SteadyTime steadyNow);
    void releaseRemaining(qint64 now);
    void renewHeldLeases(qint64 now, SteadyTime steadyNow);
    void stopLostLeases(const QList<qint64> &held); // cancels attempts whose lease is gone
    void reportStoreError(const Error &error);

    JobQueue &m_queue;
    JobStore &m_store;
    const HandlerRegistry &m_handlers;
    const Clock &m_clock;
    const QueueConfig m_config;
    const QString m_node;
    Callbacks m_callbacks;
    Backoff m_backoff;
    std::function<void(qint64)> m_retentionHook;
    std::function<bool()> m_leaderGate; // cluster: once-per-cluster maintenance only when true
    std::function<void()> m_cycleHook;  // tests only

    std::shared_ptr<Inbox> m_inbox;
    QThreadPool *m_workers; // owned; deliberately leaked if a handler ignores shutdown
    std::thread m_thread;
    std::atomic<int> m_limit;            // the operator's maximum
    std::atomic<int> m_resourceLimit{0}; // the governor's cap; 0 = none
    std::atomic<bool> m_claimingPaused{false};

    mutable QMutex m_runningMutex;
    std::unordered_map<qint64, Running> m_running; // written on the dispatch thread only
    // One attempt per job on this node: a job claimed again while an attempt of it whose lease
    // was lost still runs here (this node stalled past its lease, another node rescued the job,
    // this one claimed it back) waits here, not in the ready queue, until that attempt ends.
    std::unordered_map<qint64, Running> m_waiting; // guarded by m_runningMutex as m_running

    // Dispatch-thread state.
    double m_averageJobMs = 1000.0; // moving average of handler run time; drives prefetch
    // Moving average of one settle-and-claim's duration: about 0.1 ms on SQLite, a round trip to
    // the server on PostgreSQL. Prefetch covers it (DispatchLoop::prefetch).
    double m_averageCycleMs = 0.0;
    bool m_readyMaybe = true;
    bool m_claimRefusedByPause = false; // the last claim found the persisted pause set
    qint64 m_nextRetryAt = std::numeric_limits<qint64>::max();
    SteadyTime m_nextPoll{};
    SteadyTime m_nextMaintenance{};
    SteadyTime m_nextProgressFlush{};
    SteadyTime m_nextRenewal{};
    SteadyTime m_nextRescue{};
    SteadyTime m_nextPrune{};
    SteadyTime m_nextAging{};
    SteadyTime m_nextErrorReport{};
};

} // namespace Ferry
