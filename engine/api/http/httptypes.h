#pragma once

#include <QByteArray>
#include <QHostAddress>
#include <QJsonObject>
#include <QList>
#include <QString>

#include <functional>
#include <memory>
#include <optional>
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

// A response. Content-Length, Date and Connection are added by the server layer. When stream is
// set, body is ignored and the producer is called on the network thread, as the socket drains,
// until it returns std::nullopt; the chunks go out with chunked transfer-encoding.
struct Response
{
    int status = 200;
    HeaderList headers;
    QByteArray body;
    std::function<std::optional<QByteArray>()> stream;

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
