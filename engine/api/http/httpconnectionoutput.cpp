// The writing half of HttpConnection: answers in request order, streams, graceful close.
#include "http/httpconnection.h"

#include <QCoroFuture>
#include <QPointer>
#include <QTcpSocket>

#include <sys/socket.h>

#include <charconv>
#include <cstdio>
#include <ctime>
#include <string>

namespace Ferry::Http {

namespace {

constexpr qint64 StreamHighWater = 256 * 1024; // pull the producer while less than this is queued
constexpr qsizetype InlineBodyMax = 16 * 1024; // smaller bodies share one write with the head

// The IMF-fixdate of now, recomputed once a second. Not strftime: its names follow the locale.
QByteArrayView httpDate()
{
    thread_local std::time_t cachedSecond = -1;
    thread_local char text[32];
    const std::time_t now = std::time(nullptr);
    if (now != cachedSecond) {
        static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
        static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
        std::tm tm{};
        gmtime_r(&now, &tm);
        std::snprintf(text, sizeof text, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday],
                      tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                      tm.tm_sec);
        cachedSecond = now;
    }
    return QByteArrayView(text, 29);
}

void appendNumber(std::string &out, qint64 value, int base = 10)
{
    char digits[24];
    const auto result = std::to_chars(digits, digits + sizeof digits, value, base);
    out.append(digits, size_t(result.ptr - digits));
}

bool isReserved(const QByteArray &name)
{
    // The layer owns framing and these: a handler's copy would contradict what is on the wire.
    for (QByteArrayView reserved :
         {QByteArrayView("content-length"), QByteArrayView("transfer-encoding"),
          QByteArrayView("date"), QByteArrayView("connection")}) {
        if (name.size() == reserved.size() && name.compare(reserved, Qt::CaseInsensitive) == 0)
            return true;
    }
    return false;
}

} // namespace

void HttpConnection::deliver(quint64 sequence, Response &&response)
{
    if (m_dead)
        return;
    Slot *slot = slotFor(sequence);
    if (!slot || slot->response)
        return;
    slot->response = std::move(response);
    flush();
}

void HttpConnection::flush()
{
    while (!m_pending.empty() && !m_closing && !m_dead) {
        Slot &slot = m_pending.front();
        if (m_streaming) {
            if (!pumpStream(slot))
                return; // resumes on bytesWritten
            continue;
        }
        if (!slot.response) {
            if (slot.needsContinue && !slot.continueSent) {
                slot.continueSent = true;
                send("HTTP/1.1 100 Continue\r\n\r\n", 25);
            }
            break;
        }
        const Response &response = *slot.response;
        slot.closeAfter = slot.closeAfter || isToken(response.header("connection"), "close") ||
                          (response.stream && slot.http10); // 1.0: no chunks, EOF ends it
        writeHead(slot, response, slot.closeAfter);
        if (response.stream && !slot.head) {
            m_streaming = true;
            continue;
        }
        const bool close = slot.closeAfter;
        m_pending.pop_front();
        if (close) {
            beginClose();
            return;
        }
    }
    if (m_dead)
        return;
    // Write now rather than on the socket's next write notification: saves an event-loop round
    // (and a notifier toggle) per response. During a parse the answers gather; onReadyRead
    // flushes once at its end.
    if (!m_inParse && m_socket->bytesToWrite() > 0)
        m_socket->flush();
    if (m_closing)
        return;
    if (m_pending.empty() && m_phase == Phase::Idle && !m_stopReading)
        armDeadline(m_limits.idleTimeoutMs);
    if (m_parsePaused && !m_inParse && m_pending.size() < size_t(m_limits.maxPipelinedRequests)) {
        m_parsePaused = false;
        QMetaObject::invokeMethod(this, &HttpConnection::onReadyRead, Qt::QueuedConnection);
    }
}

// Pulls chunks while the socket has room. A synchronous producer answers at once; an
// asynchronous one makes its chunk elsewhere and awaitStreamChunk() writes it when it comes.
// Returns true when the body ended and the loop may go on to the next response.
bool HttpConnection::pumpStream(Slot &slot)
{
    ResponseStream &stream = slot.response->stream;
    while (!m_streamWaiting && m_socket->bytesToWrite() < StreamHighWater) {
        StreamChunk chunk;
        if (stream.isAsync()) {
            QFuture<StreamChunk> future = stream.nextLater();
            if (m_dead)
                return false;
            if (!future.isFinished()) {
                m_streamWaiting = true;
                awaitStreamChunk(std::move(future), slot.sequence); // may finish right here
                return false;
            }
            chunk = future.result();
        } else {
            chunk = stream.nextNow();
            if (m_dead)
                return false;
        }
        if (!writeStreamChunk(slot, std::move(chunk)))
            return !m_dead;
    }
    return false;
}

// The hand-back from the producer's thread: resumes here, on the network thread (QCoro's QFuture
// awaiter), or never touches the connection again if it died meanwhile.
QCoro::Task<> HttpConnection::awaitStreamChunk(QFuture<StreamChunk> future, quint64 sequence)
{
    QPointer<HttpConnection> self(this);
    StreamChunk chunk = co_await future;
    if (!self || m_dead)
        co_return;
    m_streamWaiting = false;
    if (!m_streaming || m_pending.empty() || m_pending.front().sequence != sequence)
        co_return;
    writeStreamChunk(m_pending.front(), std::move(chunk));
    if (!m_dead)
        flush();
}

