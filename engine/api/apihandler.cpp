#include "apihandler.h"

#include "api/apicallstate.h"

#include <QDateTime>
#include <QJsonArray>
#include <QJsonObject>
#include <QVarLengthArray>
#include <QtConcurrent/QtConcurrentRun>

namespace Ferry {

namespace {

constexpr qint64 AuthCacheMs = 5'000;

using Segments = QVarLengthArray<QByteArrayView, 12>;

Segments splitPath(QByteArrayView path)
{
    Segments segments;
    qsizetype start = 0;
    for (qsizetype i = 0; i <= path.size(); ++i) {
        if (i == path.size() || path[i] == '/') {
            segments.append(path.sliced(start, i - start));
            start = i + 1;
        }
    }
    return segments;
}

bool isBearer(const QByteArray &authorization)
{
    return QByteArrayView(authorization).first(7).compare("Bearer ", Qt::CaseInsensitive) == 0;
}

// Equal without an early exit: how long it takes says nothing about where they differ.
bool sameSecret(const QByteArray &a, const QByteArray &b)
{
    if (a.size() != b.size())
        return false;
    unsigned char diff = 0;
    for (qsizetype i = 0; i < a.size(); ++i)
        diff |= static_cast<unsigned char>(a[i] ^ b[i]);
    return diff == 0;
}

// The token's SHA-256. A keep-alive client sends the same header again and again: each thread
// remembers its last one (compared in constant time) instead of hashing it on every request.
QByteArray tokenHash(const QByteArray &authorization)
{
    thread_local QByteArray lastAuthorization;
    thread_local QByteArray lastHash;
    if (!lastAuthorization.isEmpty() && sameSecret(lastAuthorization, authorization))
        return lastHash;
    lastHash = UserDirectory::hashToken(QString::fromLatin1(authorization.mid(7).trimmed()));
    lastAuthorization = authorization;
    return lastHash;
}

// The 400 answer to a query parameter the route does not take, naming those it does.
std::optional<Http::Response> unknownQueryParameter(const Http::Request &request,
                                                    const QStringList &allowed)
{
    const QUrlQuery query = parseQuery(request.query);
    for (const auto &[name, value] : query.queryItems(QUrl::FullyDecoded)) {
        if (allowed.contains(name))
            continue;
        QJsonObject body{{QStringLiteral("success"), false},
                         {QStringLiteral("error"), QStringLiteral("Bad request")},
                         {QStringLiteral("code"), QStringLiteral("unknown_parameter")},
                         {QStringLiteral("parameter"), name.left(64)},
                         {QStringLiteral("allowed"), QJsonArray::fromStringList(allowed)}};
        body.insert(QStringLiteral("message"),
                    allowed.isEmpty()
                        ? QStringLiteral("Unknown query parameter '%1': %2 takes none.")
                              .arg(name.left(64), QString::fromUtf8(request.path.left(200)))
                        : QStringLiteral("Unknown query parameter '%1'. %2 takes %3.")
                              .arg(name.left(64), QString::fromUtf8(request.path.left(200)),
                                   allowed.join(QStringLiteral(", "))));
        return Http::Response::json(400, body);
    }
    return std::nullopt;
}

} // namespace

ApiHandler::ApiHandler(UserDirectory &users,
                       RateLimiter &limiter,
                       ClientAddress clients,
                       AccessLog *log)
    : m_users(users)
    , m_limiter(limiter)
    , m_clients(std::make_shared<const ClientAddress>(std::move(clients)))
    , m_accessLog(log)
    , m_unmatched(m_metrics.counters("unmatched"))
    , m_preflight(m_metrics.counters("preflight"))
    , m_server(m_metrics.counters("server"))
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
    return *clients();
}

std::shared_ptr<const ClientAddress> ApiHandler::clients() const
{
    const QMutexLocker locker(&m_clientsMutex);
    return m_clients;
}

