#pragma once

#include "store/resourcesample.h"

#include <QList>
#include <QObject>

#include <optional>

namespace Ferry {

// Where the console's charts come from: this engine's ResourceMonitor, or, in a console that
// observes a cluster, ClusterMetrics (the nodes' persisted samples, summed). Reads are
// thread-safe and cheap (no SQL, no I/O); sampled() comes from the feed's own thread, so connect
// it queued.
class MetricFeed : public QObject
{
    Q_OBJECT
public:
    using QObject::QObject;

    // Samples of the range, at its resolution, oldest first.
    virtual QList<ResourceSample> history(MetricRange range) const = 0;
    // The newest one-second sample, whatever the range.
    virtual std::optional<ResourceSample> latest() const = 0;

Q_SIGNALS:
    // New samples are in: history() and latest() have changed.
    void sampled(const Ferry::ResourceSample &sample);
};

} // namespace Ferry
