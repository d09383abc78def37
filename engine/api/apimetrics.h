#pragma once

#include <QByteArray>
#include <QHash>
#include <QMutex>

#include <array>
#include <atomic>

namespace Ferry {

// Request counters for /metrics: by route and status, a duration histogram, 429s.
class ApiMetrics final
{
public:
    static constexpr std::array<double, 11> BucketsMs{0.25, 0.5, 1,   2.5, 5,   10,
                                                      25,   50,  100, 250, 1000};

    void record(const QByteArray &route, int status, qint64 micros);
    // Prometheus text format 0.0.4 of everything counted so far.
    QByteArray text() const;
    // Totals since start, for the resource monitor's rates.
    qint64 requestCount() const;
    qint64 tooManyRequestsCount() const;

private:
    mutable QMutex m_mutex;
    QHash<QPair<QByteArray, int>, qint64> m_requests;
    std::array<qint64, BucketsMs.size() + 1> m_buckets{};
    qint64 m_count = 0;
    qint64 m_tooMany = 0; // 429 answers
    double m_sumSeconds = 0;
};

} // namespace Ferry
