#pragma once

#include "core/clock.h"
#include "core/error.h"
#include "monitor/metricfeed.h"
#include "monitor/metrichistory.h"

#include <QMutex>

#include <memory>

class QThread;

namespace Ferry {

class MetricStore;

// The whole cluster's resource history, for a console that observes a cluster and samples
// nothing itself (`ferry --observe`): every node's persisted samples (ResourceMonitor writes
// them, one series per node), summed per second and per minute by the store
// (MetricStore::clusterMetricSamples) and read again on a thread of its own every intervalMs.
//
// Nodes write their one-second samples in batches (every 10 s), so the newest seconds are left
// out until every node has written them: the charts end lagMs in the past rather than show a
// sum with nodes missing. The 24-hour rows are read again every minutesEvery refreshes.
//
// Memory is bounded as the monitor's (MetricHistory: 900 seconds, 1440 minutes); each refresh
// reads at most nodes x (900 + 1440) rows, summed by the database into 2340.
class ClusterMetrics final : public MetricFeed
{
    Q_OBJECT
public:
    struct Options
    {
        int intervalMs = 2000;
        qint64 lagMs = 12'000; // a node's seconds batch (10 s) and a margin
        int minutesEvery = 15; // refreshes between reads of the 24-hour rows
    };

    ClusterMetrics(MetricStore &store,
                   const Clock &clock,
                   Options options,
                   QObject *parent = nullptr);
    ~ClusterMetrics() override; // stop()s
    Q_DISABLE_COPY_MOVE(ClusterMetrics)

    // Refreshes on its own thread (`ferry-cluster-metrics`) every intervalMs, the first at once.
    void start();
    void stop(); // idempotent
    // One read of the store on the calling thread (start() calls it on its thread; tests call
    // it directly). Emits sampled() when the store answered.
    Result<void> refresh();

    QList<ResourceSample> history(MetricRange range) const override;
    std::optional<ResourceSample> latest() const override;

private:
    MetricStore &m_store;
    const Clock &m_clock;
    const Options m_options;
    mutable QMutex m_mutex; // guards m_history and m_latest
    MetricHistory m_history;
    std::optional<ResourceSample> m_latest;
    // Refresh state (one refresh at a time: the thread's, or a test's).
    QList<ResourceSample> m_minutes;
    int m_refreshes = 0;
    std::unique_ptr<QThread> m_thread;
    QObject *m_worker = nullptr; // lives on m_thread
};

} // namespace Ferry
