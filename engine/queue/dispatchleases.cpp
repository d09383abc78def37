// DispatchLoop: the leases this node holds. One attempt per job on a node at a time, renewal by
// lease token, and stopping what lost its lease (issue 18).
#include "dispatchloop.h"

#include <QLoggingCategory>

namespace Ferry {

Q_DECLARE_LOGGING_CATEGORY(lcDispatch)

void DispatchLoop::hand(const QList<ClaimedJob> &claimed)
{
    if (claimed.isEmpty())
        return;
    QMutexLocker runningLock(&m_runningMutex);
    std::lock_guard lock(m_inbox->mutex);
    for (const ClaimedJob &job : claimed) {
        auto state = std::make_shared<RunState>();
        if (m_running.count(job.id) != 0) {
            // An attempt of this job whose lease was lost still runs here (renewal stopped it;
            // it has not returned yet). Two attempts of one job must never run at once: this one
            // waits for that one to end (startWaiting), holding its lease meanwhile.
            qCWarning(lcDispatch) << "job" << job.id
                                  << "was claimed again while its lost attempt still runs here; "
                                     "it starts when that one has stopped";
            m_waiting.insert_or_assign(job.id, Running{job, std::move(state)});
            continue;
        }
        m_running.emplace(job.id, Running{job, state});
        m_inbox->ready.push_back({job, state, m_handlers.find(job.type)});
    }
}

void DispatchLoop::startWaiting(qint64 jobId)
{
    // Called with m_runningMutex held, after the earlier attempt left m_running.
    auto it = m_waiting.find(jobId);
    if (it == m_waiting.end())
        return;
    Running next = std::move(it->second);
    m_waiting.erase(it);
    std::lock_guard lock(m_inbox->mutex);
    m_inbox->ready.push_back({next.job, next.state, m_handlers.find(next.job.type)});
    m_running.emplace(jobId, std::move(next));
}

void DispatchLoop::renewHeldLeases(qint64 now, SteadyTime steadyNow)
{
    // Renewed by lease token, not by owner: a lease is this node's only for the attempt it was
    // claimed for. Renewing by owner kept a job this node had claimed back `running` for as long
    // as the node owned anything, whether or not an attempt of it still ran.
    QList<HeldLease> leases;
    {
        QMutexLocker lock(&m_runningMutex);
        leases.reserve(qsizetype(m_running.size() + m_waiting.size()));
        for (const auto *attempts : {&m_running, &m_waiting}) {
            for (const auto &[id, running] : *attempts)
                leases.append({id, running.job.leaseToken});
        }
    }
    m_nextRenewal = steadyNow + std::chrono::milliseconds(qMax<qint64>(1, m_config.leaseMs / 3));
    if (leases.isEmpty())
        return;
    auto renewed = m_store.renewLeases(m_node, leases, now + m_config.leaseMs);
    if (!renewed) {
        reportStoreError(renewed.error());
        return;
    }
    stopLostLeases(*renewed);
}

void DispatchLoop::stopLostLeases(const QList<qint64> &held)
{
    // An attempt the renewal did not find was rescued (this node was cut off from the database,
    // or too slow to renew) and may run on another node now. Its writes are refused by the lease
    // token anyway; stopping it saves the work, and lets an attempt of the same job claimed back
    // by this node (m_waiting) start. Called on the dispatch thread, the only writer of m_running.
    const QSet<qint64> stillHeld(held.cbegin(), held.cend());
    QMutexLocker lock(&m_runningMutex);
    for (auto &[id, running] : m_running) {
        // With a newer attempt waiting, the running one's lease is gone by construction (the
        // token in the row is the newer one's).
        const bool lost = !stillHeld.contains(id) || m_waiting.count(id) != 0;
        if (!lost || running.state->cancelReason() != CancelReason::None)
            continue;
        running.state->cancel(CancelReason::LeaseLost);
        qCWarning(lcDispatch) << "job" << id
                              << "lost its lease (another node took it over); stopping it here";
    }
    for (auto &[id, waiting] : m_waiting) {
        if (!stillHeld.contains(id))
            waiting.state->cancel(CancelReason::LeaseLost); // ends as soon as it is handed out
    }
}

void DispatchLoop::releaseRemaining(qint64 now)
{
    QList<SettledAttempt> released;
    {
        QMutexLocker lock(&m_runningMutex);
        for (auto *attempts : {&m_running, &m_waiting}) {
            for (auto &[id, running] : *attempts) {
                running.state->cancel(CancelReason::Shutdown); // a cancel request still wins
                SettledAttempt s = settle(running, JobOutcome::cancelled(), now).attempt;
                if (attempts == &m_waiting) { // it never started: no attempt to record
                    s.outcome.clear();
                    s.error.clear();
                }
                // Released, or cancelled: a cancel accepted before the grace ran out ends the
                // job now rather than leaving it running until its lease is rescued.
                if (s.releaseAttempt || s.newStatus == JobStatus::Cancelled)
                    released.append(s);
            }
        }
        m_running.clear();
        m_waiting.clear();
    }
    if (released.isEmpty())
        return;
    qCWarning(lcDispatch) << released.size()
                          << "jobs did not stop within the grace period; released their leases";
    ClaimRequest release{m_node, 0, now, 0};
    release.clusterMaxRunning = m_config.clusterMaxRunning; // other nodes may take them at once
    if (auto written = m_store.settleAndClaim(released, release); !written)
        reportStoreError(written.error());
}

} // namespace Ferry
