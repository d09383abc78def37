#include "http/httphandler.h"

#include "http/httpconnection.h"

#include <QThread>

#include <atomic>

namespace Ferry::Http {

namespace {

void send(const std::shared_ptr<ConnectionLink> &link, quint64 sequence, Response &&response)
{
    QMutexLocker lock(&link->mutex);
    HttpConnection *connection = link->connection;
    if (!connection)
        return; // the client is gone
    if (connection->thread() == QThread::currentThread()) {
        // Only this thread destroys the connection, and not while we run: no lock needed.
        lock.unlock();
        connection->deliver(sequence, std::move(response));
        return;
    }
    // Posted while the connection is alive (we hold the lock it takes before dying); if it dies
    // before the event runs, QObject's destructor discards the event.
    QMetaObject::invokeMethod(
        connection,
        [connection, sequence, response = std::move(response)]() mutable {
            connection->deliver(sequence, std::move(response));
        },
        Qt::QueuedConnection);
}

} // namespace

struct Responder::State
{
    State(std::shared_ptr<ConnectionLink> l, quint64 s) : link(std::move(l)), sequence(s) {}
    ~State()
    {
        if (!answered.exchange(true)) {
            send(link, sequence,
                 layerError(500, "No response",
                            QStringLiteral("The server dropped the request without answering. "
                                           "Try again; report it if it persists."),
                            "no_response"));
        }
    }

    std::shared_ptr<ConnectionLink> link;
    quint64 sequence;
    std::atomic<bool> answered{false};
};

Responder::Responder(std::shared_ptr<ConnectionLink> link, quint64 sequence)
    : m_state(std::make_shared<State>(std::move(link), sequence))
{}

void Responder::operator()(Response response) const
{
    if (m_state->answered.exchange(true))
        return;
    send(m_state->link, m_state->sequence, std::move(response));
}

bool Responder::answered() const
{
    return m_state->answered.load();
}

bool Responder::connected() const
{
    QMutexLocker lock(&m_state->link->mutex);
    return m_state->link->connection != nullptr;
}

} // namespace Ferry::Http
