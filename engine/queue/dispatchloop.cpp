#include "dispatchloop.h"

#include <QLoggingCategory>
#include <QThread>
#include <QThreadPool>

namespace Ferry {

Q_LOGGING_CATEGORY(lcDispatch, "ferry.dispatch")

namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

constexpr auto MaintenanceInterval = 250ms;

std::chrono::milliseconds ms(qint64 value)
{
    return std::chrono::milliseconds(value);
}

} // namespace

QJsonObject DispatchLoop::progressJson(const JobProgress &progress)
{
    QJsonObject json = progress.detail;
    json.insert(QStringLiteral("done"), double(progress.done));
    json.insert(QStringLiteral("total"), double(progress.total));
    json.insert(QStringLiteral("unit"), progress.unit);
    return json;
}

DispatchLoop::DispatchLoop(JobQueue &queue,
                           const HandlerRegistry &handlers,
                           const Clock &clock,
                           QString nodeId,
                           Callbacks callbacks)
    : m_queue(queue)
    , m_store(queue.store())
    , m_handlers(handlers)
    , m_clock(clock)
    , m_config(queue.config())
    , m_node(std::move(nodeId))
    , m_callbacks(std::move(callbacks))
    , m_backoff(m_config.backoffBaseMs, m_config.backoffCapMs)
    , m_inbox(std::make_shared<Inbox>())
    , m_workers(new QThreadPool)
    , m_lanes(qMax(1, m_store.parallelCycles()))
    , m_limit(
          qBound(QueueConfig::MinConcurrency, m_config.maxConcurrency, QueueConfig::MaxConcurrency))
{
    m_workers->setMaxThreadCount(QueueConfig::MaxConcurrency);
    m_workers->setObjectName(QStringLiteral("ferry-workers"));
    if (m_lanes > 1) {
        m_cyclePool = std::make_unique<QThreadPool>();
        m_cyclePool->setMaxThreadCount(m_lanes);
        m_cyclePool->setExpiryTimeout(-1); // each lane keeps its thread, and so its connection
        m_cyclePool->setObjectName(QStringLiteral("ferry-dispatch-cycles"));
    }
    m_inbox->limit = effectiveLimit();
    m_inbox->started = m_callbacks.started;
}

DispatchLoop::~DispatchLoop()
{
    stop();
    if (m_workers->waitForDone(0)) {
        delete m_workers;
    } else {
        qCWarning(lcDispatch) << "a job handler ignored shutdown; leaving its thread behind";
    }
}

void DispatchLoop::setBackoffRandom(std::function<double()> random)
{
    m_backoff = Backoff(m_config.backoffBaseMs, m_config.backoffCapMs, std::move(random));
}

Result<void> DispatchLoop::start()
{
    if (m_thread.joinable())
        return {};
    const RescueScope scope =
        m_config.exclusiveStore ? RescueScope::AllButThisNode : RescueScope::ExpiredLeases;
    auto rescued = m_store.rescueLeases(scope, m_node, m_clock.nowMs());
    if (!rescued)
        return rescued.error();
    if (!rescued->isEmpty())
        qCInfo(lcDispatch) << "rescued" << rescued->size() << "jobs left running by a crash";
    {
        std::lock_guard lock(m_inbox->mutex);
        m_inbox->stopping = false;
    }
    m_thread = std::thread([this] {
        QThread::currentThread()->setObjectName(QStringLiteral("ferry-dispatch"));
        run();
    });
    return {};
}

void DispatchLoop::stop()
{
    if (!m_thread.joinable())
        return;
    {
        std::lock_guard lock(m_inbox->mutex);
        m_inbox->stopping = true;
    }
    {
        QMutexLocker lock(&m_runningMutex);
        for (auto &[id, running] : m_running)
            running.state->cancel(CancelReason::Shutdown);
        for (auto &[id, waiting] : m_waiting)
            waiting.state->cancel(CancelReason::Shutdown);
    }
    m_inbox->wakeUp.notify_one();
    m_thread.join();
}

void DispatchLoop::wake()
{
    {
        std::lock_guard lock(m_inbox->mutex);
        m_inbox->wakeRequested = true;
    }
    m_inbox->wakeUp.notify_one();
}

void DispatchLoop::cancelLocal(qint64 jobId, CancelReason reason)
{
    QMutexLocker lock(&m_runningMutex);
    if (auto it = m_running.find(jobId); it != m_running.end())
        it->second.state->cancel(reason);
    if (auto it = m_waiting.find(jobId); it != m_waiting.end())
        it->second.state->cancel(reason);
}

void DispatchLoop::setLimit(int limit)
{
    m_limit.store(limit);
    {
        std::lock_guard lock(m_inbox->mutex);
        m_inbox->limit = effectiveLimit();
    }
    qCInfo(lcDispatch) << "max concurrency set to" << limit;
    wake();
}

