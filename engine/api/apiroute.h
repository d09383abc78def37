#pragma once

#include "core/error.h"
#include "http/httphandler.h"
#include "store/records.h"

#include <QByteArray>
#include <QHostAddress>
#include <QList>
#include <QUrlQuery>

#include <functional>
#include <memory>

namespace Ferry {

class ApiHandler;
struct ApiCallState;

// One API request as a route sees it: the parsed request, the path parameters, the
// authenticated user, the client address. Cheap to copy; every copy is the same call. respond()
// may be called from any thread, once (later calls are ignored); it adds the rate-limit headers,
// counts the request for /metrics and writes the access-log line.
class ApiCall final
{
public:
    explicit ApiCall(std::shared_ptr<ApiCallState> state);

    const Http::Request &request() const;
    // The n-th "{...}" segment of the route's path, as sent (not percent-decoded).
    QByteArray param(qsizetype n) const;
    // A query parameter, percent-decoded ('+' is a space); null when absent.
    QString query(const QString &name) const;
    bool hasQuery(const QString &name) const;
    const User &user() const;
    const QHostAddress &client() const;

    // The body's consumer chosen by the route's prepare() (null when the body was buffered into
    // request().body). Only in handle().
    Http::BodyConsumer *body() const;
    std::unique_ptr<Http::BodyConsumer> takeBody() const;

    // What prepare() learned from the headers, handed on to handle().
    void setRouteState(std::shared_ptr<void> state) const;
    template<typename T>
    T *routeState() const
    {
        return static_cast<T *>(rawRouteState());
    }

    void respond(Http::Response response) const;
    bool answered() const;
    // The client closed its connection: nobody will read an answer (long-polls stop waiting).
    bool clientGone() const;

private:
    void *rawRouteState() const;
    std::shared_ptr<ApiCallState> m_state;
};

// A request's query as the routes read it (percent-decoded; '+' is a space).
QUrlQuery parseQuery(const QByteArray &query);

// A route: method and path ("/api/v1/jobs/{id}"), what it needs, and its code.
struct ApiRoute
{
    QByteArray method;
    QByteArray path;
    bool authenticated = true; // Authorization: Bearer <token>; 401/403 otherwise
    bool rateLimited = true;   // counts against the client's per-IP limit
    // The query parameters the route takes: any other is refused with 400 (unknown_parameter)
    // naming these, before prepare() and handle() run.
    QStringList queryParameters;
    // Runs handle() on the API's worker pool instead of the network thread: for routes that do
    // more than a short read (writes, waits, file work).
    bool offload = false;
    // Optional, once the headers are parsed and the caller authenticated, before any body byte
    // is read: refuse (413, 429, 415, ...) or pick a BodyConsumer and limit. On the network
    // thread, where it must not block, unless prepareOffload.
    std::function<Http::HeaderDecision(const ApiCall &call)> prepare;
    // Runs prepare() on the API's worker pool (it reads the store: an idempotency key): the
    // connection waits for the decision without holding its network thread.
    bool prepareOffload = false;
    std::function<void(const ApiCall &call)> handle;
};

// A set of routes that belong together (jobs, uploads, ...). The app creates the groups with
// their dependencies and registers them with the ApiHandler.
class ApiRouteGroup
{
public:
    virtual ~ApiRouteGroup() = default;
    virtual QList<ApiRoute> routes() = 0;
};

namespace Api {

// {"success": false, "error": title, "message": message, "code": code}
Http::Response error(int status, const char *title, const QString &message, const char *code);
// An engine Error as an HTTP answer, by the table of error codes (errorCodes(), docs/api.md
// "Error codes"): InvalidArgument 400, NotFound 404, Conflict 409, Unavailable and Storage 503
// (code "unavailable"), InsufficientStorage 507, anything else 500.
Http::Response fromError(const Error &error);
Http::Response json(int status, const QJsonObject &object);
// JSON text the caller already wrote (the hot paths write it directly).
Http::Response jsonText(int status, QByteArray body);
// A 5xx answer's body says what kind of failure it was and a reference; what went wrong (paths,
// SQL, the store's message) goes to the log under that reference only. Other statuses and
// streams are left alone. Returns the reference (empty when nothing was changed).
QString hideErrorDetails(Http::Response &response,
                         const QByteArray &method,
                         const QByteArray &path,
                         const QByteArray &client);

} // namespace Api

} // namespace Ferry
