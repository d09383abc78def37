#include "apihandler.h"

#include "api/apicallstate.h"

#include <QDateTime>

namespace Ferry {

namespace {

constexpr qint64 AuthCacheMs = 5'000;

} // namespace

ApiHandler::ApiHandler(UserDirectory &users,
                       RateLimiter &limiter,
                       ClientAddress clients,
                       AccessLog *log)
    : m_users(users)
    , m_limiter(limiter)
    , m_clients(std::make_shared<const ClientAddress>(std::move(clients)))
    , m_accessLog(log)
{
    m_workers.setObjectName(QStringLiteral("ferry-api"));
    m_workers.setMaxThreadCount(8);
    m_workers.setExpiryTimeout(30'000);
}

ApiHandler::~ApiHandler()
{
    m_workers.waitForDone();
}

void ApiHandler::setClientAddress(ClientAddress clients)
{
    auto replacement = std::make_shared<const ClientAddress>(std::move(clients));
    const QMutexLocker locker(&m_clientsMutex);
    m_clients = std::move(replacement);
}

ClientAddress ApiHandler::clientAddress() const
{
    std::shared_ptr<const ClientAddress> clients;
    {
        const QMutexLocker locker(&m_clientsMutex);
        clients = m_clients;
    }
    return *clients;
}

void ApiHandler::addRoutes(ApiRouteGroup &group)
{
    for (ApiRoute &route : group.routes())
        addRoute(std::move(route));
}

void ApiHandler::addRoute(ApiRoute route)
{
    CompiledRoute compiled;
    for (const QByteArray &segment : route.path.split('/'))
        compiled.segments.append(segment.startsWith('{') ? QByteArray("{}") : segment);
    compiled.route = std::move(route);
    m_routes.push_back(std::move(compiled));
}

const ApiRoute *ApiHandler::match(const QByteArray &method,
                                  const QByteArray &path,
                                  QList<QByteArray> *params,
                                  QByteArray *allow) const
{
    const QList<QByteArray> segments = path.split('/');
    const ApiRoute *found = nullptr;
    // HEAD is served by the GET route unless a route takes HEAD itself (tus): that one wins.
    const ApiRoute *implicitHead = nullptr;
    QList<QByteArray> implicitHeadParams;
    for (const CompiledRoute &compiled : m_routes) {
        if (compiled.segments.size() != segments.size())
            continue;
        QList<QByteArray> values;
        bool same = true;
        for (qsizetype i = 0; i < segments.size() && same; ++i) {
            if (compiled.segments[i] == "{}")
                values.append(segments[i]);
            else
                same = compiled.segments[i] == segments[i];
        }
        if (!same)
            continue;
        const QByteArray &routeMethod = compiled.route.method;
        if (routeMethod == method) {
            if (!found) {
                *params = values;
                found = &compiled.route;
            }
        } else if (method == "HEAD" && routeMethod == "GET") {
            if (!implicitHead) {
                implicitHeadParams = values;
                implicitHead = &compiled.route;
            }
        } else if (!allow->contains(routeMethod)) {
            *allow += (allow->isEmpty() ? "" : ", ") + routeMethod +
                      (routeMethod == "GET" ? ", HEAD" : "");
        }
    }
    if (!found && implicitHead) {
        *params = implicitHeadParams;
        found = implicitHead;
    }
    return found;
}

std::optional<User> ApiHandler::authenticate(const QByteArray &authorization)
{
    if (!authorization.startsWith("Bearer "))
        return std::nullopt;
    const QString token = QString::fromLatin1(authorization.mid(7).trimmed());
    const QByteArray hash = UserDirectory::hashToken(token);
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    // A token rotated or a user disabled in this process (the console) counts from the next
    // request: the cache is dropped when the directory's generation moves on.
    const quint64 generation = m_users.generation();
    {
        QMutexLocker lock(&m_authMutex);
        if (generation != m_authGeneration) {
            m_authCache.clear();
            m_authGeneration = generation;
        } else if (auto it = m_authCache.constFind(hash);
                   it != m_authCache.cend() && it->second > now) {
            return it->first;
        }
    }
    // The lookup is by the token's SHA-256, never by the token: its timing says nothing of it.
    auto user = m_users.authenticate(token);
    if (!user)
        return std::nullopt;
    QMutexLocker lock(&m_authMutex);
    if (m_users.generation() != generation)
        return *user; // changed while we looked: do not cache what may be stale
    if (m_authCache.size() > 10'000)
        m_authCache.clear();
    m_authCache.insert(hash, {*user, now + AuthCacheMs});
    return *user;
}

Http::HeaderDecision ApiHandler::headersReceived(const Http::Request &request)
{
    auto state = std::make_shared<ApiCallState>();
    state->handler = this;
    state->timer.start();
    state->request = &request;
    // The client: the peer, or what trusted proxies say it forwarded (--trust-proxy).
    QList<QByteArray> forwarded;
    for (const auto &[name, value] : request.headers) {
        if (name == "x-forwarded-for")
            forwarded.append(value);
    }
    state->client = forwarded.isEmpty() ? request.peerAddress
                                        : clientAddress().client(request.peerAddress, forwarded);
    QByteArray allow;
    state->route = match(request.method, request.path, &state->params, &allow);
    const bool api = request.path.startsWith("/api/");
    auto refuse = [&](Http::Response response) {
        state->answered = true;
        finish(*state, response);
        return Http::HeaderDecision::refuse(std::move(response));
    };

    // Every /api/ request counts against its client's limit, known route or not; health does not.
    if (api && (!state->route || state->route->rateLimited)) {
        state->limit = m_limiter.check(ClientAddress::keyOf(state->client));
        if (!state->limit->allowed) {
            Http::Response response = Http::Response::json(429, RateLimiter::tooManyRequestsBody());
            response.setHeader(RateLimiter::RetryAfterHeaderName,
                               RateLimiter::retryAfterHeaderValue(*state->limit));
            return refuse(std::move(response));
        }
    }
    if (!state->route) {
        if (!allow.isEmpty()) {
            Http::Response response =
                Api::error(405, "Method not allowed",
                           QStringLiteral("%1 does not take %2. Use %3.")
                               .arg(QString::fromUtf8(request.path),
                                    QString::fromUtf8(request.method), QString::fromUtf8(allow)),
                           "method_not_allowed");
            response.setHeader("Allow", allow);
            return refuse(std::move(response));
        }
        return refuse(Api::error(404, "Not found",
                                 QStringLiteral("There is no %1. See docs/api.md for the routes.")
                                     .arg(QString::fromUtf8(request.path.left(200))),
                                 "not_found"));
    }
    if (state->route->authenticated) {
        const std::optional<User> user = authenticate(request.header("authorization"));
        if (!user) {
            Http::Response response = Api::error(
                401, "Unauthorized",
                QStringLiteral(
                    "Send your API token as 'Authorization: Bearer <token>'. An operator "
                    "creates one with 'ferry user add NAME'."),
                "unauthorized");
            response.setHeader("WWW-Authenticate", "Bearer");
            return refuse(std::move(response));
        }
        if (user->disabled) {
            return refuse(Api::error(
                403, "Forbidden",
                QStringLiteral("The user %1 is disabled. Ask an operator.").arg(user->name),
                "user_disabled"));
        }
        state->user = *user;
    }
    Http::HeaderDecision decision = Http::HeaderDecision::accept();
    if (state->route->prepare) {
        decision = state->route->prepare(ApiCall(state));
        if (decision.reject) {
            Http::Response response = std::move(*decision.reject);
            return refuse(std::move(response));
        }
    }
    state->request = nullptr; // the server's request is gone after this call
    decision.context = state;
    return decision;
}

void ApiHandler::handle(Http::Request request,
                        std::unique_ptr<Http::BodyConsumer> body,
                        Http::Responder respond)
{
    auto state = std::static_pointer_cast<ApiCallState>(request.context);
    if (!state || !state->route) {
        respond(Http::Response::error(500, QStringLiteral("Internal error"),
                                      QStringLiteral("The request lost its route. Try again."),
                                      QStringLiteral("internal_error")));
        return;
    }
    request.context.reset(); // the state owns the request now: no cycle
    state->ownedRequest = std::move(request);
    state->request = &state->ownedRequest;
    state->body = std::move(body);
    state->responder = std::move(respond);
    const ApiRoute *route = state->route;
    if (route->offload)
        m_workers.start([route, call = ApiCall(state)] { route->handle(call); });
    else
        route->handle(ApiCall(state));
}

void ApiHandler::finish(const ApiCallState &call, Http::Response &response)
{
    if (call.limit) {
        response.setHeader(RateLimiter::PolicyHeaderName, m_limiter.policyHeaderValue());
        response.setHeader(RateLimiter::HeaderName, m_limiter.headerValue(*call.limit));
    }
    const qint64 micros = call.timer.nsecsElapsed() / 1000;
    m_metrics.record(call.route ? call.route->path : QByteArray("unmatched"), response.status,
                     micros);
    if (m_accessLog) {
        const Http::Request *request = call.request;
        m_accessLog->record(request ? request->method : QByteArray(),
                            request ? request->path : QByteArray(), response.status,
                            response.stream ? -1 : response.body.size(), micros,
                            call.client.toString().toUtf8());
    }
}

} // namespace Ferry
