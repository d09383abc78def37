#include "api/jobdurations.h"

#include "queue/dispatcher.h"

namespace Ferry {

JobDurations::JobDurations()
{
    m_clock.start();
}

void JobDurations::observe(Dispatcher &dispatcher)
{
    QObject::connect(
        &dispatcher, &Dispatcher::jobStarted, &dispatcher, [this](qint64 id) { started(id); },
        Qt::DirectConnection);
    QObject::connect(
        &dispatcher, &Dispatcher::jobFinished, &dispatcher,
        [this](qint64 id, int) { finished(id); }, Qt::DirectConnection);
}

void JobDurations::started(qint64 jobId)
{
    QMutexLocker lock(&m_mutex);
    if (m_startedAtMs.size() >= MaxTracked)
        m_startedAtMs.clear(); // runs whose end never came (a lost signal): forget, stay bounded
    m_startedAtMs.insert(jobId, m_clock.elapsed());
}

void JobDurations::finished(qint64 jobId)
{
    qint64 startedAt = -1;
    {
        QMutexLocker lock(&m_mutex);
        auto it = m_startedAtMs.find(jobId);
        if (it == m_startedAtMs.end())
            return;
        startedAt = it.value();
        m_startedAtMs.erase(it);
    }
    observe(double(m_clock.elapsed() - startedAt) / 1000.0);
}

void JobDurations::observe(double seconds)
{
    size_t bucket = 0;
    while (bucket < BucketsSeconds.size() && seconds > BucketsSeconds[bucket])
        ++bucket;
    m_buckets[bucket].fetch_add(1, std::memory_order_relaxed);
    m_sumMicros.fetch_add(qint64(seconds * 1e6), std::memory_order_relaxed);
}

QByteArray JobDurations::text() const
{
    QByteArray out = "# HELP ferry_job_duration_seconds How long each run of a job took.\n"
                     "# TYPE ferry_job_duration_seconds histogram\n";
    qint64 cumulative = 0;
    for (size_t i = 0; i < BucketsSeconds.size(); ++i) {
        cumulative += m_buckets[i].load(std::memory_order_relaxed);
        out += "ferry_job_duration_seconds_bucket{le=\"" + QByteArray::number(BucketsSeconds[i]) +
               "\"} " + QByteArray::number(cumulative) + '\n';
    }
    cumulative += m_buckets[BucketsSeconds.size()].load(std::memory_order_relaxed);
    out +=
        "ferry_job_duration_seconds_bucket{le=\"+Inf\"} " + QByteArray::number(cumulative) + '\n';
    out += "ferry_job_duration_seconds_sum " +
           QByteArray::number(double(m_sumMicros.load(std::memory_order_relaxed)) / 1e6) + '\n';
    out += "ferry_job_duration_seconds_count " + QByteArray::number(cumulative) + '\n';
    return out;
}

} // namespace Ferry
