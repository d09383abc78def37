#include "apihandler.h"

#include <QElapsedTimer>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLoggingCategory>

#include "core/jsontext.h"

#include <string>

namespace Ferry {

namespace {

constexpr qint64 AuthCacheMs = 5'000;

Http::Response
errorResponse(int status, const char *title, const QString &message, const char *code)
{
    return Http::Response::error(status, QString::fromLatin1(title), message,
                                 QString::fromLatin1(code));
}

// {"success": true, "job": {...}} written directly: this is the API's hottest answer.
QByteArray jobBody(const Job &job)
{
    std::string out;
    out.reserve(384);
    bool first = true;
    auto key = [&](const char *name) {
        if (!first)
            out.push_back(',');
        first = false;
        out.push_back('"');
        out.append(name);
        out.append("\":");
    };
    auto text = [&](const char *name, const QString &value, bool nullIfEmpty) {
        key(name);
        if (nullIfEmpty && value.isEmpty())
            out.append("null");
        else
            appendJsonString(out, value.toStdString());
    };
    auto number = [&](const char *name, qint64 value, bool nullIfZero) {
        key(name);
        if (nullIfZero && value <= 0)
            out.append("null");
        else
            out.append(std::to_string(value));
    };
    auto object = [&](const char *name, const QJsonObject &value, bool nullIfEmpty) {
        key(name);
        if (nullIfEmpty && value.isEmpty())
            out.append("null");
        else
            out.append(QJsonDocument(value).toJson(QJsonDocument::Compact).toStdString());
    };
    out.append("{\"success\":true,\"job\":{");
    text("id", QString::number(job.id), false);
    text("type", job.type, false);
    text("status", jobStatusName(job.status), false);
    number("priority", job.priority, false);
    number("attempts", job.attempts, false);
    number("maxAttempts", job.maxAttempts, false);
    text("sessionId", job.sessionId, true);
    object("progress", job.progress, false);
    text("error", job.error, true);
    object("result", job.result, true);
    number("createdAt", job.createdAt, true);
    number("startedAt", job.startedAt, true);
    number("finishedAt", job.finishedAt, true);
    out.append("}}");
    return QByteArray(out.data(), qsizetype(out.size()));
}

qint64 processRssBytes()
{
    QFile status(QStringLiteral("/proc/self/statm"));
    if (!status.open(QIODevice::ReadOnly))
        return 0;
    return status.readAll().split(' ').value(1).toLongLong() * 4096;
}

} // namespace

// How a path's segments are matched: literal segments, or "{}" for a parameter.
struct ApiHandler::Route
{
    QByteArray method;
    QList<QByteArray> segments;
    QByteArray name; // for metrics: "/api/v1/jobs/{id}"
    bool authenticated = true;
    bool rateLimited = true;
    Http::Response (ApiHandler::*handler)(const Context &) = nullptr;
};

struct ApiHandler::Context
{
    const Route *route = nullptr;
    QList<QByteArray> params;
    User user;
    std::optional<RateLimitDecision> limit;
    QByteArray clientKey;
    QByteArray method;
    QByteArray path;
    QHostAddress peer;
    QElapsedTimer timer;
    const Http::Request *request = nullptr;
};

ApiHandler::ApiHandler(Store &store,
                       UserDirectory &users,
                       JobQueue &queue,
                       Dispatcher *dispatcher,
                       RateLimiter &limiter,
                       ClientAddress clients,
                       AccessLog *accessLog,
                       Options options)
    : m_store(store)
    , m_users(users)
    , m_queue(queue)
    , m_dispatcher(dispatcher)
    , m_limiter(limiter)
    , m_clients(std::move(clients))
    , m_options(std::move(options))
    , m_accessLog(accessLog)
{
    auto route = [](const char *method, const char *path, bool authenticated, bool limited,
                    Http::Response (ApiHandler::*handler)(const Context &)) {
        Route r;
        r.method = method;
        r.name = path;
        for (const QByteArray &segment : QByteArray(path).split('/'))
            r.segments.append(segment.startsWith('{') ? QByteArray("{}") : segment);
        r.authenticated = authenticated;
        r.rateLimited = limited;
        r.handler = handler;
        return r;
    };
    // Each route: docs/api.md has its parameters, responses and status codes.
    m_routes = {
        route("GET", "/api/v1/health", false, false, &ApiHandler::health),
        route("GET", "/metrics", false, false, &ApiHandler::metricsText),
        route("GET", "/api/v1/jobs/{id}", true, true, &ApiHandler::getJob),
    };
}

ApiHandler::~ApiHandler() = default;

const ApiHandler::Route *ApiHandler::match(const QByteArray &method,
                                           const QByteArray &path,
                                           QList<QByteArray> *params,
                                           QByteArray *allow) const
{
    const QList<QByteArray> segments = path.split('/');
    const QByteArray wanted = method == "HEAD" ? QByteArray("GET") : method;
    const Route *found = nullptr;
    for (const Route &route : m_routes) {
        if (route.segments.size() != segments.size())
            continue;
        QList<QByteArray> values;
        bool same = true;
        for (qsizetype i = 0; i < segments.size() && same; ++i) {
            if (route.segments[i] == "{}")
                values.append(segments[i]);
            else
                same = route.segments[i] == segments[i];
        }
        if (!same)
            continue;
        if (route.method == wanted) {
            *params = values;
            found = &route;
        } else {
            *allow += (allow->isEmpty() ? "" : ", ") + route.method +
                      (route.method == "GET" ? ", HEAD" : "");
        }
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
    {
        QMutexLocker lock(&m_authMutex);
        if (auto it = m_authCache.constFind(hash); it != m_authCache.cend() && it->second > now)
            return it->first;
    }
    // The lookup is by the token's SHA-256, never by the token: its timing says nothing of it.
    auto user = m_users.authenticate(token);
    if (!user)
        return std::nullopt;
    QMutexLocker lock(&m_authMutex);
    if (m_authCache.size() > 10'000)
        m_authCache.clear();
    m_authCache.insert(hash, {*user, now + AuthCacheMs});
    return *user;
}

Http::HeaderDecision ApiHandler::headersReceived(const Http::Request &request)
{
    auto context = std::make_shared<Context>();
    context->timer.start();
    context->method = request.method;
    context->path = request.path;
    // The client: the peer, or what trusted proxies say it forwarded (--trust-proxy).
    QList<QByteArray> forwarded;
    for (const auto &[name, value] : request.headers) {
        if (name == "x-forwarded-for")
            forwarded.append(value);
    }
    context->peer = forwarded.isEmpty() ? request.peerAddress
                                        : m_clients.client(request.peerAddress, forwarded);
    QByteArray allow;
    context->route = match(request.method, request.path, &context->params, &allow);
    const bool api = request.path.startsWith("/api/");
    auto refuse = [&](Http::Response response) {
        finish(*context, response);
        return Http::HeaderDecision::refuse(std::move(response));
    };

    // Every /api/ request counts against its client's limit, known route or not; health does not.
    if (api && (!context->route || context->route->rateLimited)) {
        const QString key = ClientAddress::keyOf(context->peer);
        context->clientKey = key.toUtf8();
        context->limit = m_limiter.check(key);
        if (!context->limit->allowed) {
            Http::Response response = Http::Response::json(429, RateLimiter::tooManyRequestsBody());
            response.setHeader(RateLimiter::RetryAfterHeaderName,
                               RateLimiter::retryAfterHeaderValue(*context->limit));
            return refuse(std::move(response));
        }
    }
    if (!context->route) {
        if (!allow.isEmpty()) {
            Http::Response response =
                errorResponse(405, "Method not allowed",
                              QStringLiteral("%1 does not take %2. Use %3.")
                                  .arg(QString::fromUtf8(request.path),
                                       QString::fromUtf8(request.method), QString::fromUtf8(allow)),
                              "method_not_allowed");
            response.setHeader("Allow", allow);
            return refuse(std::move(response));
        }
        return refuse(
            errorResponse(404, "Not found",
                          QStringLiteral("There is no %1. See docs/api.md for the routes.")
                              .arg(QString::fromUtf8(request.path.left(200))),
                          "not_found"));
    }
    if (context->route->authenticated) {
        const std::optional<User> user = authenticate(request.header("authorization"));
        if (!user) {
            Http::Response response = errorResponse(
                401, "Unauthorized",
                QStringLiteral(
                    "Send your API token as 'Authorization: Bearer <token>'. An operator "
                    "creates one with 'ferry user add NAME'."),
                "unauthorized");
            response.setHeader("WWW-Authenticate", "Bearer");
            return refuse(std::move(response));
        }
        if (user->disabled) {
            return refuse(errorResponse(
                403, "Forbidden",
                QStringLiteral("The user %1 is disabled. Ask an operator.").arg(user->name),
                "user_disabled"));
        }
        context->user = *user;
    }
    Http::HeaderDecision decision = Http::HeaderDecision::accept();
    decision.context = context;
    return decision;
}

void ApiHandler::handle(Http::Request request,
                        std::unique_ptr<Http::BodyConsumer> body,
                        Http::Responder respond)
{
    Q_UNUSED(body);
    auto context = std::static_pointer_cast<Context>(request.context);
    if (!context || !context->route) {
        respond(Http::Response::error(500, QStringLiteral("Internal error"),
                                      QStringLiteral("The request lost its route. Try again."),
                                      QStringLiteral("internal_error")));
        return;
    }
    context->request = &request;
    Http::Response response = (this->*context->route->handler)(*context);
    finish(*context, response);
    respond(std::move(response));
}

void ApiHandler::finish(const Context &context, Http::Response &response) const
{
    if (context.limit) {
        response.setHeader(RateLimiter::PolicyHeaderName, m_limiter.policyHeaderValue());
        response.setHeader(RateLimiter::HeaderName, m_limiter.headerValue(*context.limit));
    }
    const qint64 micros = context.timer.nsecsElapsed() / 1000;
    m_metrics.record(context.route ? context.route->name : QByteArray("unmatched"), response.status,
                     micros);
    if (m_accessLog) {
        m_accessLog->record(context.method, context.path, response.status,
                            response.stream ? -1 : response.body.size(), micros,
                            context.peer.toString().toUtf8());
    }
}

// GET /api/v1/health (no auth, not rate limited)
//   200 {"success": true, "status": "ok", "version": "..."}; 503 when the store does not answer.
Http::Response ApiHandler::health(const Context &)
{
    if (auto counts = m_store.setting(QStringLiteral("queue.paused")); !counts) {
        return errorResponse(
            503, "Unavailable",
            QStringLiteral("The store does not answer: %1").arg(counts.error().message),
            "store_unavailable");
    }
    return Http::Response::json(
        200, {{QStringLiteral("success"), true},
              {QStringLiteral("status"), QStringLiteral("ok")},
              {QStringLiteral("version"), QString::fromUtf8(m_options.version)}});
}

// GET /metrics (Prometheus text 0.0.4; loopback clients only unless configured otherwise)
//   200 text/plain; 403 from other addresses.
Http::Response ApiHandler::metricsText(const Context &context)
{
    if (m_options.metricsLoopbackOnly && !context.request->peerAddress.isLoopback()) {
        return errorResponse(403, "Forbidden",
                             QStringLiteral("Metrics are served to loopback clients only."),
                             "metrics_loopback_only");
    }
    QByteArray text = m_metrics.text();
    if (auto counts = m_store.countByStatus(); counts) {
        text += "# HELP ferry_jobs Jobs by state.\n# TYPE ferry_jobs gauge\n";
        for (int s = int(JobStatus::Pending); s <= int(JobStatus::Dead); ++s) {
            text += "ferry_jobs{state=\"" + jobStatusName(JobStatus(s)).toUtf8() + "\"} " +
                    QByteArray::number(counts->value(JobStatus(s))) + '\n';
        }
        text += "# HELP ferry_queue_depth Pending jobs.\n# TYPE ferry_queue_depth gauge\n"
                "ferry_queue_depth " +
                QByteArray::number(counts->value(JobStatus::Pending)) + '\n';
    }
    if (m_dispatcher) {
        text += "# HELP ferry_active_jobs Jobs running now.\n# TYPE ferry_active_jobs gauge\n"
                "ferry_active_jobs " +
                QByteArray::number(m_dispatcher->runningCount()) + '\n';
        text += "# HELP ferry_max_concurrency The concurrency limit.\n"
                "# TYPE ferry_max_concurrency gauge\nferry_max_concurrency " +
                QByteArray::number(m_dispatcher->maxConcurrency()) + '\n';
    }
    text += "# HELP process_resident_memory_bytes Resident memory.\n"
            "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes " +
            QByteArray::number(processRssBytes()) + '\n';
    Http::Response response;
    response.body = text;
    response.setHeader("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    return response;
}

// GET /api/v1/jobs/{id} (auth)
//   200 {"success": true, "job": {...}}; 404 when it is not the caller's job (or does not exist).
Http::Response ApiHandler::getJob(const Context &context)
{
    bool ok = false;
    const qint64 id = context.params.value(0).toLongLong(&ok);
    auto notFound = [&] {
        return errorResponse(404, "Not found",
                             QStringLiteral("You have no job %1.")
                                 .arg(QString::fromUtf8(context.params.value(0).left(40))),
                             "not_found");
    };
    if (!ok || id <= 0)
        return notFound();
    auto job = m_store.job(id, context.user.id);
    if (!job) {
        return errorResponse(
            503, "Unavailable",
            QStringLiteral("The store does not answer: %1").arg(job.error().message),
            "store_unavailable");
    }
    if (!job->has_value())
        return notFound();
    Http::Response response;
    response.body = jobBody(**job);
    response.setHeader("Content-Type", "application/json; charset=utf-8");
    return response;
}

} // namespace Ferry