// One notion of client for the connection cap and the rate limit (ClientAddress::keyOf: IPv4
// address, IPv6 /56). A trusted proxy carries many clients, and which ones is known only from
// each request's X-Forwarded-For: it is not capped per client at accept time (the overall cap
// still bounds it), and its clients are held to the rate limit by their forwarded address.
QByteArray ApiHandler::connectionKey(const QHostAddress &peer) const
{
    const std::shared_ptr<const ClientAddress> trusted = clients();
    if (trusted->isTrusted(peer))
        return {};
    return ClientAddress::keyOf(peer).toLatin1();
}

// The server layer answered by itself (malformed, too large, too slow, over a connection cap,
// a body the route's consumer refused): counted and logged like any answer, so a flood shows.
void ApiHandler::answeredByServer(const Http::Request &request, Http::Response &response)
{
    if (auto state = std::static_pointer_cast<ApiCallState>(request.context)) {
        if (state->answered.exchange(true))
            return; // the API's own refusal: already counted
        state->request = &request;
        finish(*state, response);
        state->request = nullptr;
        return;
    }
    m_metrics.record(m_server, response.status, 0);
    if (!m_accessLog)
        return;
    QList<QByteArray> forwarded;
    for (const auto &[name, value] : request.headers) {
        if (name == "x-forwarded-for")
            forwarded.append(value);
    }
    const QHostAddress client = forwarded.isEmpty()
                                    ? request.peerAddress
                                    : clients()->client(request.peerAddress, forwarded);
    m_accessLog->record(request.method, request.path.isEmpty() ? request.target : request.path,
                        response.status, response.body.size(), 0, client.toString().toUtf8());
}

void ApiHandler::addRoutes(ApiRouteGroup &group)
{
    for (ApiRoute &route : group.routes())
        addRoute(std::move(route));
}

void ApiHandler::addRoute(ApiRoute route)
{
    CompiledRoute compiled;
    for (const QByteArray &segment : route.path.split('/')) {
        compiled.segments.append(segment.startsWith('{') ? QByteArray("{}") : segment);
        compiled.isParameter.append(segment.startsWith('{'));
    }
    compiled.counters = m_metrics.counters(route.path);
    compiled.route = std::move(route);
    m_routes.push_back(std::move(compiled));
}

const ApiHandler::CompiledRoute *ApiHandler::match(const QByteArray &method,
                                                   const QByteArray &path,
                                                   QList<QByteArray> *params,
                                                   QByteArray *allow) const
{
    const Segments segments = splitPath(path);
    const CompiledRoute *found = nullptr;
    // HEAD is served by the GET route unless a route takes HEAD itself (tus): that one wins.
    const CompiledRoute *implicitHead = nullptr;
    for (const CompiledRoute &compiled : m_routes) {
        if (compiled.segments.size() != segments.size())
            continue;
        bool same = true;
        for (qsizetype i = 0; i < segments.size() && same; ++i)
            same = compiled.isParameter[i] || compiled.segments[i] == segments[i];
        if (!same)
            continue;
        const QByteArray &routeMethod = compiled.route.method;
        if (routeMethod == method) {
            if (!found)
                found = &compiled;
        } else if (method == "HEAD" && routeMethod == "GET") {
            if (!implicitHead)
                implicitHead = &compiled;
        } else if (!allow->contains(routeMethod)) {
            *allow += (allow->isEmpty() ? "" : ", ") + routeMethod +
                      (routeMethod == "GET" ? ", HEAD" : "");
        }
    }
    if (!found)
        found = implicitHead;
    if (found) {
        for (qsizetype i = 0; i < segments.size(); ++i) {
            if (found->isParameter[i])
                params->append(segments[i].toByteArray());
        }
    }
    return found;
}

