#pragma once
// The resource monitor's history (engine/monitor/).

#include "core/error.h"
#include "store/resourcesample.h"

namespace Ferry {

class MetricStore
{
public:
    virtual ~MetricStore() = default;

    // Downsampled history, so the console's charts survive a restart, kept per series: the node
    // that sampled it (its node id on PostgreSQL; '' on SQLite, where one engine writes).
    // saveMetricSamples writes (or replaces, by series and timestamp) the samples of one
    // resolution and deletes that resolution's rows older than pruneBefore, of every series, in
    // one transaction.
    virtual Result<void> saveMetricSamples(MetricResolution resolution,
                                           const QString &series,
                                           const QList<ResourceSample> &samples,
                                           qint64 pruneBefore) = 0;
    // One series' samples of one resolution with timestamp >= since, oldest first.
    virtual Result<QList<ResourceSample>>
    metricSamples(MetricResolution resolution, const QString &series, qint64 since) = 0;
    // The whole cluster's samples of one resolution with timestamp >= since, oldest first: one
    // row per second (or minute) that sums the series' RSS, system memory, running jobs, limits,
    // throughput and HTTP rates, averages their CPU, and takes the lowest free disk and the
    // highest queue depth (every node counts the same queue). A value no series knew is -1.
    // At most one row per series counts in each second (or minute).
    virtual Result<QList<ResourceSample>> clusterMetricSamples(MetricResolution resolution,
                                                               qint64 since) = 0;
    // Pending jobs, counted on an index (the monitor asks every second).
    virtual Result<qint64> pendingJobCount() = 0;

protected:
    MetricStore() = default;
    Q_DISABLE_COPY_MOVE(MetricStore)
};

} // namespace Ferry
