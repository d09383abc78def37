#include "httpclient.h"

#include <QElapsedTimer>
#include <QJsonDocument>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QTcpSocket>
#include <QTest>

namespace Ferry::Test {

HttpReply sendHttp(QNetworkAccessManager &network,
                   const QByteArray &method,
                   const QUrl &url,
                   const QByteArray &token,
                   const HttpHeaders &headers,
                   const std::optional<QByteArray> &body,
                   int timeoutMs)
{
    QNetworkRequest request(url);
    if (!token.isEmpty())
        request.setRawHeader("Authorization", "Bearer " + token);
    for (const auto &[name, value] : headers)
        request.setRawHeader(name, value);
    QNetworkReply *reply = method == "HEAD" ? network.head(request)
                           : body           ? network.sendCustomRequest(request, method, *body)
                                            : network.sendCustomRequest(request, method);
    HttpReply result;
    if (!QTest::qWaitFor([&] { return reply->isFinished(); }, timeoutMs)) {
        qWarning("no answer to %s %s in %d ms", method.constData(), qPrintable(url.toString()),
                 timeoutMs);
        reply->abort();
        reply->deleteLater();
        return result;
    }
    result.status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    result.body = reply->readAll();
    result.json = QJsonDocument::fromJson(result.body).object();
    for (const auto &[name, value] : reply->rawHeaderPairs())
        result.headers.insert(name.toLower(), value);
    reply->deleteLater();
    return result;
}

HttpReply readHttpReply(QTcpSocket &socket, int timeoutMs)
{
    HttpReply reply;
    QElapsedTimer timer;
    timer.start();
    QByteArray data;
    // False once the connection is closed or the time is up.
    auto more = [&] {
        if (socket.bytesAvailable() == 0 &&
            !socket.waitForReadyRead(int(std::max<qint64>(1, timeoutMs - timer.elapsed()))))
            return false;
        data += socket.readAll();
        return true;
    };
    qsizetype headerEnd = -1;
    while ((headerEnd = data.indexOf("\r\n\r\n")) < 0) {
        if (!more())
            return reply;
    }
    const QList<QByteArray> lines = data.left(headerEnd).split('\n');
    reply.status = lines.value(0).trimmed().split(' ').value(1).toInt();
    for (qsizetype i = 1; i < lines.size(); ++i) {
        const QByteArray line = lines[i].trimmed();
        const qsizetype colon = line.indexOf(':');
        if (colon > 0)
            reply.headers.insert(line.left(colon).trimmed().toLower(),
                                 line.mid(colon + 1).trimmed());
    }
    if (reply.headers.contains("content-length")) {
        const qsizetype length = reply.headers.value("content-length").toLongLong();
        while (data.size() < headerEnd + 4 + length) {
            if (!more())
                break;
        }
        reply.body = data.mid(headerEnd + 4, length);
    } else if (reply.headers.value("connection").toLower() == "close") {
        // Delimited by the close. Without a length and without a close (a 204, a 304) there is
        // no body, and waiting for one would only run into the timeout.
        while (more()) {
        }
        reply.body = data.mid(headerEnd + 4);
    }
    reply.json = QJsonDocument::fromJson(reply.body).object();
    return reply;
}

HttpReply
sendRawHttp(quint16 port, const QByteArray &request, const QHostAddress &from, int timeoutMs)
{
    QTcpSocket socket;
    if (!from.isNull() && !socket.bind(from))
        return {};
    socket.connectToHost(QHostAddress::LocalHost, port);
    if (!socket.waitForConnected(timeoutMs))
        return {};
    socket.write(request);
    socket.flush();
    return readHttpReply(socket, timeoutMs);
}

} // namespace Ferry::Test
