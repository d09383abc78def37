#include "apimetrics.h"

namespace Ferry {

ApiMetrics::RouteCounters *ApiMetrics::counters(const QByteArray &route)
{
    QMutexLocker lock(&m_mutex);
    if (RouteCounters *found = m_byName.value(route))
        return found;
    RouteCounters &created = m_routes.emplace_back();
    created.route = route;
    m_byName.insert(route, &created);
    return &created;
}

void ApiMetrics::record(RouteCounters *route, int status, qint64 micros)
{
    if (status >= FirstStatus && status < FirstStatus + StatusCount)
        route->byStatus[size_t(status - FirstStatus)].fetch_add(1, std::memory_order_relaxed);
    const double ms = double(micros) / 1000.0;
    size_t bucket = 0;
    while (bucket < BucketsMs.size() && ms > BucketsMs[bucket])
        ++bucket;
    m_buckets[bucket].fetch_add(1, std::memory_order_relaxed);
    m_sumMicros.fetch_add(micros, std::memory_order_relaxed);
    m_count.fetch_add(1, std::memory_order_relaxed);
    if (status == 429)
        m_tooMany.fetch_add(1, std::memory_order_relaxed);
}

void ApiMetrics::countRefusal(Refusal refusal)
{
    (refusal == Refusal::RateLimit ? m_rateLimited : m_quotaRefused)
        .fetch_add(1, std::memory_order_relaxed);
}

qint64 ApiMetrics::requestCount() const
{
    return m_count.load(std::memory_order_relaxed);
}

qint64 ApiMetrics::tooManyRequestsCount() const
{
    return m_tooMany.load(std::memory_order_relaxed);
}

void ApiMetrics::record(const QByteArray &route, int status, qint64 micros)
{
    record(counters(route), status, micros);
}

QByteArray ApiMetrics::text() const
{
    QByteArray out;
    out += "# HELP ferry_http_requests_total HTTP requests by route and status.\n"
           "# TYPE ferry_http_requests_total counter\n";
    {
        QMutexLocker lock(&m_mutex);
        for (const RouteCounters &route : m_routes) {
            for (int i = 0; i < StatusCount; ++i) {
                const qint64 n = route.byStatus[size_t(i)].load(std::memory_order_relaxed);
                if (n == 0)
                    continue;
                out += "ferry_http_requests_total{route=\"" + route.route + "\",status=\"" +
                       QByteArray::number(FirstStatus + i) + "\"} " + QByteArray::number(n) + '\n';
            }
        }
    }
    out += "# HELP ferry_http_rate_limited_total Requests refused by the per-IP rate limit.\n"
           "# TYPE ferry_http_rate_limited_total counter\n"
           "ferry_http_rate_limited_total " +
           QByteArray::number(m_rateLimited.load(std::memory_order_relaxed)) + '\n';
    out += "# HELP ferry_http_quota_refused_total Uploads refused by a user's monthly quota.\n"
           "# TYPE ferry_http_quota_refused_total counter\n"
           "ferry_http_quota_refused_total " +
           QByteArray::number(m_quotaRefused.load(std::memory_order_relaxed)) + '\n';
    out += "# HELP ferry_http_request_duration_seconds Time to answer a request.\n"
           "# TYPE ferry_http_request_duration_seconds histogram\n";
    qint64 cumulative = 0;
    for (size_t i = 0; i < BucketsMs.size(); ++i) {
        cumulative += m_buckets[i].load(std::memory_order_relaxed);
        out += "ferry_http_request_duration_seconds_bucket{le=\"" +
               QByteArray::number(BucketsMs[i] / 1000.0) + "\"} " + QByteArray::number(cumulative) +
               '\n';
    }
    // +Inf and count from the buckets, so the histogram stays consistent while requests land.
    cumulative += m_buckets[BucketsMs.size()].load(std::memory_order_relaxed);
    out += "ferry_http_request_duration_seconds_bucket{le=\"+Inf\"} " +
           QByteArray::number(cumulative) + '\n';
    out += "ferry_http_request_duration_seconds_sum " +
           QByteArray::number(double(m_sumMicros.load(std::memory_order_relaxed)) / 1e6) + '\n';
    out += "ferry_http_request_duration_seconds_count " + QByteArray::number(cumulative) + '\n';
    return out;
}

} // namespace Ferry