// Writes one chunk of the front response. False when its body is over: ended (the slot is done,
// the last chunk sent) or failed (the connection is aborted).
bool HttpConnection::writeStreamChunk(Slot &slot, StreamChunk chunk)
{
    switch (chunk.kind) {
    case StreamChunk::Kind::Failed:
        abortStream();
        return false;
    case StreamChunk::Kind::End: {
        if (!slot.http10)
            send("0\r\n\r\n", 5);
        m_streaming = false;
        const bool close = slot.closeAfter;
        m_pending.pop_front();
        if (close)
            beginClose();
        return false;
    }
    case StreamChunk::Kind::Data:
        break;
    }
    if (chunk.data.isEmpty())
        return true;
    if (!slot.http10) {
        m_out.clear();
        appendNumber(m_out, chunk.data.size(), 16);
        m_out.append("\r\n", 2);
        send(m_out.data(), qint64(m_out.size()));
    }
    send(chunk.data.constData(), chunk.data.size());
    if (!slot.http10)
        send("\r\n", 2);
    return true;
}

// A body that failed half-way must not look complete: no last chunk, and a reset rather than a
// clean close (HTTP/1.0 bodies end at the close), so every client sees the failure.
void HttpConnection::abortStream()
{
    const linger reset{1, 0};
    ::setsockopt(int(m_socket->socketDescriptor()), SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    m_socket->abort();
    onDisconnected();
}

void HttpConnection::writeHead(const Slot &slot, const Response &response, bool close)
{
    const int status = response.status;
    m_out.clear();
    m_out.append("HTTP/1.1 ", 9);
    appendNumber(m_out, status);
    m_out.push_back(' ');
    m_out.append(reasonPhrase(status));
    m_out.append("\r\n", 2);
    for (const auto &[name, value] : response.headers) {
        if (isReserved(name))
            continue;
        m_out.append(name.constData(), size_t(name.size()));
        m_out.append(": ", 2);
        m_out.append(value.constData(), size_t(value.size()));
        m_out.append("\r\n", 2);
    }
    m_out.append("Date: ", 6);
    const QByteArrayView date = httpDate();
    m_out.append(date.data(), size_t(date.size()));
    m_out.append("\r\n", 2);
    const bool bodyAllowed = status >= 200 && status != 204 && status != 304;
    if (response.stream) {
        if (!slot.http10)
            m_out.append("Transfer-Encoding: chunked\r\n", 28);
    } else if (bodyAllowed) {
        m_out.append("Content-Length: ", 16);
        appendNumber(m_out, response.body.size());
        m_out.append("\r\n", 2);
    }
    if (close)
        m_out.append("Connection: close\r\n", 19);
    else if (slot.http10)
        m_out.append("Connection: keep-alive\r\n", 24);
    m_out.append("\r\n", 2);
    const bool sendBody = !response.stream && bodyAllowed && !slot.head && !response.body.isEmpty();
    if (sendBody && response.body.size() <= InlineBodyMax) {
        m_out.append(response.body.constData(), size_t(response.body.size()));
        send(m_out.data(), qint64(m_out.size()));
        return;
    }
    send(m_out.data(), qint64(m_out.size()));
    if (sendBody)
        send(response.body.constData(), response.body.size());
}

// Straight to the kernel while nothing is queued in the socket (the common case: one syscall, no
// write notifier to arm and disarm); what the kernel does not take now queues in QTcpSocket,
// which sends it as the client drains and signals bytesWritten.
void HttpConnection::send(const char *data, qint64 size)
{
    if (size <= 0)
        return;
    if (m_socket->bytesToWrite() == 0 && m_socket->state() == QAbstractSocket::ConnectedState) {
        const ssize_t sent =
            ::send(int(m_socket->socketDescriptor()), data, size_t(size), MSG_NOSIGNAL);
        if (sent > 0) {
            data += sent;
            size -= sent;
        }
        if (size == 0)
            return;
    }
    m_socket->write(data, size); // errors (a reset peer) surface through QTcpSocket
    if (!m_writeStall.isActive())
        m_writeStall.start();
}

void HttpConnection::beginClose()
{
    if (m_closing || m_dead)
        return;
    m_closing = true;
    m_stopReading = true;
    disarmDeadline();
    abortConsumer();
    if (m_socket->bytesToWrite() == 0)
        halfClose();
}

// Shut only our sending side, then drain what the client still sends until it closes (or the
// linger time ends): closing with unread input would send a RST that can destroy the response
// in the client's buffers before it reads it.
void HttpConnection::halfClose()
{
    if (m_lingering)
        return;
    m_lingering = true;
    ::shutdown(int(m_socket->socketDescriptor()), SHUT_WR);
    m_socket->skip(m_socket->bytesAvailable());
    armDeadline(m_limits.lingerMs);
}

} // namespace Ferry::Http
