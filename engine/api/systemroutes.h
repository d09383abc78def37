#pragma once

#include "api/apimetrics.h"
#include "api/apiroute.h"
#include "queue/dispatcher.h"
#include "store/store.h"

namespace Ferry {

// GET /api/v1/health and GET /metrics: unauthenticated, not rate limited.
class SystemRoutes final : public ApiRouteGroup
{
public:
    struct Options
    {
        bool metricsLoopbackOnly = true;
        QByteArray version;
    };

    SystemRoutes(Store &store, ApiMetrics &metrics, Dispatcher *dispatcher, Options options);
    QList<ApiRoute> routes() override;

private:
    void health(const ApiCall &call);
    void metricsText(const ApiCall &call);

    Store &m_store;
    ApiMetrics &m_metrics;
    Dispatcher *m_dispatcher; // null when this process runs no jobs
    Options m_options;
};

} // namespace Ferry
