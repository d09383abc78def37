#pragma once

#include "api/accesslog.h"
#include "api/apimetrics.h"
#include "http/httphandler.h"
#include "queue/dispatcher.h"
#include "queue/jobqueue.h"
#include "ratelimit/clientaddress.h"
#include "ratelimit/ratelimiter.h"
#include "store/store.h"
#include "users/userdirectory.h"

#include <QMutex>

#include <vector>

namespace Ferry {

// Ferry's HTTP API over the server layer (docs/api.md): routes under /api/v1/, JSON in the
// seed's shape, bearer-token authentication, per-client-address rate limiting on every /api/
// route but health, and Prometheus metrics. Authentication and rate limiting are decided from
// the headers, before any body is read. Runs on the network thread; its reads are short SQL.
class ApiHandler final : public Http::Handler
{
public:
    struct Options
    {
        bool metricsLoopbackOnly = true;
        QByteArray version;
    };

    ApiHandler(Store &store,
               UserDirectory &users,
               JobQueue &queue,
               Dispatcher *dispatcher,
               RateLimiter &limiter,
               ClientAddress clients,
               AccessLog *accessLog,
               Options options);
    ~ApiHandler() override;
    Q_DISABLE_COPY_MOVE(ApiHandler)

    Http::HeaderDecision headersReceived(const Http::Request &request) override;
    void handle(Http::Request request,
                std::unique_ptr<Http::BodyConsumer> body,
                Http::Responder respond) override;

    ApiMetrics &metrics() { return m_metrics; }

    struct Route;
    struct Context;

private:
    const Route *match(const QByteArray &method,
                       const QByteArray &path,
                       QList<QByteArray> *params,
                       QByteArray *allow) const;
    std::optional<User> authenticate(const QByteArray &authorization);
    void finish(const Context &context, Http::Response &response) const;

    Http::Response health(const Context &context);
    Http::Response metricsText(const Context &context);
    Http::Response getJob(const Context &context);

    Store &m_store;
    UserDirectory &m_users;
    JobQueue &m_queue;
    Dispatcher *m_dispatcher;
    RateLimiter &m_limiter;
    ClientAddress m_clients;
    Options m_options;
    std::vector<Route> m_routes;
    AccessLog *m_accessLog;       // may be null
    mutable ApiMetrics m_metrics; // counting is not a change of the handler's state
    QMutex m_authMutex;
    QHash<QByteArray, std::pair<User, qint64>> m_authCache; // token hash -> user, expiry (ms)
};

} // namespace Ferry
