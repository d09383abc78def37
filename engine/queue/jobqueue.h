#pragma once

#include "core/clock.h"
#include "queue/handlerregistry.h"
#include "queue/queueconfig.h"
#include "store/store.h"

#include <QMutex>
#include <QObject>

#include <atomic>

namespace Ferry {

// Told synchronously, on the caller's thread, when the queue changes; the dispatcher uses it to
// wake at once instead of polling.
class QueueObserver
{
public:
    virtual ~QueueObserver() = default;
    virtual void jobsEnqueued(int count) = 0;
    virtual void cancelRequested(qint64 jobId) = 0;
    virtual void pausedChanged(bool paused) = 0;
    // Per-user cap: the cap changed (a raised cap may let more jobs start).
    virtual void maxPerUserChanged(int /*cap*/) {}
};

// The durable job queue's public face: validates requests, fills defaults, writes through the
// store and wakes the dispatcher. Thread-safe: call it from any thread (HTTP, GUI, pool).
class JobQueue final : public QObject
{
    Q_OBJECT
public:
    JobQueue(Store &store,
             const HandlerRegistry &handlers,
             const Clock &clock,
             QueueConfig config,
             QObject *parent = nullptr);
    ~JobQueue() override;
    Q_DISABLE_COPY_MOVE(JobQueue)

    Result<EnqueuedJob> enqueue(NewJob job);
    // All or nothing, in one transaction.
    Result<QList<EnqueuedJob>> enqueueBatch(QList<NewJob> jobs);

    // userId empty: operator access to every user's jobs.
    Result<JobStatus> cancel(qint64 jobId, std::optional<qint64> userId = std::nullopt);
    Result<void> retry(qint64 jobId, std::optional<qint64> userId = std::nullopt);
    Result<void>
    setPriority(qint64 jobId, int priority, std::optional<qint64> userId = std::nullopt);

    // Paused: running jobs finish, nothing new starts. Persisted across restarts.
    Result<void> setPaused(bool paused);
    bool isPaused() const { return m_paused.load(); }
    // Re-reads the persisted flag (another process may have changed it).
    void reloadPaused();

    // Per-user cap: at most this many running jobs per user (0 = no cap). Applied at the next
    // claim; running jobs are not interrupted. Persisted across restarts (setting
    // queue.maxPerUser); a value saved by the operator wins over QueueConfig::maxPerUser.
    Result<void> setMaxPerUser(int cap);
    int maxPerUser() const { return m_maxPerUser.load(); }
    void reloadMaxPerUser();

    const QueueConfig &config() const { return m_config; }
    // What a job that names no timeout or attempt count gets, from the next enqueue on
    // (thread-safe; the console's Settings page). timeoutMs >= 0 (0: none), maxAttempts in
    // 1..100; anything else is refused.
    Result<void> setJobDefaults(qint64 timeoutMs, int maxAttempts);
    qint64 defaultTimeoutMs() const { return m_defaultTimeoutMs.load(); }
    int defaultMaxAttempts() const { return m_defaultMaxAttempts.load(); }
    Store &store() { return m_store; }

    // Cluster (engine/cluster/): another node enqueued jobs, or asked to cancel a running job
    // (LISTEN/NOTIFY). The observers (this node's dispatcher) react as to a local change.
    void announceRemoteEnqueue();
    void announceRemoteCancel(qint64 jobId);

    void addObserver(QueueObserver *observer);
    void removeObserver(QueueObserver *observer);

    static Result<void> validatePriority(int priority);

Q_SIGNALS:
    void jobsEnqueued(int count);
    void pausedChanged(bool paused);
    void maxPerUserChanged(int cap);

private:
    Result<void> prepare(NewJob &job) const;
    void reloadMaxPerUserLocked();
    void applyMaxPerUser(int cap);
    template<typename F>
    void notify(F &&f);

    Store &m_store;
    const HandlerRegistry &m_handlers;
    const Clock &m_clock;
    QueueConfig m_config;
    std::atomic<qint64> m_defaultTimeoutMs;
    std::atomic<int> m_defaultMaxAttempts;
    QMutex m_pausedMutex; // orders writes and reloads of the persisted flag
    std::atomic<bool> m_paused{false};
    std::atomic<int> m_maxPerUser{0}; // per-user cap; guarded for writes by m_pausedMutex
    QMutex m_observersMutex;
    QList<QueueObserver *> m_observers;
};

} // namespace Ferry
