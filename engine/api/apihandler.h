#pragma once

#include "api/accesslog.h"
#include "api/apimetrics.h"
#include "api/apiroute.h"
#include "api/corspolicy.h"
#include "http/httphandler.h"
#include "ratelimit/clientaddress.h"
#include "ratelimit/ratelimiter.h"
#include "users/userdirectory.h"

#include <QMutex>
#include <QThreadPool>

#include <deque>

namespace Ferry {

struct ApiCallState;

// Ferry's HTTP API over the server layer (docs/api.md): matches routes under /api/v1/, decides
// per-client rate limits and bearer-token authentication from the headers (before any body is
// read), answers 404/405/401/403/429 in the seed's JSON shape, and hands the rest to the routes
// that the route groups registered. Counts every answer for /metrics and the access log.
class ApiHandler final : public Http::Handler
{
public:
    ApiHandler(UserDirectory &users, RateLimiter &limiter, ClientAddress clients, AccessLog *log);
    ~ApiHandler() override;
    Q_DISABLE_COPY_MOVE(ApiHandler)

    // Before the server starts. The group must outlive the handler.
    void addRoutes(ApiRouteGroup &group);
    void addRoute(ApiRoute route);
    // Before the server starts; off by default.
    void setCorsPolicy(CorsPolicy policy) { m_cors = std::move(policy); }

    Http::HeaderDecision headersReceived(const Http::Request &request) override;
    void handle(Http::Request request,
                std::unique_ptr<Http::BodyConsumer> body,
                Http::Responder respond) override;
    void answeredByServer(const Http::Request &request, Http::Response &response) override;
    QByteArray connectionKey(const QHostAddress &peer) const override;

    ApiMetrics &metrics() { return m_metrics; }
    // Thread-safe: the next request's client address uses the new trusted proxies (the
    // console's Settings page).
    void setClientAddress(ClientAddress clients);
    ClientAddress clientAddress() const;
    // Where offloaded routes run; waited for by the destructor.
    QThreadPool &workers() { return m_workers; }

private:
    friend class ApiCall;
    struct CompiledRoute
    {
        ApiRoute route;
        QList<QByteArray> segments; // "{}" for a parameter
        QList<bool> isParameter;    // per segment
        ApiMetrics::RouteCounters *counters = nullptr;
    };

    const CompiledRoute *match(const QByteArray &method,
                               const QByteArray &path,
                               QList<QByteArray> *params,
                               QByteArray *allow) const;
    // The caller from the headers alone: NotFound without a bearer token, the user when the
    // token is in the cache, nullopt when only the store can tell (authenticateFromStore()).
    std::optional<Result<User>> authenticateFromCache(const QByteArray &authorization);
    // The worker pool's half: a store read, then remembered for AuthCacheMs.
    Result<User> authenticateFromStore(const QByteArray &authorization);
    // What follows authentication: 401/403, then the route's prepare(). Any thread.
    Http::HeaderDecision admit(const std::shared_ptr<ApiCallState> &state,
                               const Result<User> *user);
    Http::HeaderDecision refuse(ApiCallState &state, Http::Response response);
    void resolveClient(ApiCallState &state, const Http::Request &request);
    void finish(const ApiCallState &call, Http::Response &response);
    std::shared_ptr<const ClientAddress> clients() const;

    UserDirectory &m_users;
    RateLimiter &m_limiter;
    mutable QMutex m_clientsMutex; // guards m_clients (the pointer; the object is immutable)
    std::shared_ptr<const ClientAddress> m_clients;
    AccessLog *m_accessLog; // may be null
    std::deque<CompiledRoute> m_routes;
    ApiMetrics m_metrics;
    ApiMetrics::RouteCounters *m_unmatched;
    ApiMetrics::RouteCounters *m_preflight; // CORS preflights answered from the policy
    ApiMetrics::RouteCounters *m_server;    // answered by the server layer itself
    CorsPolicy m_cors;
    QThreadPool m_workers;
    QMutex m_authMutex;
    QHash<QByteArray, std::pair<User, qint64>> m_authCache; // token hash -> user, expiry (ms)
    quint64 m_authGeneration = 0; // UserDirectory::generation() the cache was filled at
};

} // namespace Ferry
