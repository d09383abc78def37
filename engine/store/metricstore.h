#pragma once
// The resource monitor's history (engine/monitor/).

#include "core/error.h"
#include "store/resourcesample.h"

namespace Ferry {

class MetricStore
{
public:
    virtual ~MetricStore() = default;

    // Downsampled history, so the console's charts survive a restart. saveMetricSamples writes
    // (or replaces, by timestamp) the samples of one resolution and deletes that resolution's
    // rows older than pruneBefore, in one transaction.
    virtual Result<void> saveMetricSamples(MetricResolution resolution,
                                           const QList<ResourceSample> &samples,
                                           qint64 pruneBefore) = 0;
    // Samples of one resolution with timestamp >= since, oldest first.
    virtual Result<QList<ResourceSample>> metricSamples(MetricResolution resolution,
                                                        qint64 since) = 0;
    // Pending jobs, counted on an index (the monitor asks every second).
    virtual Result<qint64> pendingJobCount() = 0;

protected:
    MetricStore() = default;
    Q_DISABLE_COPY_MOVE(MetricStore)
};

} // namespace Ferry
