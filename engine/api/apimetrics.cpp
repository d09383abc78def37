#include "apimetrics.h"

namespace Ferry {

void ApiMetrics::record(const QByteArray &route, int status, qint64 micros)
{
    QMutexLocker lock(&m_mutex);
    ++m_requests[qMakePair(route, status)];
    const double ms = double(micros) / 1000.0;
    size_t bucket = 0;
    while (bucket < BucketsMs.size() && ms > BucketsMs[bucket])
        ++bucket;
    ++m_buckets[bucket];
    ++m_count;
    if (status == 429)
        ++m_tooMany;
    m_sumSeconds += ms / 1000.0;
}

qint64 ApiMetrics::requestCount() const
{
    QMutexLocker lock(&m_mutex);
    return m_count;
}

qint64 ApiMetrics::tooManyRequestsCount() const
{
    QMutexLocker lock(&m_mutex);
    return m_tooMany;
}

QByteArray ApiMetrics::text() const
{
    QMutexLocker lock(&m_mutex);
    QByteArray out;
    out += "# HELP ferry_http_requests_total HTTP requests by route and status.\n"
           "# TYPE ferry_http_requests_total counter\n";
    qint64 limited = 0;
    for (auto it = m_requests.cbegin(); it != m_requests.cend(); ++it) {
        out += "ferry_http_requests_total{route=\"" + it.key().first + "\",status=\"" +
               QByteArray::number(it.key().second) + "\"} " + QByteArray::number(it.value()) + '\n';
        if (it.key().second == 429)
            limited += it.value();
    }
    out += "# HELP ferry_http_rate_limited_total Requests refused by the rate limit.\n"
           "# TYPE ferry_http_rate_limited_total counter\n"
           "ferry_http_rate_limited_total " +
           QByteArray::number(limited) + '\n';
    out += "# HELP ferry_http_request_duration_seconds Time to answer a request.\n"
           "# TYPE ferry_http_request_duration_seconds histogram\n";
    qint64 cumulative = 0;
    for (size_t i = 0; i < BucketsMs.size(); ++i) {
        cumulative += m_buckets[i];
        out += "ferry_http_request_duration_seconds_bucket{le=\"" +
               QByteArray::number(BucketsMs[i] / 1000.0) + "\"} " + QByteArray::number(cumulative) +
               '\n';
    }
    out += "ferry_http_request_duration_seconds_bucket{le=\"+Inf\"} " +
           QByteArray::number(m_count) + '\n';
    out += "ferry_http_request_duration_seconds_sum " + QByteArray::number(m_sumSeconds) + '\n';
    out += "ferry_http_request_duration_seconds_count " + QByteArray::number(m_count) + '\n';
    return out;
}

} // namespace Ferry
