#include "http/httpserver.h"

#include "http/httpconnection.h"

#include <QHash>
#include <QTcpServer>
#include <QTcpSocket>
#include <QThread>

namespace Ferry::Http {

// Everything that runs on the network thread: the listening socket, connection accounting.
class NetworkSide final : public QObject
{
public:
    NetworkSide(Handler &handler, const HttpLimits &limits, std::atomic<int> &open)
        : m_handler(handler), m_limits(limits), m_open(open)
    {
        connect(&m_server, &QTcpServer::newConnection, this, &NetworkSide::acceptPending);
    }
    ~NetworkSide() override { closeAll(); }

    Result<quint16> listen(const QHostAddress &address, quint16 port)
    {
        if (m_server.isListening())
            m_server.close();
        if (!m_server.listen(address, port)) {
            return makeError(ErrorCode::Unavailable,
                             QStringLiteral("Cannot listen on %1:%2: %3.")
                                 .arg(address.toString())
                                 .arg(port)
                                 .arg(m_server.errorString()),
                             QStringLiteral("Choose another address or port (port 0 picks a free "
                                            "one), or stop the program that holds it."));
        }
        return m_server.serverPort();
    }

    void closeAll()
    {
        m_server.close();
        const auto connections = findChildren<HttpConnection *>(Qt::FindDirectChildrenOnly);
        for (HttpConnection *connection : connections)
            delete connection; // destroyed() keeps the counts right
    }

    bool isListening() const { return m_server.isListening(); }

private:
    void acceptPending()
    {
        while (QTcpSocket *socket = m_server.nextPendingConnection()) {
            const QHostAddress peer = socket->peerAddress();
            int &perIp = m_perIp[peer];
            const bool full = m_open.load() >= m_limits.maxConnections;
            if (full || perIp >= m_limits.maxConnectionsPerIp) {
                if (perIp == 0)
                    m_perIp.remove(peer);
                refuse(socket, full);
                continue;
            }
            ++perIp;
            ++m_open;
            auto *connection = new HttpConnection(socket, m_handler, m_limits, this);
            connect(connection, &QObject::destroyed, this, [this, peer] {
                --m_open;
                auto it = m_perIp.find(peer);
                if (it != m_perIp.end() && --it.value() <= 0)
                    m_perIp.erase(it);
            });
        }
    }

    void refuse(QTcpSocket *socket, bool overall)
    {
        auto *connection = new HttpConnection(socket, m_handler, m_limits, this);
        connection->refuse(layerError(
            503, "Too many connections",
            overall ? QStringLiteral("The server has %1 open connections, its limit. Retry later.")
                          .arg(m_limits.maxConnections)
                    : QStringLiteral("Your address has %1 open connections, the limit per client. "
                                     "Close some or reuse them (keep-alive).")
                          .arg(m_limits.maxConnectionsPerIp),
            "too_many_connections"));
    }

    Handler &m_handler;
    const HttpLimits &m_limits;
    std::atomic<int> &m_open;
    QTcpServer m_server{this};
    QHash<QHostAddress, int> m_perIp;
};

HttpServer::HttpServer(Handler &handler, HttpLimits limits, QObject *parent)
    : QObject(parent), m_limits(limits), m_thread(std::make_unique<QThread>())
{
    m_thread->setObjectName(QStringLiteral("ferry-http"));
    m_side = new NetworkSide(handler, m_limits, m_openConnections);
    m_side->moveToThread(m_thread.get());
    connect(m_thread.get(), &QThread::finished, m_side, &QObject::deleteLater);
    m_thread->start();
}

HttpServer::~HttpServer()
{
    close();
    NetworkSide *side = m_side;
    QMetaObject::invokeMethod(
        side, [side] { delete side; }, Qt::BlockingQueuedConnection);
    m_side = nullptr;
    m_thread->quit();
    m_thread->wait();
}

Result<quint16> HttpServer::listen(const QHostAddress &address, quint16 port)
{
    std::optional<Result<quint16>> result;
    QMetaObject::invokeMethod(
        m_side, [&] { result.emplace(m_side->listen(address, port)); },
        Qt::BlockingQueuedConnection);
    return std::move(*result);
}

void HttpServer::close()
{
    if (!m_side)
        return;
    QMetaObject::invokeMethod(
        m_side, [this] { m_side->closeAll(); }, Qt::BlockingQueuedConnection);
}

bool HttpServer::isListening() const
{
    bool listening = false;
    QMetaObject::invokeMethod(
        m_side, [&] { listening = m_side->isListening(); }, Qt::BlockingQueuedConnection);
    return listening;
}

} // namespace Ferry::Http
