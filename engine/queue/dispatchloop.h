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
#include <memory>
#include <mutex>
#include <optional>
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
    // One settle-and-claim: the attempts it writes, how many jobs it asks for, and what came
    // back. Run inline on the dispatch thread, or on the cycle pool when the store runs several
    // at once (JobStore::parallelCycles), each then overlapping the one before.
    struct Cycle
    {
        QList<SettledAttempt> settled;
        QList<std::optional<Error>> errors; // what each settled attempt ended with (see run())
        int capacity = 0;
        qint64 now = 0;
        quint64 readyGeneration = 0; // m_readyGeneration when it was sent
        quint64 sequence = 0;        // order of sending
        bool onLane = false;         // sent to the cycle pool (not run inline)
        std::optional<Result<QList<ClaimedJob>>> claimed;
        bool refusedByPause = false; // the store found the persisted pause set
        double durationMs = 0;
    };
    // Shared with workers: a worker stuck past shutdown may outlive the loop.
    struct Inbox
    {
        std::mutex mutex;
        std::condition_variable wakeUp;
        std::deque<Task> ready;              // claimed, waiting for a worker
        std::vector<Completion> completions; // finished, waiting to be written
        std::vector<Cycle> cycles;           // back from the cycle pool, waiting to be absorbed
        int activeWorkers = 0;               // worker loops on the pool
        int limit = 0;                       // how many may run at once
        bool wakeRequested = false;
        bool stopping = false;
        // Paused by the operator, or claiming paused (the disk floor): no claimed job starts;
        // the dispatch thread hands them back.
        bool holding = false;
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
    // Cycles (dispatchcycles.cpp). sendCycle() writes the unsettled attempts and claims up to
    // capacity jobs; absorb() hands the claimed jobs over and reports the settled ones.
    bool canSendCycle(SteadyTime now) const;
    void sendCycle(int capacity, qint64 now);
    void runCycle(Cycle &cycle); // any thread: the store's round trip
    void absorb(Cycle &cycle);
    void markReady(); // a claim may find work now (a wake, the poll, a retry falling due)
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
    static QJsonObject progressJson(const JobProgress &progress);

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
    const int m_lanes;      // cycles at once (JobStore::parallelCycles)
    std::unique_ptr<QThreadPool> m_cyclePool; // runs them when m_lanes > 1
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
    // Counts markReady(): a claim that comes back short clears m_readyMaybe only if nothing
    // made work ready since it was sent (a cycle in flight cannot see a wake that came after).
    quint64 m_readyGeneration = 0;
    // Cycles may come back out of order: only the latest sent one that has come back says
    // whether more jobs are ready.
    quint64 m_cyclesSent = 0;
    quint64 m_readyDecidedBy = 0;
    QList<SettledAttempt> m_unsettled; // finished attempts not yet written (kept across errors)
    // What each of them ended with (same order; none for completed, cancelled, released or lost
    // attempts). Kept beside, not in, SettledAttempt: the store writes only the error's text.
    QList<std::optional<Error>> m_unsettledErrors;
    int m_cyclesInFlight = 0;    // sent to the cycle pool, not absorbed yet
    int m_claimsInFlight = 0;    // the capacity they asked for
    SteadyTime m_cycleRetryAt{}; // after a store error: no cycle before this
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
