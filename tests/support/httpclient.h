#pragma once

// The suite's one HTTP client: send a request, wait for the whole answer, read it back. Tests of
// the API, the app and the cluster use it; the HTTP server's own tests keep their streaming
// client (tests/api/http/httptestsupport.h) for pipelining and half-sent requests.
#include <QByteArray>
#include <QHash>
#include <QHostAddress>
#include <QJsonObject>
#include <QList>
#include <QUrl>

#include <optional>
#include <utility>

class QNetworkAccessManager;
class QTcpSocket;

namespace Ferry::Test {

// Request headers in the order they are sent: (name, value).
using HttpHeaders = QList<std::pair<QByteArray, QByteArray>>;

struct HttpReply
{
    int status = 0; // 0 when no answer came in time
    QByteArray body;
    QJsonObject json;                      // the body as a JSON object, when it is one
    QHash<QByteArray, QByteArray> headers; // lowercased names

    QByteArray header(const QByteArray &name) const { return headers.value(name.toLower()); }
    // The error code of a Ferry error answer ({"code": ...}).
    QString code() const { return json.value(u"code").toString(); }
};

// One request through network (QNetworkAccessManager), waiting up to timeoutMs while the event
// loop spins. A token becomes "Authorization: Bearer <token>". HEAD is sent as a HEAD. With a
// body (even an empty one) the request carries it and a Content-Length; without one it has no
// body at all.
HttpReply sendHttp(QNetworkAccessManager &network,
                   const QByteArray &method,
                   const QUrl &url,
                   const QByteArray &token = {},
                   const HttpHeaders &headers = {},
                   const std::optional<QByteArray> &body = std::nullopt,
                   int timeoutMs = 30'000);

// The same, but exactly the bytes of request on a fresh TCP connection to 127.0.0.1:port (from
// the loopback address `from`, when given, so that one host can play several clients), for what
// QNetworkAccessManager will not send as it is. Blocks the calling thread (the servers under test
// run their own network threads). The body is read up to Content-Length, or, without one, to the
// close the answer announces (Connection: close); otherwise it is empty.
HttpReply sendRawHttp(quint16 port,
                      const QByteArray &request,
                      const QHostAddress &from = {},
                      int timeoutMs = 30'000);

// One answer read from a connection the test drives itself (a request sent in pieces, a body
// that stops), as sendRawHttp reads it.
HttpReply readHttpReply(QTcpSocket &socket, int timeoutMs = 30'000);

} // namespace Ferry::Test
