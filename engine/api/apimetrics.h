#pragma once

#include <QByteArray>
#include <QHash>
#include <QMutex>

#include <array>
#include <atomic>
#include <deque>

namespace Ferry {

// Request counters for /metrics: by route and status, a duration histogram, 429s. Recording is
// lock-free: each route's counters are resolved once (counters()), and a request then costs a
// few relaxed atomic additions.
class ApiMetrics final
{
public:
    static constexpr std::array<double, 11> BucketsMs{0.25, 0.5, 1,   2.5, 5,   10,
                                                      25,   50,  100, 250, 1000};
    static constexpr int FirstStatus = 100;
    static constexpr int StatusCount = 500; // 100-599

    // One route's counters by status; stable for the metrics' lifetime.
    struct RouteCounters
    {
        QByteArray route;
        std::array<std::atomic<qint64>, StatusCount> byStatus{};
    };

    // The counters of route, created on first use. Thread-safe; resolve once, record many times.
    RouteCounters *counters(const QByteArray &route);
    void record(RouteCounters *route, int status, qint64 micros);
    void record(const QByteArray &route, int status, qint64 micros);

    // A 429 answer's cause, counted apart: the per-IP rate limit, or a user's monthly quota.
    enum class Refusal { RateLimit, Quota };
    void countRefusal(Refusal refusal);

    // Prometheus text format 0.0.4 of everything counted so far.
    QByteArray text() const;
    // Totals since start, for the resource monitor's rates.
    qint64 requestCount() const;
    qint64 tooManyRequestsCount() const;

private:
    mutable QMutex m_mutex; // guards the route list, not the counts
    std::deque<RouteCounters> m_routes;
    QHash<QByteArray, RouteCounters *> m_byName;
    std::array<std::atomic<qint64>, BucketsMs.size() + 1> m_buckets{};
    std::atomic<qint64> m_sumMicros = 0;
    std::atomic<qint64> m_count = 0;
    std::atomic<qint64> m_tooMany = 0; // 429 answers
    std::atomic<qint64> m_rateLimited = 0;
    std::atomic<qint64> m_quotaRefused = 0;
};

} // namespace Ferry
