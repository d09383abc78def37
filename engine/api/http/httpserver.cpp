#include "http/httpserver.h"

#include "http/httpconnection.h"

#include <QHash>
#include <QMutex>
#include <QTcpServer>
#include <QTcpSocket>
#include <QThread>

namespace Ferry::Http {

// Connections per client address and overall, shared by the network threads.
class ConnectionAccounting final
{
public:
    ConnectionAccounting(const HttpLimits &limits, std::atomic<int> &open)
        : m_limits(limits), m_open(open)
    {}

    enum class Admission { Admitted, ServerFull, AddressFull };
    Admission admit(const QHostAddress &peer)
    {
        QMutexLocker lock(&m_mutex);
        if (m_open.load() >= m_limits.maxConnections)
            return Admission::ServerFull;
        int &perIp = m_perIp[peer];
        if (perIp >= m_limits.maxConnectionsPerIp)
            return Admission::AddressFull;
        ++perIp;
        ++m_open;
        return Admission::Admitted;
    }
    void release(const QHostAddress &peer)
    {
        QMutexLocker lock(&m_mutex);
        --m_open;
        auto it = m_perIp.find(peer);
        if (it != m_perIp.end() && --it.value() <= 0)
            m_perIp.erase(it);
    }

private:
    const HttpLimits &m_limits;
    std::atomic<int> &m_open;
    QMutex m_mutex;
    QHash<QHostAddress, int> m_perIp;
};

// One network thread's connections: it adopts accepted sockets and owns their HttpConnections.
class ConnectionHost final : public QObject
{
public:
    ConnectionHost(Handler &handler, const HttpLimits &limits, ConnectionAccounting &accounting)
        : m_handler(handler), m_limits(limits), m_accounting(accounting)
    {}
    ~ConnectionHost() override { closeAll(); }

    // On this host's thread: the socket is created here, so it lives and is read here.
    void adopt(qintptr descriptor)
    {
        auto *socket = new QTcpSocket;
        if (!socket->setSocketDescriptor(descriptor)) {
            delete socket;
            return;
        }
        const QHostAddress peer = socket->peerAddress();
        const auto admission = m_accounting.admit(peer);
        if (admission != ConnectionAccounting::Admission::Admitted) {
            refuse(socket, admission == ConnectionAccounting::Admission::ServerFull);
            return;
        }
        auto *connection = new HttpConnection(socket, m_handler, m_limits, this);
        connect(connection, &QObject::destroyed, this,
                [accounting = &m_accounting, peer] { accounting->release(peer); });
    }

    void closeAll()
    {
        const auto connections = findChildren<HttpConnection *>(Qt::FindDirectChildrenOnly);
        for (HttpConnection *connection : connections)
            delete connection; // destroyed() keeps the counts right
    }

private:
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
    ConnectionAccounting &m_accounting;
};

// The listening socket: hands each accepted descriptor to the next network thread's host.
class Listener final : public QTcpServer
{
public:
    explicit Listener(QList<ConnectionHost *> hosts) : m_hosts(std::move(hosts)) {}

protected:
    void incomingConnection(qintptr descriptor) override
    {
        ConnectionHost *host = m_hosts.at(m_next++ % m_hosts.size());
        if (host->thread() == QThread::currentThread())
            host->adopt(descriptor);
        else
            QMetaObject::invokeMethod(host, [host, descriptor] { host->adopt(descriptor); });
    }

private:
    QList<ConnectionHost *> m_hosts;
    qsizetype m_next = 0;
};

namespace {

int networkThreadCount(const HttpLimits &limits)
{
    if (limits.networkThreads > 0)
        return limits.networkThreads;
    return qBound(1, QThread::idealThreadCount(), 4);
}

// Runs fn on object's thread and waits for it.
template<typename Fn>
void runOn(QObject *object, Fn fn)
{
    if (object->thread() == QThread::currentThread())
        fn();
    else
        QMetaObject::invokeMethod(object, fn, Qt::BlockingQueuedConnection);
}

} // namespace

HttpServer::HttpServer(Handler &handler, HttpLimits limits, QObject *parent)
    : QObject(parent)
    , m_limits(limits)
    , m_accounting(std::make_unique<ConnectionAccounting>(m_limits, m_openConnections))
{
    const int count = networkThreadCount(m_limits);
    for (int i = 0; i < count; ++i) {
        auto thread = std::make_unique<QThread>();
        thread->setObjectName(i == 0 ? QStringLiteral("ferry-http")
                                     : QStringLiteral("ferry-http-%1").arg(i + 1));
        auto *host = new ConnectionHost(handler, m_limits, *m_accounting);
        host->moveToThread(thread.get());
        thread->start();
        m_hosts.append(host);
        m_threads.push_back(std::move(thread));
    }
    // The listener shares the first network thread.
    m_listener = new Listener(m_hosts);
    m_listener->moveToThread(m_threads.front().get());
}

HttpServer::~HttpServer()
{
    close();
    Listener *listener = m_listener;
    runOn(listener, [listener] { delete listener; });
    m_listener = nullptr;
    for (qsizetype i = 0; i < m_hosts.size(); ++i) {
        ConnectionHost *host = m_hosts[i];
        runOn(host, [host] { delete host; });
    }
    m_hosts.clear();
    for (auto &thread : m_threads) {
        thread->quit();
        thread->wait();
    }
}

Result<quint16> HttpServer::listen(const QHostAddress &address, quint16 port)
{
    std::optional<Result<quint16>> result;
    Listener *listener = m_listener;
    runOn(listener, [&] {
        if (listener->isListening())
            listener->close();
        if (!listener->listen(address, port)) {
            result.emplace(makeError(
                ErrorCode::Unavailable,
                QStringLiteral("Cannot listen on %1:%2: %3.")
                    .arg(address.toString())
                    .arg(port)
                    .arg(listener->errorString()),
                QStringLiteral("Choose another address or port (port 0 picks a free one), or "
                               "stop the program that holds it.")));
        } else {
            result.emplace(listener->serverPort());
        }
    });
    return std::move(*result);
}

void HttpServer::close()
{
    if (!m_listener)
        return;
    Listener *listener = m_listener;
    runOn(listener, [listener] { listener->close(); });
    for (ConnectionHost *host : std::as_const(m_hosts))
        runOn(host, [host] { host->closeAll(); });
}

bool HttpServer::isListening() const
{
    bool listening = false;
    Listener *listener = m_listener;
    runOn(listener, [&] { listening = listener->isListening(); });
    return listening;
}

} // namespace Ferry::Http
