#pragma once

#include "http/httpserver.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QMutex>
#include <QTcpSocket>
#include <QTest>

#include <atomic>
#include <functional>

namespace Ferry::Http::Test {

struct ParsedResponse
{
    int status = 0;
    HeaderList headers; // lowercased names
    QByteArray body;
    bool chunked = false;

    QByteArray header(QByteArrayView name) const
    {
        for (const auto &[key, value] : headers) {
            if (key == name)
                return value;
        }
        return {};
    }
    bool hasHeader(QByteArrayView name) const
    {
        for (const auto &entry : headers) {
            if (entry.first == name)
                return true;
        }
        return false;
    }
    QJsonObject json() const { return QJsonDocument::fromJson(body).object(); }
    QString errorCode() const { return json().value(QStringLiteral("code")).toString(); }
    bool isFerryError() const
    {
        const QJsonObject o = json();
        return o.value(QStringLiteral("success")) == QJsonValue(false) &&
               !o.value(QStringLiteral("error")).toString().isEmpty() &&
               !o.value(QStringLiteral("message")).toString().isEmpty() &&
               !o.value(QStringLiteral("code")).toString().isEmpty();
    }
};

// A raw HTTP/1.1 client over QTcpSocket that parses what comes back, for the cases
// QNetworkAccessManager cannot produce (pipelining, malformed, slow, half-sent requests).
class RawClient
{
public:
    explicit RawClient(quint16 port) { m_socket.connectToHost(QHostAddress::LocalHost, port); }

    bool waitConnected(int ms = 20'000)
    {
        return QTest::qWaitFor([&] { return m_socket.state() == QAbstractSocket::ConnectedState; },
                               ms);
    }
    void send(const QByteArray &data) { m_socket.write(data); }
    // Marks the next response (after those already expected) as one to a HEAD request.
    void expectHead(int index) { m_headIndexes.append(index); }
    bool waitResponses(int count, int ms = 20'000)
    {
        return QTest::qWaitFor([&] { return pump() >= count; }, ms);
    }
    bool waitClosed(int ms = 20'000)
    {
        return QTest::qWaitFor(
            [&] {
                pump();
                return m_socket.state() == QAbstractSocket::UnconnectedState;
            },
            ms);
    }
    bool isOpen() const { return m_socket.state() == QAbstractSocket::ConnectedState; }
    int pump()
    {
        m_raw += m_socket.readAll();
        while (parseOne()) {
        }
        return int(responses.size());
    }

    QList<ParsedResponse> responses;
    QTcpSocket m_socket;

private:
    bool parseOne()
    {
        const qsizetype end = m_raw.indexOf("\r\n\r\n");
        if (end < 0)
            return false;
        ParsedResponse r;
        const QList<QByteArray> lines = m_raw.left(end).split('\n');
        r.status = lines.value(0).mid(9, 3).toInt();
        for (qsizetype i = 1; i < lines.size(); ++i) {
            const QByteArray line = lines[i].trimmed();
            const qsizetype colon = line.indexOf(':');
            r.headers.append({line.left(colon).toLower(), line.mid(colon + 1).trimmed()});
        }
        qsizetype pos = end + 4;
        const bool head = m_headIndexes.contains(int(responses.size()));
        if (r.status >= 200 && !head) {
            if (r.header("transfer-encoding") == "chunked") {
                r.chunked = true;
                for (;;) {
                    const qsizetype lineEnd = m_raw.indexOf("\r\n", pos);
                    if (lineEnd < 0)
                        return false;
                    bool ok = false;
                    const qsizetype size = m_raw.mid(pos, lineEnd - pos).toLongLong(&ok, 16);
                    if (!ok || m_raw.size() < lineEnd + 2 + size + 2)
                        return false;
                    r.body += m_raw.mid(lineEnd + 2, size);
                    pos = lineEnd + 2 + size + 2;
                    if (size == 0)
                        break;
                }
            } else if (!r.hasHeader("content-length")) { // delimited by the server's close
                if (m_socket.state() != QAbstractSocket::UnconnectedState)
                    return false;
                r.body = m_raw.mid(pos);
                pos = m_raw.size();
            } else {
                const qsizetype length = r.header("content-length").toLongLong();
                if (m_raw.size() < pos + length)
                    return false;
                r.body = m_raw.mid(pos, length);
                pos += length;
            }
        }
        m_raw.remove(0, pos);
        responses.append(r);
        return true;
    }

    QByteArray m_raw;
    QList<int> m_headIndexes;
};

// A Handler whose two calls are std::functions, set per test; by default it accepts everything
// and answers at once with {"success": true, "path": ..., "method": ..., "bodyBytes": ...}.
class TestHandler final : public Handler
{
public:
    HeaderDecision headersReceived(const Request &request) override
    {
        ++headersSeen;
        return onHeaders ? onHeaders(request) : HeaderDecision::accept();
    }
    void handle(Request request, std::unique_ptr<BodyConsumer> body, Responder respond) override
    {
        ++handled;
        if (onHandle)
            return onHandle(std::move(request), std::move(body), std::move(respond));
        respond(echo(request));
    }
    static Response echo(const Request &request)
    {
        return Response::json(200,
                              QJsonObject{
                                  {QStringLiteral("success"), true},
                                  {QStringLiteral("path"), QString::fromUtf8(request.path)},
                                  {QStringLiteral("method"), QString::fromUtf8(request.method)},
                                  {QStringLiteral("bodyBytes"), request.body.size()},
                              });
    }

    void answeredByServer(const Request &request, Response &response) override
    {
        QMutexLocker lock(&serverAnswersMutex);
        serverAnswers.append({response.status, request.path});
    }
    QByteArray connectionKey(const QHostAddress &peer) const override
    {
        return onConnectionKey ? onConnectionKey(peer) : Handler::connectionKey(peer);
    }
    // The statuses the server layer answered by itself, and the paths (when parsed).
    QList<std::pair<int, QByteArray>> serverAnswersSoFar()
    {
        QMutexLocker lock(&serverAnswersMutex);
        return serverAnswers;
    }

    std::function<HeaderDecision(const Request &)> onHeaders;
    std::function<void(Request, std::unique_ptr<BodyConsumer>, Responder)> onHandle;
    std::function<QByteArray(const QHostAddress &)> onConnectionKey;
    std::atomic<int> headersSeen{0};
    std::atomic<int> handled{0};
    QMutex serverAnswersMutex;
    QList<std::pair<int, QByteArray>> serverAnswers;
};

// Counts what it is given; tracks how many are alive so tests can check nothing leaks.
class CountingConsumer final : public BodyConsumer
{
public:
    CountingConsumer() { ++alive; }
    ~CountingConsumer() override { --alive; }
    bool write(QByteArrayView data) override
    {
        bytes += data.size();
        ++writes;
        return true;
    }
    bool finish() override
    {
        finished = true;
        return true;
    }
    void abort() override { ++aborted; }

    qint64 bytes = 0;
    int writes = 0;
    bool finished = false;
    static inline std::atomic<int> alive{0};
    static inline std::atomic<int> aborted{0};
};

inline HttpLimits fastLimits()
{
    HttpLimits limits;
    limits.headerTimeoutMs = 300;
    limits.bodyStallTimeoutMs = 300;
    limits.idleTimeoutMs = 300;
    limits.lingerMs = 300;
    return limits;
}

} // namespace Ferry::Http::Test
