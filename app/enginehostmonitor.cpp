// EngineHost, the engine role's resource monitor: what it samples, and the Settings page's
// memory marks (the rest of the wiring is in enginehost.cpp).
#include "enginehost.h"

#include "queue/dispatchercontrol.h"

namespace Ferry {

// --- Resource monitor: sampling, history and adaptive concurrency (engine/monitor/) ---
void EngineHost::createMonitor()
{
    m_probe = std::make_unique<ProcProbe>(m_config.dataDir);
    QObject::connect(
        m_dispatcher.get(), &Dispatcher::jobFinished, m_dispatcher.get(),
        [this](qint64, int status) {
            // Throughput counts jobs done, not attempts that will be retried or failed.
            if (JobStatus(status) == JobStatus::Completed)
                m_jobsFinished.fetch_add(1, std::memory_order_relaxed);
        },
        Qt::DirectConnection);
    MonitorSources sources;
    sources.activeJobs = [dispatcher = m_dispatcher.get()] { return dispatcher->runningCount(); };
    sources.queueDepth = [store = m_store.get()]() -> qint64 {
        auto pending = store->pendingJobCount();
        return pending ? *pending : 0;
    };
    sources.completedTotal = [this] { return m_jobsFinished.load(std::memory_order_relaxed); };
    // m_api exists from start() on, and the monitor runs only between start() and stop().
    sources.httpRequestsTotal = [this]() -> qint64 {
        return m_api ? m_api->metrics().requestCount() : 0;
    };
    sources.http429Total = [this]() -> qint64 {
        return m_api ? m_api->metrics().tooManyRequestsCount() : 0;
    };
    ResourceMonitor::Options options;
    options.governor.highWaterBytes = m_config.memoryHighBytes;
    options.governor.lowWaterBytes = m_config.memoryLowBytes;
    options.governor.holdMs = m_config.memoryHoldSeconds * 1000;
    options.governor.minFreeDiskBytes = m_config.minFreeDiskBytes;
    // Its history: the one engine's on SQLite (kept across restarts), this node's on PostgreSQL,
    // where an observing console sums every node's (ClusterMetrics).
    if (m_config.database.backend == DatabaseConfig::Backend::Postgres)
        options.series = m_nodeId;
    m_monitor =
        std::make_unique<ResourceMonitor>(*m_probe, m_clock, std::move(sources), options,
                                          m_store.get(), concurrencyControlOf(*m_dispatcher));
    m_settings->setApplier(SettingsService::Group::MemoryWatermarks,
                           [monitor = m_monitor.get()](const FerryConfig &config) {
                               return monitor->setWatermarks(config.memoryHighBytes,
                                                             config.memoryLowBytes);
                           });
}
// --- end resource monitor ---

} // namespace Ferry
