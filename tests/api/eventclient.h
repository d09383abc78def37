#pragma once

// A client of GET /api/v1/events over a raw socket: the response head, then the chunked body
// decoded as it arrives into Server-Sent Events and comments (tst_events, the isolation walk).
#include "testsupport.h"

#include <QHash>
#include <QHostAddress>
#include <QJsonDocument>
#include <QJsonObject>
#include <QStringList>
#include <QTcpSocket>

namespace Ferry::Test {

struct Event
{
    qint64 id = 0;
    QString type;
    QJsonObject job;
};

// One event stream read from a socket, decoded incrementally: the response head, the chunks,
// the events and comments in them.
class EventClient
{
public:
    EventClient(quint16 port, const QByteArray &token)
    {
        m_socket.connectToHost(QHostAddress::LocalHost, port);
        if (!m_socket.waitForConnected(5000))
            qFatal("cannot connect");
        m_socket.write("GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " +
                       token + "\r\nAccept: text/event-stream\r\n\r\n");
        QObject::connect(&m_socket, &QTcpSocket::readyRead, [this] { read(); });
        QObject::connect(&m_socket, &QTcpSocket::disconnected, [this] { m_closed = true; });
    }

    // Waits for the status line and headers.
    bool waitForHead()
    {
        return waitFor([this] { return m_status != 0 || m_closed; });
    }
    // Waits until the stream says it is open (its first comment), so later changes are seen.
    bool waitOpen()
    {
        return waitFor([this] { return !m_comments.isEmpty() || m_closed; }) &&
               !m_comments.isEmpty();
    }
    // The events of one job so far.
    QList<Event> eventsOf(qint64 jobId) const
    {
        QList<Event> result;
        for (const Event &event : m_events) {
            if (event.job.value(u"id").toString().toLongLong() == jobId)
                result.append(event);
        }
        return result;
    }
    bool waitForStatus(qint64 jobId, const QString &status)
    {
        return waitFor([&] {
            for (const Event &event : eventsOf(jobId)) {
                if (event.job.value(u"status").toString() == status)
                    return true;
            }
            return false;
        });
    }

    int status() const { return m_status; }
    QByteArray header(const QByteArray &name) const { return m_headers.value(name); }
    const QList<Event> &events() const { return m_events; }
    const QStringList &comments() const { return m_comments; }
    QJsonObject errorBody() const { return QJsonDocument::fromJson(m_body).object(); }
    bool ended() const { return m_lastChunk; }
    bool closed() const { return m_closed; }
    void close() { m_socket.abort(); }

private:
    void read()
    {
        m_buffer += m_socket.readAll();
        if (m_status == 0) {
            const qsizetype end = m_buffer.indexOf("\r\n\r\n");
            if (end < 0)
                return;
            const QList<QByteArray> lines = m_buffer.left(end).split('\n');
            m_status = lines.first().split(' ').value(1).toInt();
            for (qsizetype i = 1; i < lines.size(); ++i) {
                const qsizetype colon = lines[i].indexOf(':');
                m_headers.insert(lines[i].left(colon).trimmed().toLower(),
                                 lines[i].mid(colon + 1).trimmed());
            }
            m_buffer.remove(0, end + 4);
        }
        if (!m_headers.value("transfer-encoding").contains("chunked")) {
            m_body += m_buffer; // an error answer: Content-Length framing
            m_buffer.clear();
            return;
        }
        while (true) { // chunks
            const qsizetype line = m_buffer.indexOf("\r\n");
            if (line < 0)
                return;
            bool ok = false;
            const qsizetype size = m_buffer.left(line).toLongLong(&ok, 16);
            if (!ok)
                qFatal("bad chunk size");
            if (m_buffer.size() < line + 2 + size + 2)
                return;
            if (size == 0)
                m_lastChunk = true;
            m_text += m_buffer.mid(line + 2, size);
            m_buffer.remove(0, line + 2 + size + 2);
            parseEvents();
        }
    }
    void parseEvents()
    {
        while (true) {
            const qsizetype end = m_text.indexOf("\n\n");
            if (end < 0)
                return;
            const QByteArray block = m_text.left(end);
            m_text.remove(0, end + 2);
            Event event;
            bool isEvent = false;
            for (const QByteArray &line : block.split('\n')) {
                if (line.startsWith(':')) {
                    m_comments.append(QString::fromUtf8(line.mid(1).trimmed()));
                } else if (line.startsWith("id: ")) {
                    event.id = line.mid(4).toLongLong();
                } else if (line.startsWith("event: ")) {
                    event.type = QString::fromUtf8(line.mid(7));
                } else if (line.startsWith("data: ")) {
                    event.job = QJsonDocument::fromJson(line.mid(6)).object();
                    isEvent = true;
                }
            }
            if (isEvent)
                m_events.append(event);
        }
    }

    QTcpSocket m_socket;
    QByteArray m_buffer; // bytes not parsed yet
    QByteArray m_text;   // the decoded body not parsed into events yet
    QByteArray m_body;
    int m_status = 0;
    QHash<QByteArray, QByteArray> m_headers;
    QList<Event> m_events;
    QStringList m_comments;
    bool m_lastChunk = false;
    bool m_closed = false;
};

} // namespace Ferry::Test
