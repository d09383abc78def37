// DispatchLoop: handing claimed jobs to the worker loops on the pool, and taking them back.
#include "dispatchloop.h"

#include <QThreadPool>

namespace Ferry {

namespace {
using SteadyClock = std::chrono::steady_clock;
} // namespace

int DispatchLoop::prefetch() const
{
    // Short jobs: claim ahead so workers go from one job to the next without waiting for this
    // thread, but only as many as run in about 2 ms plus one dispatch cycle (the time the next
    // claim takes to come back: ~0.1 ms on SQLite, a round trip on PostgreSQL, where workers
    // would otherwise run dry while it travels). A newly queued job from another user then waits
    // at most that long behind the prefetched ones, well inside the fairness bound of one job's
    // run time. At most 16x the slots where a cycle is cheap (SQLite), 256x where it costs a
    // millisecond or more (PostgreSQL: each cycle is a statement whose cost per job falls with
    // its size; bench/queue --db, alternating rounds: 34k, 37k and 38k jobs/s at 64x, 128x and
    // 256x; graphile-worker keeps 500 for 8 workers). Only no-op-sized jobs reach the cap; long
    // jobs get no prefetch at all.
    const int limit = effectiveLimit();
    const double budget = (2.0 + m_averageCycleMs) * limit / qMax(m_averageJobMs, 0.0001);
    const double cap = (m_averageCycleMs >= 1.0 ? 256.0 : 16.0) * limit;
    return int(qMin<double>(cap, budget));
}

void DispatchLoop::startWorkers()
{
    int toStart = 0;
    {
        std::lock_guard lock(m_inbox->mutex);
        // Claiming may have paused during this iteration's claim: its jobs wait for the next
        // iteration, which hands them back.
        if (m_inbox->holding || m_inbox->stopping || m_claimingPaused.load())
            return;
        toStart = qMin(int(m_inbox->ready.size()), m_inbox->limit - m_inbox->activeWorkers);
        if (toStart <= 0)
            return;
        m_inbox->activeWorkers += toStart;
    }
    for (int i = 0; i < toStart; ++i)
        m_workers->start([inbox = m_inbox] { workerLoop(inbox); });
}

void DispatchLoop::workerLoop(const std::shared_ptr<Inbox> &inbox)
{
    Completion completion;
    bool haveCompletion = false;
    while (true) {
        Task task;
        std::function<void(qint64)> started;
        {
            std::unique_lock lock(inbox->mutex);
            if (haveCompletion) {
                inbox->completions.push_back(std::move(completion));
                haveCompletion = false;
            }
            const bool exit = inbox->ready.empty() || inbox->stopping || inbox->holding ||
                              inbox->activeWorkers > inbox->limit;
            if (exit) {
                --inbox->activeWorkers;
                lock.unlock();
                inbox->wakeUp.notify_one();
                return;
            }
            task = std::move(inbox->ready.front());
            inbox->ready.pop_front();
            // Wake the dispatcher when the queue of claimed jobs runs low, or a batch of
            // results is waiting; otherwise keep going without a thread switch.
            if (int(inbox->ready.size()) < inbox->limit || inbox->completions.size() >= 64) {
                lock.unlock();
                inbox->wakeUp.notify_one();
            }
            started = inbox->started;
        }
        const auto begin = SteadyClock::now();
        if (started)
            started(task.job.id);
        JobOutcome outcome;
        if (task.state->cancelReason() != CancelReason::None) {
            outcome = JobOutcome::cancelled(); // cancelled before it started
        } else if (!task.handler) {
            outcome = JobOutcome::permanentError(makeError(
                ErrorCode::InvalidArgument,
                QStringLiteral("No handler for job type '%1' on this node.").arg(task.job.type)));
        } else {
            JobContext context(task.job, *task.state);
            try {
                outcome = task.handler->run(context);
            } catch (const std::exception &e) {
                outcome = JobOutcome::transientError(
                    makeError(ErrorCode::Internal,
                              QStringLiteral("Handler threw: ") + QString::fromUtf8(e.what())));
            } catch (...) {
                outcome = JobOutcome::transientError(
                    makeError(ErrorCode::Internal, QStringLiteral("Handler threw.")));
            }
        }
        completion = {
            task.job.id, task.job.leaseToken, std::move(outcome),
            std::chrono::duration_cast<std::chrono::nanoseconds>(SteadyClock::now() - begin)
                .count()};
        haveCompletion = true;
    }
}

QList<SettledAttempt> DispatchLoop::takeBackReady(qint64 now)
{
    std::deque<Task> ready;
    {
        std::lock_guard lock(m_inbox->mutex);
        ready.swap(m_inbox->ready);
    }
    QList<SettledAttempt> released;
    if (ready.empty())
        return released;
    QMutexLocker lock(&m_runningMutex);
    for (const Task &task : ready) {
        auto it = m_running.find(task.job.id);
        if (it == m_running.end())
            continue;
        it->second.state->cancel(CancelReason::Shutdown);
        SettledAttempt s = settle(it->second, JobOutcome::cancelled(), now).attempt;
        s.outcome.clear(); // it never started: no attempt to record
        s.error.clear();
        released.append(s);
        m_running.erase(it);
    }
    // Waiting behind a lost attempt of the same job: they never started either.
    for (auto &[id, waiting] : m_waiting) {
        waiting.state->cancel(CancelReason::Shutdown);
        SettledAttempt s = settle(waiting, JobOutcome::cancelled(), now).attempt;
        s.outcome.clear();
        s.error.clear();
        released.append(s);
    }
    m_waiting.clear();
    return released;
}

} // namespace Ferry
