// DispatchLoop: its cycles, each one settle-and-claim round trip to the store. On SQLite the
// dispatch thread runs each cycle itself (one writer: a second would only wait for the first).
// Where the store runs several at once (JobStore::parallelCycles: PostgreSQL) they go to a small
// pool of their own, one thread and connection per lane, and come back through the inbox: while
// one cycle's statement runs in its server process, the loop keeps collecting what workers
// finish and sends the next one, so the two overlap instead of taking turns.
#include "dispatchloop.h"

#include <QLoggingCategory>
#include <QThread>
#include <QThreadPool>

namespace Ferry {

Q_DECLARE_LOGGING_CATEGORY(lcDispatch)

namespace {

using namespace std::chrono_literals;

constexpr auto StoreErrorBackoff = 200ms;

} // namespace

void DispatchLoop::markReady()
{
    m_readyMaybe = true;
    ++m_readyGeneration;
}

bool DispatchLoop::canSendCycle(SteadyTime now) const
{
    return m_cyclesInFlight < m_lanes && now >= m_cycleRetryAt;
}

void DispatchLoop::sendCycle(int capacity, qint64 now)
{
    Cycle cycle;
    cycle.settled = std::exchange(m_unsettled, {});
    cycle.errors = std::exchange(m_unsettledErrors, {});
    cycle.capacity = capacity;
    cycle.now = now;
    cycle.readyGeneration = m_readyGeneration;
    cycle.sequence = ++m_cyclesSent;
    // A claim while nothing runs here is all there is to do (a settle may still be on its way
    // on a lane): the dispatch thread makes it itself, because a hand-off to a lane and back
    // would add two thread wake-ups to the enqueue-to-start latency.
    if (!m_cyclePool || (capacity > 0 && ownedCount() == 0)) {
        runCycle(cycle);
        absorb(cycle);
        return;
    }
    cycle.onLane = true;
    ++m_cyclesInFlight;
    m_claimsInFlight += capacity;
    m_cyclePool->start([this, inbox = m_inbox, cycle = std::move(cycle)]() mutable {
        runCycle(cycle);
        {
            std::lock_guard lock(inbox->mutex);
            inbox->cycles.push_back(std::move(cycle));
        }
        inbox->wakeUp.notify_one();
    });
}

void DispatchLoop::runCycle(Cycle &cycle)
{
    const auto start = std::chrono::steady_clock::now();
    cycle.claimed = m_store.settleAndClaim(
        cycle.settled, {m_node, cycle.capacity, cycle.now, m_config.leaseMs, m_queue.maxPerUser(),
                        [queue = &m_queue] { return queue->maxPerUser(); },
                        m_config.clusterMaxRunning, [&cycle] { cycle.refusedByPause = true; }});
    cycle.durationMs =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

void DispatchLoop::absorb(Cycle &cycle)
{
    if (cycle.onLane) {
        --m_cyclesInFlight;
        m_claimsInFlight -= cycle.capacity;
    }
    const Result<QList<ClaimedJob>> &claimed = *cycle.claimed;
    if (!claimed) {
        // Nothing of it was written: its attempts go again with the next cycle, after a pause.
        reportStoreError(claimed.error());
        m_unsettled = cycle.settled + m_unsettled;
        m_unsettledErrors = cycle.errors + m_unsettledErrors;
        m_cycleRetryAt = std::chrono::steady_clock::now() + StoreErrorBackoff;
        return;
    }
    m_averageCycleMs = 0.9 * m_averageCycleMs + 0.1 * cycle.durationMs;
    if (cycle.capacity > 0 && cycle.sequence > m_readyDecidedBy) {
        m_readyDecidedBy = cycle.sequence;
        // Short: nothing more is ready; wait for a wake or the poll (unless one came meanwhile).
        if (claimed->size() < cycle.capacity && cycle.readyGeneration == m_readyGeneration)
            m_readyMaybe = false;
        else if (claimed->size() >= cycle.capacity)
            m_readyMaybe = true;
    }
    hand(*claimed);
    // Paused by another process (SQLite has no NOTIFY): catch up now, not at the poll, so that
    // jobs claimed ahead are handed back before they start.
    if (cycle.refusedByPause && !m_queue.isPaused())
        m_queue.reloadPaused();
    if (m_callbacks.finished) {
        for (qsizetype i = 0; i < cycle.settled.size(); ++i) {
            const SettledAttempt &attempt = cycle.settled.at(i);
            m_callbacks.finished(attempt.jobId, attempt.newStatus, cycle.errors.at(i));
        }
    }
}

} // namespace Ferry
