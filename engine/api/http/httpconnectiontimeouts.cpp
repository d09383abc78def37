// The clocks of HttpConnection: every state a connection can be in is bounded by one of them
// (headers, body stall, waiting for the Handler, idle keep-alive, linger; writes by the write
// stall timer), whatever the client sends.
#include "http/httpconnection.h"

#include <QTcpSocket>

#include <algorithm>

namespace Ferry::Http {

void HttpConnection::armDeadline(int ms)
{
    const qint64 now = steadyNowMs();
    m_deadline = now + ms;
    // The timer never waits longer than the shortest timeout, so a new deadline is never earlier
    // than a running timer: requests just move m_deadline, and the timer is rarely re-armed.
    if (!m_timer.isActive() || m_timerDue > m_deadline) {
        const int wait = std::min(ms, shortestTimeout());
        m_timer.start(wait);
        m_timerDue = now + wait;
    }
}

int HttpConnection::shortestTimeout() const
{
    return std::min({m_limits.headerTimeoutMs, m_limits.bodyStallTimeoutMs, m_limits.idleTimeoutMs,
                     m_limits.lingerMs});
}

void HttpConnection::onTimer()
{
    if (m_dead)
        return;
    const qint64 now = steadyNowMs();
    if (answerOverdue(now))
        return;
    if (m_deadline == 0) {
        watchResponses(now);
        return;
    }
    if (now < m_deadline) {
        const int wait = int(std::min<qint64>(m_deadline - now, shortestTimeout()));
        m_timer.start(wait);
        m_timerDue = now + wait;
        return;
    }
    m_deadline = 0;
    if (m_lingering) {
        m_socket->abort();
        return;
    }
    switch (m_phase) {
    case Phase::Headers:
        failRequest(layerError(408, "Request timeout",
                               QStringLiteral("The request headers did not arrive within %1 ms. "
                                              "Send the whole request without pauses.")
                                   .arg(m_limits.headerTimeoutMs),
                               "request_timeout"));
        break;
    case Phase::Body:
        failRequest(layerError(408, "Request timeout",
                               QStringLiteral("The request body stalled for %1 ms. Send the body "
                                              "without pauses.")
                                   .arg(m_limits.bodyStallTimeoutMs),
                               "body_timeout"));
        break;
    case Phase::Idle:
        if (m_pending.empty()) { // idle keep-alive, or a connection that never sent anything
            m_stopReading = true;
            beginClose();
        }
        break;
    }
    if (!m_dead)
        watchResponses(now);
}

void HttpConnection::watchResponses(qint64 now)
{
    if (m_closing || m_dead)
        return;
    qint64 due = 0;
    for (const Slot &slot : m_pending) {
        if (slot.handedAtMs > 0 && !slot.response) {
            due = slot.handedAtMs + m_limits.responseTimeoutMs;
            break; // the oldest waiting request is due first
        }
    }
    if (due == 0 || (m_timer.isActive() && m_timerDue <= due))
        return;
    const int wait = int(std::clamp<qint64>(due - now, 0, shortestTimeout()));
    m_timer.start(wait);
    m_timerDue = now + wait;
}

bool HttpConnection::answerOverdue(qint64 now)
{
    if (m_closing || m_lingering)
        return false;
    for (Slot &slot : m_pending) {
        if (slot.handedAtMs == 0 || slot.response)
            continue;
        if (now - slot.handedAtMs < m_limits.responseTimeoutMs)
            return false;
        Request request;
        request.peerAddress = m_peerAddress;
        request.peerPort = m_peerPort;
        request.method = slot.method;
        request.path = slot.path;
        Response response =
            layerError(503, "No answer in time",
                       QStringLiteral("The server did not answer within %1 ms. Try again later.")
                           .arg(m_limits.responseTimeoutMs),
                       "response_timeout");
        tellHandler(request, response);
        // The Handler may still answer: this connection no longer waits for it, nor reads on.
        slot.response = std::move(response);
        slot.closeAfter = true;
        m_stopReading = true;
        flush();
        return true;
    }
    return false;
}

void HttpConnection::tellHandler(const Request &request, Response &response)
{
    m_handler.answeredByServer(request, response);
}

} // namespace Ferry::Http
