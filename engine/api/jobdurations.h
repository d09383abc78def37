#pragma once

#include <QByteArray>
#include <QElapsedTimer>
#include <QHash>
#include <QMutex>

#include <array>
#include <atomic>

namespace Ferry {

class Dispatcher;

// ferry_job_duration_seconds for /metrics: a histogram of how long each run of a job took, from
// the dispatcher's jobStarted to its jobFinished (one observation per attempt that ended, whatever
// its outcome). Fed by the Dispatcher's signals, so the queue knows nothing of the API.
class JobDurations final
{
public:
    static constexpr std::array<double, 12> BucketsSeconds{0.01, 0.05, 0.1, 0.5, 1,    5,
                                                           10,   30,   60,  300, 1800, 3600};
    static constexpr qsizetype MaxTracked = 100'000; // runs started and not finished

    JobDurations();
    Q_DISABLE_COPY_MOVE(JobDurations)

    // Connects to dispatcher's signals (any thread may emit them); the dispatcher must not
    // outlive this object.
    void observe(Dispatcher &dispatcher);
    void started(qint64 jobId);
    void finished(qint64 jobId);
    // Also for tests: one run of this length.
    void observe(double seconds);

    // Prometheus text 0.0.4.
    QByteArray text() const;

private:
    QElapsedTimer m_clock;
    QMutex m_mutex;
    QHash<qint64, qint64> m_startedAtMs; // job id -> m_clock ms
    std::array<std::atomic<qint64>, BucketsSeconds.size() + 1> m_buckets{};
    std::atomic<qint64> m_sumMicros = 0;
};

} // namespace Ferry
