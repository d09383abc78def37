#pragma once

#include <QByteArray>
#include <QFuture>
#include <QHostAddress>
#include <QJsonObject>
#include <QList>
#include <QString>

#include <functional>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

namespace Ferry::Http {

using HeaderList = QList<std::pair<QByteArray, QByteArray>>;

// One parsed HTTP/1.x request. Header names are lowercased; values are as sent (OWS trimmed).
struct Request
{
    QByteArray method;  // "GET", "POST", ...
    QByteArray target;  // the request-target as sent: "/api/v1/jobs?state=done"
    QByteArray path;    // target before '?', not percent-decoded
    QByteArray query;   // target after '?', without it; empty when none
    int httpMinor = 1;  // HTTP/1.<minor>
    HeaderList headers; // in arrival order; repeated fields stay separate
    QHostAddress peerAddress;
    quint16 peerPort = 0;
    qint64 contentLength = -1; // -1: not announced (chunked or no body)
    bool chunked = false;
    bool keepAlive = true; // the connection may carry another request after this one
    bool expectContinue = false;
    QByteArray body;               // the buffered body, when no BodyConsumer took it
    std::shared_ptr<void> context; // HeaderDecision::context of this request

    // The first value of a header (name in any case), or a null QByteArray.
    QByteArray header(QByteArrayView name) const;
    bool hasBody() const { return chunked || contentLength > 0; }
};

// One piece of a streamed body (ResponseStream).
struct StreamChunk
{
    enum class Kind { Data, End, Failed };
    Kind kind = Kind::End;
    QByteArray data; // Data only; may be empty

    static StreamChunk bytes(QByteArray data) { return {Kind::Data, std::move(data)}; }
    static StreamChunk end() { return {}; }
    // The body cannot be completed (the producer logs why). The connection is aborted with a
    // reset and without the last chunk, so no client takes the truncated body for the whole
    // (with HTTP/1.0 a clean close would end the body as if complete).
    static StreamChunk failed() { return {Kind::Failed, {}}; }
};

// A response body made a chunk at a time, by one of two kinds of producer:
// - synchronous, std::optional<QByteArray>(): called on the network thread as the socket drains,
//   until it returns std::nullopt. For bodies that are cheap to make: it must not block.
// - asynchronous, QFuture<StreamChunk>(): called on the network thread when the socket wants
//   more; the chunk is made elsewhere (a pool task), and the connection writes it when the future
//   finishes, then asks again: one chunk in flight per response. The future must finish with a
//   result (never be cancelled). When the client goes away the producer is destroyed and a chunk
//   still in flight is dropped; a producer that must stop early learns it from a guard in its
//   closure.
class ResponseStream final
{
public:
    ResponseStream() = default;
    template<typename F>
    requires std::is_invocable_r_v<std::optional<QByteArray>, F &> ResponseStream(F producer)
        : m_sync(std::move(producer))
    {}
    template<typename F>
    requires std::is_invocable_r_v<QFuture<StreamChunk>, F &> ResponseStream(F producer)
        : m_async(std::move(producer))
    {}

    explicit operator bool() const { return m_sync || m_async; }
    bool isAsync() const { return bool(m_async); }
    // Synchronous producers: the next chunk now (End after std::nullopt).
    StreamChunk nextNow()
    {
        std::optional<QByteArray> chunk = m_sync();
        return chunk ? StreamChunk::bytes(std::move(*chunk)) : StreamChunk::end();
    }
    // Asynchronous producers: the next chunk, when it is made.
    QFuture<StreamChunk> nextLater() { return m_async(); }

private:
    std::function<std::optional<QByteArray>()> m_sync;
    std::function<QFuture<StreamChunk>()> m_async;
};

// A response. Content-Length, Date and Connection are added by the server layer. When stream is
// set, body is ignored and the chunks go out with chunked transfer-encoding (see ResponseStream).
struct Response
{
    int status = 200;
    HeaderList headers;
    QByteArray body;
    ResponseStream stream;

    void setHeader(QByteArray name, QByteArray value);
    QByteArray header(QByteArrayView name) const;

    static Response json(int status, const QJsonObject &object);
    // Ferry's error shape: {"success": false, "error": title, "message": message, "code": code}.
    static Response
    error(int status, const QString &title, const QString &message, const QString &code);
};

// "OK", "Not Found", ... ("Unknown" for codes the table lacks).
const char *reasonPhrase(int status);

} // namespace Ferry::Http
