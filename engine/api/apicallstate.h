#pragma once

#include "api/apimetrics.h"
#include "api/apiroute.h"
#include "ratelimit/ratelimiter.h"

#include <QElapsedTimer>

#include <atomic>

namespace Ferry {

// Everything the API knows about one request, shared by its ApiCall copies. Private to the API.
struct ApiCallState
{
    ApiHandler *handler = nullptr;
    const ApiRoute *route = nullptr;
    ApiMetrics::RouteCounters *counters = nullptr;
    QList<QByteArray> params;
    User user;
    std::optional<RateLimitDecision> limit;
    QHostAddress client;
    QString limitKey;      // the rate limiter's key of client
    QByteArray clientText; // client as the access log writes it
    QByteArray corsOrigin; // the request's Origin when the CORS policy allows it
    QElapsedTimer timer;
    // The request: the server's during prepare(), then ours (moved in) during handle().
    const Http::Request *request = nullptr;
    Http::Request ownedRequest;
    std::unique_ptr<Http::BodyConsumer> body;
    std::shared_ptr<void> routeState;
    std::optional<Http::Responder> responder;
    std::atomic<bool> answered = false;
};

} // namespace Ferry
