// DispatchLoop: its housekeeping, every MaintenanceInterval on the dispatch thread: timeouts,
// progress, cancels requested elsewhere, lease renewal and rescue, and (on the cluster's leader
// only) ageing and pruning.
#include "dispatchloop.h"

#include <QLoggingCategory>

namespace Ferry {

Q_DECLARE_LOGGING_CATEGORY(lcDispatch)

namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

constexpr auto ProgressFlushInterval = 1s;
constexpr auto PruneInterval = 1h;
constexpr int AgingBatch = 10'000;

std::chrono::milliseconds ms(qint64 value)
{
    return std::chrono::milliseconds(value);
}

} // namespace

void DispatchLoop::maintain(qint64 now, SteadyTime steadyNow)
{
    struct Progress
    {
        qint64 id;
        qint64 leaseToken;
        QJsonObject json;
    };
    QList<Progress> progress;
    const bool flushProgress = steadyNow >= m_nextProgressFlush;
    {
        QMutexLocker lock(&m_runningMutex);
        for (auto &[id, waiting] : m_waiting) {
            const qint64 timeout = waiting.job.timeoutMs;
            if (timeout > 0 && now - waiting.job.startedAt >= timeout)
                waiting.state->cancel(CancelReason::Timeout);
        }
        for (auto &[id, running] : m_running) {
            const qint64 timeout = running.job.timeoutMs;
            if (timeout > 0 && now - running.job.startedAt >= timeout &&
                running.state->cancelReason() == CancelReason::None) {
                qCInfo(lcDispatch) << "job" << id << "timed out after" << timeout << "ms";
                running.state->cancel(CancelReason::Timeout);
            }
            if (flushProgress) {
                if (auto p = running.state->takeProgress())
                    progress.append({id, running.job.leaseToken, progressJson(*p)});
            }
        }
    }
    if (flushProgress)
        m_nextProgressFlush = steadyNow + ProgressFlushInterval;
    for (const Progress &p : std::as_const(progress)) {
        if (auto saved = m_store.saveProgress(p.id, p.leaseToken, p.json); !saved)
            reportStoreError(saved.error());
    }

    if (ownedCount() > 0) {
        if (auto ids = m_store.cancelRequested(m_node); ids) {
            for (qint64 id : std::as_const(*ids))
                cancelLocal(id, CancelReason::Requested);
        } else {
            reportStoreError(ids.error());
        }
        if (steadyNow >= m_nextRenewal)
            renewHeldLeases(now, steadyNow);
    }
    if (steadyNow >= m_nextRescue) {
        m_nextRescue = steadyNow + ms(m_config.rescueIntervalMs);
        auto rescued = m_store.rescueLeases(RescueScope::ExpiredLeases, m_node, now);
        if (!rescued) {
            reportStoreError(rescued.error());
        } else if (!rescued->isEmpty()) {
            qCInfo(lcDispatch) << "rescued" << rescued->size() << "jobs whose lease expired";
            markReady();
        }
    }
    // Cluster: ageing and pruning run once per cluster, on the leader (checked each time, so a
    // lost lease stops them at once).
    if (m_leaderGate && !m_leaderGate())
        return;
    if (m_config.agingIntervalMs > 0 && steadyNow >= m_nextAging) {
        m_nextAging = steadyNow + ms(m_config.agingIntervalMs);
        auto aged = m_store.agePendingJobs(now - m_config.agingIntervalMs, AgingBatch);
        if (!aged)
            reportStoreError(aged.error());
        else if (*aged > 0)
            qCDebug(lcDispatch) << "aged" << *aged << "waiting jobs by one priority step";
    }
    if (m_config.retentionMs > 0 && steadyNow >= m_nextPrune) {
        m_nextPrune = steadyNow + PruneInterval;
        int total = 0;
        while (true) {
            auto pruned = m_store.pruneFinished(now - m_config.retentionMs, m_config.pruneBatch);
            if (!pruned) {
                reportStoreError(pruned.error());
                break;
            }
            total += *pruned;
            if (*pruned < m_config.pruneBatch)
                break;
        }
        if (total > 0)
            qCInfo(lcDispatch) << "pruned" << total << "finished jobs";
        if (m_retentionHook)
            m_retentionHook(now - m_config.retentionMs);
    }
}

void DispatchLoop::reportStoreError(const Error &error)
{
    const SteadyTime now = SteadyClock::now();
    if (now < m_nextErrorReport)
        return;
    m_nextErrorReport = now + 5s;
    qCWarning(lcDispatch) << error.toString();
    if (m_callbacks.storeError)
        m_callbacks.storeError(error);
}

} // namespace Ferry
