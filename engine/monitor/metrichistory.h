#pragma once

#include "store/resourcesample.h"

#include <QList>

#include <optional>
#include <vector>

namespace Ferry {

// A fixed-capacity ring of samples, oldest first when read.
class SampleRing final
{
public:
    explicit SampleRing(int capacity);

    void append(const ResourceSample &sample);
    int size() const { return m_size; }
    int capacity() const { return int(m_slots.size()); }
    const ResourceSample &at(int index) const; // 0 = oldest
    // Samples with timestampMs >= sinceMs, oldest first.
    QList<ResourceSample> since(qint64 sinceMs) const;
    void clear();

private:
    std::vector<ResourceSample> m_slots;
    int m_head = 0; // where the next sample goes
    int m_size = 0;
};

// The monitor's history in bounded memory: one-second samples for the last 15 minutes (900) and
// one-minute rows for the last 24 hours (1440). Every second sample is folded into the minute it
// falls in; when a sample of a later minute arrives, that minute is complete, joins the minute
// ring and is returned so the caller can persist it.
//
// How a minute is folded: rssBytes is the minute's peak (a chart must not hide a spike that
// throttled the engine); system memory available, free disk and the concurrency limit are the
// minute's lowest (the tightest moment); the configured maximum is the last; CPU, active jobs,
// queue depth and the rates are averages.
//
// Not thread-safe: ResourceMonitor guards it.
class MetricHistory final
{
public:
    static constexpr int SecondCapacity = 15 * 60;
    static constexpr int MinuteCapacity = 24 * 60;
    static constexpr qint64 MinuteMs = 60'000;
    // What the two rings span: the store keeps (and prunes to) the same windows.
    static constexpr qint64 SecondWindowMs = qint64(SecondCapacity) * 1000;
    static constexpr qint64 MinuteWindowMs = qint64(MinuteCapacity) * MinuteMs;

    MetricHistory();

    // Samples must come in time order; one older than the newest is ignored.
    std::optional<ResourceSample> add(const ResourceSample &sample);
    // Samples of the range ending at nowMs, at the range's resolution, oldest first. The 24-hour
    // range ends with the minute in progress, folded so far.
    QList<ResourceSample> query(MetricRange range, qint64 nowMs) const;
    // Replaces the history with what the store kept (oldest first). Seconds newer than the last
    // minute row are folded again, and so are the seconds of the last row's own minute when the
    // store kept all of them (that row may be the minute written unfinished at a stop), so the
    // minute in progress at shutdown completes after a restart with both halves. Returns the
    // minutes completed that way, for the caller to persist (again: rows are replaced).
    QList<ResourceSample> restore(const QList<ResourceSample> &seconds,
                                  const QList<ResourceSample> &minutes);

    const SampleRing &seconds() const { return m_seconds; }
    const SampleRing &minutes() const { return m_minutes; }
    // The minute being folded (empty when none).
    std::optional<ResourceSample> partialMinute() const;

    static qint64 minuteOf(qint64 timestampMs) { return timestampMs - timestampMs % MinuteMs; }

private:
    struct Fold
    {
        qint64 minuteMs = -1;
        int count = 0;
        int cpuCount = 0;
        ResourceSample folded;
        double cpuSum = 0, activeSum = 0, queueSum = 0, throughputSum = 0, httpSum = 0,
               http429Sum = 0;
    };
    void fold(const ResourceSample &sample);
    ResourceSample finish() const;

    SampleRing m_seconds;
    SampleRing m_minutes;
    Fold m_fold;
    qint64 m_newestMs = -1;
};

} // namespace Ferry
