#include "metrichistory.h"

#include <algorithm>
#include <cmath>

namespace Ferry {

namespace {

// The lower of two readings, where -1 means "not read".
qint64 lowestKnown(qint64 a, qint64 b)
{
    if (a < 0)
        return b;
    if (b < 0)
        return a;
    return qMin(a, b);
}

} // namespace

SampleRing::SampleRing(int capacity) : m_slots(size_t(qMax(1, capacity))) {}

void SampleRing::append(const ResourceSample &sample)
{
    m_slots[size_t(m_head)] = sample;
    m_head = (m_head + 1) % capacity();
    m_size = qMin(m_size + 1, capacity());
}

const ResourceSample &SampleRing::at(int index) const
{
    Q_ASSERT(index >= 0 && index < m_size);
    const int oldest = (m_head - m_size + capacity()) % capacity();
    return m_slots[size_t((oldest + index) % capacity())];
}

QList<ResourceSample> SampleRing::since(qint64 sinceMs) const
{
    QList<ResourceSample> result;
    for (int i = 0; i < m_size; ++i) {
        const ResourceSample &sample = at(i);
        if (sample.timestampMs >= sinceMs)
            result.append(sample);
    }
    return result;
}

void SampleRing::clear()
{
    m_head = 0;
    m_size = 0;
}

MetricHistory::MetricHistory() : m_seconds(SecondCapacity), m_minutes(MinuteCapacity) {}

std::optional<ResourceSample> MetricHistory::add(const ResourceSample &sample)
{
    if (sample.timestampMs < m_newestMs)
        return std::nullopt;
    m_newestMs = sample.timestampMs;
    m_seconds.append(sample);
    std::optional<ResourceSample> completed;
    if (m_fold.count > 0 && minuteOf(sample.timestampMs) != m_fold.minuteMs) {
        completed = finish();
        m_minutes.append(*completed);
        m_fold = Fold{};
    }
    fold(sample);
    return completed;
}

void MetricHistory::fold(const ResourceSample &sample)
{
    Fold &f = m_fold;
    if (f.count == 0) {
        f.minuteMs = minuteOf(sample.timestampMs);
        f.folded = sample;
        f.folded.timestampMs = f.minuteMs;
    } else {
        ResourceSample &m = f.folded;
        m.rssBytes = qMax(m.rssBytes, sample.rssBytes);
        m.systemMemTotalBytes = qMax(m.systemMemTotalBytes, sample.systemMemTotalBytes);
        m.systemMemAvailableBytes =
            lowestKnown(m.systemMemAvailableBytes, sample.systemMemAvailableBytes);
        m.freeDiskBytes = lowestKnown(m.freeDiskBytes, sample.freeDiskBytes);
        m.concurrencyLimit = qMin(m.concurrencyLimit, sample.concurrencyLimit);
        m.configuredMax = sample.configuredMax;
    }
    ++f.count;
    if (sample.cpuPercent >= 0) {
        f.cpuSum += sample.cpuPercent;
        ++f.cpuCount;
    }
    f.activeSum += sample.activeJobs;
    f.queueSum += double(sample.queueDepth);
    f.throughputSum += sample.jobsCompletedPerMin;
    f.httpSum += sample.httpRequestsPerSec;
    f.http429Sum += sample.http429PerSec;
}

ResourceSample MetricHistory::finish() const
{
    const Fold &f = m_fold;
    ResourceSample m = f.folded;
    const double n = f.count;
    m.cpuPercent = f.cpuCount > 0 ? f.cpuSum / f.cpuCount : -1;
    m.activeJobs = int(std::lround(f.activeSum / n));
    m.queueDepth = qint64(std::llround(f.queueSum / n));
    m.jobsCompletedPerMin = f.throughputSum / n;
    m.httpRequestsPerSec = f.httpSum / n;
    m.http429PerSec = f.http429Sum / n;
    return m;
}

std::optional<ResourceSample> MetricHistory::partialMinute() const
{
    if (m_fold.count == 0)
        return std::nullopt;
    return finish();
}

QList<ResourceSample> MetricHistory::query(MetricRange range, qint64 nowMs) const
{
    switch (range) {
    case MetricRange::LastMinute:
        return m_seconds.since(nowMs - MinuteMs + 1);
    case MetricRange::Last15Minutes:
        return m_seconds.since(nowMs - SecondCapacity * 1000 + 1);
    case MetricRange::Last24Hours: {
        // The minute in progress is the chart's newest point: a run shorter than a minute shows.
        const qint64 from = minuteOf(nowMs) - (MinuteCapacity - 1) * MinuteMs;
        QList<ResourceSample> minutes = m_minutes.since(from);
        if (auto partial = partialMinute(); partial && partial->timestampMs >= from)
            minutes.append(*partial);
        return minutes;
    }
    }
    return {};
}

QList<ResourceSample> MetricHistory::restore(const QList<ResourceSample> &seconds,
                                             const QList<ResourceSample> &minutes)
{
    QList<ResourceSample> completed;
    m_seconds.clear();
    m_minutes.clear();
    m_fold = Fold{};
    m_newestMs = -1;
    // The last row may be a minute written unfinished when the monitor stopped. When the store
    // still has all of that minute's seconds, it is folded again from them instead, so that the
    // seconds after the restart join it (its row is then written again, complete).
    qsizetype keptRows = minutes.size();
    qint64 foldFrom = minutes.isEmpty() ? -1 : minutes.last().timestampMs + MinuteMs;
    if (!minutes.isEmpty() && !seconds.isEmpty()) {
        const qint64 last = minutes.last().timestampMs;
        const bool wholeMinuteKept = seconds.first().timestampMs <= last;
        const bool hasSecondsOfIt =
            std::any_of(seconds.cbegin(), seconds.cend(), [last](const ResourceSample &s) {
                return minuteOf(s.timestampMs) == last;
            });
        if (wholeMinuteKept && hasSecondsOfIt) {
            keptRows = minutes.size() - 1;
            foldFrom = last;
        }
    }
    for (qsizetype i = 0; i < keptRows; ++i)
        m_minutes.append(minutes.at(i));
    for (const ResourceSample &second : seconds) {
        m_seconds.append(second);
        m_newestMs = qMax(m_newestMs, second.timestampMs);
        if (second.timestampMs < foldFrom)
            continue;
        if (m_fold.count > 0 && minuteOf(second.timestampMs) != m_fold.minuteMs) {
            // A whole minute the store has seconds of but no row for (stopped before writing it).
            completed.append(finish());
            m_minutes.append(completed.last());
            m_fold = Fold{};
        }
        fold(second);
    }
    return completed;
}

} // namespace Ferry