void DispatchLoop::setResourceLimit(int cap)
{
    m_resourceLimit.store(qMax(0, cap));
    {
        std::lock_guard lock(m_inbox->mutex);
        m_inbox->limit = effectiveLimit();
    }
    wake();
}

int DispatchLoop::effectiveLimit() const
{
    const int limit = m_limit.load();
    const int cap = m_resourceLimit.load();
    return cap > 0 ? qMin(limit, cap) : limit;
}

void DispatchLoop::setClaimingPaused(bool paused)
{
    m_claimingPaused.store(paused);
    wake();
}

int DispatchLoop::runningCount() const
{
    QMutexLocker lock(&m_runningMutex);
    std::lock_guard inboxLock(m_inbox->mutex);
    return int(m_running.size() - m_inbox->ready.size());
}

int DispatchLoop::ownedCount() const
{
    QMutexLocker lock(&m_runningMutex);
    return int(m_running.size() + m_waiting.size());
}

void DispatchLoop::run()
{
    std::vector<Completion> done;
    std::vector<Cycle> cycles;
    SteadyTime graceDeadline = SteadyTime::max();
    const auto poll = ms(qMax<qint64>(10, m_config.pollIntervalMs));

    while (true) {
        if (m_cycleHook)
            m_cycleHook();
        bool stopping = false;
        const bool paused = m_queue.isPaused();
        const bool holding = paused || m_claimingPaused.load();
        {
            std::unique_lock lock(m_inbox->mutex);
            m_inbox->holding = holding;
            const SteadyTime before = SteadyClock::now();
            const bool canCycle = canSendCycle(before);
            const int capacity = m_claimingPaused.load()
                                     ? 0
                                     : effectiveLimit() + prefetch() -
                                           int(m_running.size() + m_waiting.size()) -
                                           m_claimsInFlight;
            const auto arrived = [this] {
                return !m_inbox->completions.empty() || !m_inbox->cycles.empty();
            };
            const bool work = arrived() || m_inbox->wakeRequested ||
                              (canCycle && (!m_unsettled.isEmpty() ||
                                            (m_readyMaybe && capacity > 0 && !paused))) ||
                              (holding && !m_inbox->ready.empty());
            SteadyTime deadline = std::min(m_nextPoll, m_nextMaintenance);
            if (before < m_cycleRetryAt)
                deadline = std::min(deadline, m_cycleRetryAt); // a store error held cycles back
            if (!m_inbox->stopping) {
                if (!work) {
                    m_inbox->wakeUp.wait_until(lock, deadline, [&] {
                        return m_inbox->wakeRequested || m_inbox->stopping || arrived();
                    });
                }
            } else if (!arrived() && (m_unsettled.isEmpty() || !canCycle)) {
                // Stopping: wait for running jobs to end and cycles in flight to come back.
                m_inbox->wakeUp.wait_until(lock, std::min(graceDeadline, deadline), arrived);
            }
            done.swap(m_inbox->completions);
            cycles.swap(m_inbox->cycles);
            m_inbox->holding = m_queue.isPaused() || m_claimingPaused.load();
            if (m_inbox->wakeRequested)
                markReady();
            m_inbox->wakeRequested = false;
            stopping = m_inbox->stopping;
        }
        const SteadyTime steadyNow = SteadyClock::now();
        const qint64 now = m_clock.nowMs();
        if (stopping && graceDeadline == SteadyTime::max())
            graceDeadline = steadyNow + ms(m_config.shutdownGraceMs);
        if (steadyNow >= m_nextPoll) {
            markReady();
            m_nextPoll = steadyNow + poll;
            m_queue.reloadPaused();
        }
        if (now >= m_nextRetryAt) {
            markReady();
            m_nextRetryAt = std::numeric_limits<qint64>::max();
        }

        for (Cycle &cycle : cycles)
            absorb(cycle);
        cycles.clear();

        if (!done.empty()) {
            QMutexLocker lock(&m_runningMutex);
            for (Completion &completion : done) {
                auto it = m_running.find(completion.jobId);
                if (it == m_running.end() || it->second.job.leaseToken != completion.leaseToken)
                    continue;
                Settled settled = settle(it->second, completion.outcome, now);
                m_unsettled.append(std::move(settled.attempt));
                m_unsettledErrors.append(std::move(settled.error));
                m_running.erase(it);
                startWaiting(completion.jobId);
                m_averageJobMs = 0.9 * m_averageJobMs + 0.1 * double(completion.durationNs) / 1e6;
            }
            done.clear();
            // Per-user cap: a finished job frees its user's slot, so a claim that came back
            // short because of the cap may find work now.
            if (m_queue.maxPerUser() > 0)
                markReady();
        }
        // Paused, claiming paused or stopping: claimed jobs that have not started go back,
        // uncounted, for other nodes (or this one, later) to claim. Among them those of a claim
        // that was in flight when claiming paused.
        if (stopping || m_queue.isPaused() || m_claimingPaused.load()) {
            m_unsettled.append(takeBackReady(now));
            m_unsettledErrors.resize(m_unsettled.size()); // released, not ended by an error
        }

        int capacity = 0;
        if (!stopping && !m_queue.isPaused() && !m_claimingPaused.load() && m_readyMaybe) {
            // Renew before claiming when a renewal is due: after a stall past the lease (a frozen
            // VM, statements hanging), attempts whose lease was lost are stopped first, and a
            // job rescued from this node is not claimed back while it still runs here unseen.
            if (steadyNow >= m_nextRenewal && ownedCount() > 0)
                renewHeldLeases(now, steadyNow);
            QMutexLocker lock(&m_runningMutex);
            capacity = qMax(0, effectiveLimit() + prefetch() -
                                   int(m_running.size() + m_waiting.size()) - m_claimsInFlight);
        }
        if ((!m_unsettled.isEmpty() || capacity > 0) && canSendCycle(SteadyClock::now()))
            sendCycle(capacity, now);

        startWorkers(); // after every change of ready jobs, limit or pause

        if (steadyNow >= m_nextMaintenance) {
            maintain(now, steadyNow);
            m_nextMaintenance = steadyNow + MaintenanceInterval;
        }
        if (stopping && m_cyclesInFlight == 0 &&
            ((ownedCount() == 0 && m_unsettled.isEmpty()) || steadyNow >= graceDeadline))
            break;
    }
    if (!m_unsettled.isEmpty()) {
        qCWarning(lcDispatch) << m_unsettled.size()
                              << "finished attempts could not be written before shutdown; their "
                                 "jobs run again when their leases expire";
    }
    releaseRemaining(m_clock.nowMs());
}