// NotFound: no token, another scheme, or an unknown token (401); any other error is the store's
// (503: the client did nothing wrong, and must not be told its token is bad).
std::optional<Result<User>> ApiHandler::authenticateFromCache(const QByteArray &authorization)
{
    // RFC 9110 11.1: the scheme name is case-insensitive ("bearer", "BEARER").
    if (authorization.size() < 7 || !isBearer(authorization))
        return Result<User>(makeError(ErrorCode::NotFound, QStringLiteral("No bearer token.")));
    const QByteArray hash = tokenHash(authorization);
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    // A token rotated or a user disabled in this process (the console) counts from the next
    // request: the cache is dropped when the directory's generation moves on.
    const quint64 generation = m_users.generation();
    QMutexLocker lock(&m_authMutex);
    if (generation != m_authGeneration) {
        m_authCache.clear();
        m_authGeneration = generation;
    } else if (auto it = m_authCache.constFind(hash);
               it != m_authCache.cend() && it->second > now) {
        return Result<User>(it->first);
    }
    return std::nullopt;
}

Result<User> ApiHandler::authenticateFromStore(const QByteArray &authorization)
{
    const QByteArray hash = tokenHash(authorization);
    const quint64 generation = m_users.generation();
    // The lookup is by the token's SHA-256, never by the token: its timing says nothing of it.
    auto user = m_users.authenticate(QString::fromLatin1(authorization.mid(7).trimmed()));
    if (!user)
        return user.error();
    QMutexLocker lock(&m_authMutex);
    if (m_users.generation() != generation || m_authGeneration != generation)
        return *user; // changed while we looked: do not cache what may be stale
    if (m_authCache.size() > 10'000)
        m_authCache.clear();
    m_authCache.insert(hash, {*user, QDateTime::currentMSecsSinceEpoch() + AuthCacheMs});
    return *user;
}

Http::HeaderDecision ApiHandler::refuse(ApiCallState &state, Http::Response response)
{
    state.answered = true;
    finish(state, response);
    return Http::HeaderDecision::refuse(std::move(response));
}

Http::HeaderDecision ApiHandler::headersReceived(const Http::Request &request)
{
    auto state = std::make_shared<ApiCallState>();
    state->handler = this;
    state->timer.start();
    state->request = &request;
    resolveClient(*state, request);
    QByteArray allow;
    const CompiledRoute *compiled = match(request.method, request.path, &state->params, &allow);
    state->route = compiled ? &compiled->route : nullptr;
    state->counters = compiled ? compiled->counters : m_unmatched;
    const bool api = request.path.startsWith("/api/");

    // A browser's preflight for a cross-origin call: answered from the policy, before the token
    // and the rate limit (it carries neither, and the real request is counted when it comes).
    state->corsOrigin = m_cors.allowedOrigin(request);
    if (!state->corsOrigin.isEmpty() && request.method == "OPTIONS" &&
        request.path.startsWith("/api/v1/") && !allow.isEmpty()) {
        state->counters = m_preflight;
        return refuse(*state, m_cors.preflight(allow));
    }

    // Every /api/ request counts against its client's limit, known route or not; health does not.
    if (api && (!state->route || state->route->rateLimited)) {
        state->limit = m_limiter.check(state->limitKey);
        if (!state->limit->allowed) {
            Http::Response response = Http::Response::json(429, RateLimiter::tooManyRequestsBody());
            response.setHeader(RateLimiter::RetryAfterHeaderName,
                               RateLimiter::retryAfterHeaderValue(*state->limit));
            return refuse(*state, std::move(response));
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
            return refuse(*state, std::move(response));
        }
        return refuse(*state,
                      Api::error(404, "Not found",
                                 QStringLiteral("There is no %1. See docs/api.md for the routes.")
                                     .arg(QString::fromUtf8(request.path.left(200))),
                                 "not_found"));
    }
    std::optional<Result<User>> user;
    if (state->route->authenticated)
        user = authenticateFromCache(request.header("authorization"));
    const bool needsStore = (state->route->authenticated && !user) ||
                            (state->route->prepare && state->route->prepareOffload);
    if (!needsStore)
        return admit(state, user ? &*user : nullptr);

    // The store's part runs on the worker pool: a network thread never waits for the database.
    // The request is copied (headers only, bounded): the connection's may be gone meanwhile.
    state->ownedRequest = request;
    state->request = &state->ownedRequest;
    return Http::HeaderDecision::decideLater(
        QtConcurrent::run(&m_workers, [this, state, known = std::move(user)] {
            std::optional<Result<User>> found = known;
            if (state->route->authenticated && !found)
                found = authenticateFromStore(state->request->header("authorization"));
            return std::make_shared<Http::HeaderDecision>(admit(state, found ? &*found : nullptr));
        }));
}

// user: the caller when the route is authenticated (nullptr when it is not).
Http::HeaderDecision ApiHandler::admit(const std::shared_ptr<ApiCallState> &state,
                                       const Result<User> *user)
{
    if (user) {
        if (!*user && user->error().code != ErrorCode::NotFound)
            return refuse(*state, Api::fromError(user->error()));
        if (!*user) {
            Http::Response response = Api::error(
                401, "Unauthorized",
                QStringLiteral(
                    "Send your API token as 'Authorization: Bearer <token>'. An operator "
                    "creates one with 'ferry user add NAME'."),
                "unauthorized");
            response.setHeader("WWW-Authenticate", "Bearer");
            return refuse(*state, std::move(response));
        }
        if ((*user)->disabled) {
            return refuse(
                *state,
                Api::error(
                    403, "Forbidden",
                    QStringLiteral("The user %1 is disabled. Ask an operator.").arg((*user)->name),
                    "user_disabled"));
        }
        state->user = **user;
    }
    if (!state->request->query.isEmpty()) {
        if (auto unknown = unknownQueryParameter(*state->request, state->route->queryParameters))
            return refuse(*state, std::move(*unknown));
    }
    Http::HeaderDecision decision = Http::HeaderDecision::accept();
    if (state->route->prepare) {
        decision = state->route->prepare(ApiCall(state));
        if (decision.reject) {
            Http::Response response = std::move(*decision.reject);
            return refuse(*state, std::move(response));
        }
    }
    state->request = nullptr; // the server's request is gone after this call
    decision.context = state;
    return decision;
}

// The client: the peer, or what trusted proxies say it forwarded (--trust-proxy); with its rate
// limit key and its text for the log, which the last client's are reused for (most requests come
// from the client before them, on a keep-alive connection).
void ApiHandler::resolveClient(ApiCallState &state, const Http::Request &request)
{
    QList<QByteArray> forwarded;
    for (const auto &[name, value] : request.headers) {
        if (name == "x-forwarded-for")
            forwarded.append(value);
    }
    state.client = forwarded.isEmpty() ? request.peerAddress
                                       : clients()->client(request.peerAddress, forwarded);
    thread_local QHostAddress lastClient;
    thread_local QString lastKey;
    thread_local QByteArray lastText;
    if (lastKey.isEmpty() || lastClient != state.client) {
        lastClient = state.client;
        lastKey = ClientAddress::keyOf(state.client);
        lastText = state.client.toString().toUtf8();
    }
    state.limitKey = lastKey;
    state.clientText = lastText;
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
    if (response.status >= 500 && !response.stream) {
        const Http::Request *request = call.request;
        Api::hideErrorDetails(response, request ? request->method : QByteArray(),
                              request ? request->path : QByteArray(), call.clientText);
    }
    if (call.limit) {
        response.headers.reserve(response.headers.size() + 2);
        response.setHeader(RateLimiter::PolicyHeaderName, m_limiter.policyHeaderValue());
        response.setHeader(RateLimiter::HeaderName, m_limiter.headerValue(*call.limit));
    }
    if (m_cors.enabled())
        m_cors.addHeaders(call.corsOrigin, response);
    if (response.status == 429) {
        m_metrics.countRefusal(call.limit && !call.limit->allowed ? ApiMetrics::Refusal::RateLimit
                                                                  : ApiMetrics::Refusal::Quota);
    }
    const qint64 micros = call.timer.nsecsElapsed() / 1000;
    m_metrics.record(call.counters ? call.counters : m_unmatched, response.status, micros);
    if (m_accessLog) {
        const Http::Request *request = call.request;
        m_accessLog->record(request ? request->method : QByteArray(),
                            request ? request->path : QByteArray(), response.status,
                            response.stream ? -1 : response.body.size(), micros, call.clientText);
    }
}

} // namespace Ferry
