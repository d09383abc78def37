#pragma once

#include "api/apimetrics.h"
#include "api/apiroute.h"
#include "api/jobdurations.h"
#include "queue/dispatcher.h"
#include "store/store.h"

#include <QElapsedTimer>
#include <QMutex>

#include <optional>

namespace Ferry {

// GET /api/v1/health and GET /metrics: unauthenticated, not rate limited. GET
// /api/v1/openapi.json: unauthenticated, rate limited.
class SystemRoutes final : public ApiRouteGroup
{
public:
    struct Options
    {
        bool metricsLoopbackOnly = true; // --metrics-allow loopback (the default) or any
        QByteArray version;
        // The job counts (a COUNT over the jobs table) are read at most once per this, however
        // often /metrics is scraped.
        int jobCountsMaxAgeMs = 5'000;
    };

    SystemRoutes(Store &store, ApiMetrics &metrics, Dispatcher *dispatcher, Options options);
    QList<ApiRoute> routes() override;

    // Optional sources for /metrics, set before serving: the HTTP server's open connections
    // (read when /metrics is served), job run durations (must outlive this object).
    void setOpenConnections(std::function<int()> count) { m_openConnections = std::move(count); }
    void setJobDurations(const JobDurations *durations) { m_jobDurations = durations; }

private:
    void health(const ApiCall &call);
    void metricsText(const ApiCall &call);
    void openApi(const ApiCall &call) const;
    std::optional<QHash<JobStatus, qint64>> jobCounts();

    Store &m_store;
    ApiMetrics &m_metrics;
    Dispatcher *m_dispatcher; // null when this process runs no jobs
    Options m_options;
    std::function<int()> m_openConnections;
    const JobDurations *m_jobDurations = nullptr;
    // docs/openapi.json as compiled in (:/ferry/openapi.json) and its strong ETag.
    QByteArray m_openApi;
    QByteArray m_openApiEtag;
    QMutex m_countsMutex; // guards the three below
    std::optional<QHash<JobStatus, qint64>> m_counts;
    QElapsedTimer m_countsAge;
    bool m_countsRefreshing = false;
};

} // namespace Ferry