DispatchLoop::Settled
DispatchLoop::settle(const Running &running, const JobOutcome &outcome, qint64 now)
{
    const ClaimedJob &job = running.job;
    Settled settled;
    SettledAttempt &s = settled.attempt;
    s.jobId = job.id;
    s.userId = job.userId;
    s.leaseToken = job.leaseToken;
    s.attempt = job.attempt;
    s.startedAt = job.startedAt;
    s.finishedAt = now;
    if (auto progress = running.state->takeProgress())
        s.progress = progressJson(*progress);

    auto retryOrDead = [&](const Error &error, const QString &attemptOutcome) {
        settled.error = error;
        s.error = error.toString();
        s.outcome = attemptOutcome;
        if (job.attempt >= job.maxAttempts) {
            s.newStatus = JobStatus::Dead;
            s.error = QStringLiteral("%1 (gave up after %2 attempts)")
                          .arg(error.toString())
                          .arg(job.attempt);
            return;
        }
        s.newStatus = JobStatus::Pending;
        s.retryAt = now + m_backoff.delayMs(job.attempt);
        m_nextRetryAt = qMin(m_nextRetryAt, s.retryAt);
    };
    auto release = [&] {
        s.newStatus = JobStatus::Pending;
        s.retryAt = now;
        s.releaseAttempt = true;
        s.outcome = QStringLiteral("released");
        s.error = QStringLiteral("Interrupted by shutdown; it runs again from the queue.");
    };
    auto leaseLost = [&] { // fenced: the settle is refused, this only says what happened
        s.newStatus = JobStatus::Pending;
        s.retryAt = now;
        s.outcome = QStringLiteral("lost");
        s.error = QStringLiteral("Lost its lease to another node.");
    };
    auto cancelled = [&] {
        s.newStatus = JobStatus::Cancelled;
        s.outcome = QStringLiteral("cancelled");
        s.error = QStringLiteral("Cancelled while running.");
    };

    const CancelReason reason = running.state->cancelReason();
    switch (outcome.kind) {
    case JobOutcome::Kind::Completed:
        s.newStatus = JobStatus::Completed;
        s.outcome = QStringLiteral("completed");
        s.result = outcome.result;
        break;
    case JobOutcome::Kind::PermanentError:
        s.newStatus = JobStatus::Failed;
        s.outcome = QStringLiteral("failed");
        settled.error = outcome.error;
        s.error = outcome.error.toString();
        break;
    case JobOutcome::Kind::TransientError:
        if (reason == CancelReason::Requested)
            cancelled();
        else if (reason == CancelReason::Shutdown)
            release();
        else if (reason == CancelReason::LeaseLost)
            leaseLost();
        else
            retryOrDead(outcome.error, QStringLiteral("error"));
        break;
    case JobOutcome::Kind::Cancelled:
        if (reason == CancelReason::Timeout)
            // Unavailable: the attempt's time ran out, as a resource does; a later one may finish.
            retryOrDead(makeError(ErrorCode::Unavailable,
                                  QStringLiteral(
                                      "Timed out: the attempt ran longer than its %1 ms timeout.")
                                      .arg(job.timeoutMs)),
                        QStringLiteral("timeout"));
        else if (reason == CancelReason::Shutdown)
            release();
        else if (reason == CancelReason::LeaseLost)
            leaseLost();
        else
            cancelled();
        break;
    }
    return settled;
}

} // namespace Ferry
