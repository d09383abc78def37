#pragma once

#include "http/httptypes.h"

#include <QByteArrayView>
#include <QFuture>

#include <memory>
#include <optional>

namespace Ferry::Http {

class HttpConnection;
struct ConnectionLink;

// Receives a request body piece by piece, on the network thread, so memory stays bounded
// whatever the size (e.g. writes to a temporary file). The server calls finish() once the whole
// body arrived, then hands the consumer to Handler::handle(); it calls abort() instead (and never
// handle()) when the body cannot complete: client gone, stalled, over the limit, malformed.
class BodyConsumer
{
public:
    virtual ~BodyConsumer() = default;
    // false refuses the body (e.g. disk full): the client gets 500 and the connection closes.
    virtual bool write(QByteArrayView data) = 0;
    virtual bool finish() = 0;
    virtual void abort() = 0;
    // The answer sent when write() or finish() returned false; none: 500 "Body not stored".
    // Lets a consumer refuse with what went wrong (507 disk full, 400 malformed form data).
    virtual std::optional<Response> refusal() { return std::nullopt; }
    // Asked after each write() that accepted its data: none when the consumer takes more now,
    // else a future that finishes once it can (its sink, e.g. PostgreSQL, caught up). Until then
    // the connection reads nothing more from this client (TCP pushes back on it), so a slow
    // sink bounds the body's memory without ever blocking the network thread. The body stall
    // timeout does not run meanwhile; the consumer's own sink must end the wait (finish the
    // future on success and on error).
    virtual std::optional<QFuture<void>> readyForMore() { return std::nullopt; }
};

// What Handler::headersReceived() decides once the headers are parsed, before any body byte is
// read. A rejection is sent as is (without "100 Continue"), and the body is never read.
struct HeaderDecision
{
    std::optional<Response> reject;
    std::unique_ptr<BodyConsumer> consumer; // null: the body is buffered into Request::body
    qint64 maxBodyBytes = -1;               // -1: HttpLimits::maxBodyBytes
    // What the handler learned from the headers (the user, a rate-limit decision), handed back
    // with the request to handle() as Request::context.
    std::shared_ptr<void> context;

    // Not decided yet: the handler must wait for something slow (the database) and decides on
    // another thread. The connection reads nothing more until the decision arrives (TCP pushes
    // back on the client), then goes on as if it had been returned at once; past
    // HttpLimits::responseTimeoutMs the client gets 503. A decision the connection cannot take
    // any more (the client left) has its consumer aborted. A null result counts as 503.
    std::optional<QFuture<std::shared_ptr<HeaderDecision>>> later;

    static HeaderDecision accept() { return {}; }
    static HeaderDecision decideLater(QFuture<std::shared_ptr<HeaderDecision>> future)
    {
        HeaderDecision decision;
        decision.later = std::move(future);
        return decision;
    }
    static HeaderDecision streamInto(std::unique_ptr<BodyConsumer> consumer,
                                     qint64 maxBodyBytes = -1)
    {
        HeaderDecision decision;
        decision.consumer = std::move(consumer);
        decision.maxBodyBytes = maxBodyBytes;
        return decision;
    }
    static HeaderDecision refuse(Response response)
    {
        HeaderDecision decision;
        decision.reject = std::move(response);
        return decision;
    }
};

// Answers one request. Copyable; callable from any thread, once: later calls are ignored. After
// the client disconnected it does nothing. When the last copy dies uncalled the client gets 500,
// so a handler that forgets a request cannot wedge a keep-alive connection.
class Responder final
{
public:
    Responder(std::shared_ptr<ConnectionLink> link, quint64 sequence);
    void operator()(Response response) const;
    bool answered() const;
    // false once the client's connection is gone (an answer would be dropped): long waits use
    // it to give up early. Any thread.
    bool connected() const;

private:
    struct State;
    std::shared_ptr<State> m_state;
};

// The application side of the server layer (routes, auth, rate limits live behind it).
class Handler
{
public:
    virtual ~Handler() = default;
    // Network thread, as soon as the headers are parsed. Must not block: what needs the
    // database is decided on another thread (HeaderDecision::decideLater).
    virtual HeaderDecision headersReceived(const Request &request)
    {
        Q_UNUSED(request);
        return HeaderDecision::accept();
    }
    // Network thread, once the whole body arrived. May answer now or later, from any thread.
    virtual void handle(Request request, std::unique_ptr<BodyConsumer> body, Responder respond) = 0;
    // Network thread: the server layer answers a request itself, without handle() (400, 408,
    // 413, 431, 503 over a connection cap or when the handler did not answer in time, a body
    // consumer's refusal). request holds what was parsed: always the peer, the method and path
    // once known, and context when headersReceived() accepted the headers. The handler counts
    // and logs it, and may rewrite response (e.g. keep details of a 5xx out of its body).
    virtual void answeredByServer(const Request &request, Response &response)
    {
        Q_UNUSED(request);
        Q_UNUSED(response);
    }
    // Network thread, when a connection is accepted (before any byte is read): the client it
    // counts against for HttpLimits::maxConnectionsPerIp. Empty: not capped per client (e.g. a
    // trusted proxy, which carries many clients; the overall cap still applies).
    virtual QByteArray connectionKey(const QHostAddress &peer) const
    {
        return peer.toString().toLatin1();
    }
};

} // namespace Ferry::Http
