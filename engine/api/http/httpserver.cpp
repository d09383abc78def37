#include "http/httpserver.h"

#include "http/httpconnection.h"

#include <QElapsedTimer>
#include <QHash>
#include <QLoggingCategory>
#include <QMutex>
#include <QSocketNotifier>
#include <QTcpServer>
#include <QTcpSocket>
#include <QThread>
#include <QTimer>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

Q_LOGGING_CATEGORY(lcHttp, "ferry.http")

namespace Ferry::Http {

namespace {

// Sent to connections shed while the process is out of descriptors: best effort, then closed.
constexpr char ShedAnswer[] =
    "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json; charset=utf-8\r\n"
    "Content-Length: 137\r\nConnection: close\r\n\r\n"
    "{\"success\":false,\"error\":\"Too many connections\",\"message\":\"The server is out of "
    "connections. Retry later.\",\"code\":\"too_many_connections\"}";

} // namespace

// Connections per client and overall, shared by the network threads.
class ConnectionAccounting final
{
public:
    ConnectionAccounting(const HttpLimits &limits, std::atomic<int> &open)
        : m_limits(limits), m_open(open), m_maxConnections(limits.maxConnections)
    {}

    enum class Admission { Admitted, ServerFull, ClientFull };
    // key: Handler::connectionKey() of the peer; empty: capped only overall.
    Admission admit(const QByteArray &key)
    {
        QMutexLocker lock(&m_mutex);
        if (m_open.load() >= m_maxConnections.load())
            return Admission::ServerFull;
        if (!key.isEmpty()) {
            int &perClient = m_perClient[key];
            if (perClient >= m_limits.maxConnectionsPerIp)
                return Admission::ClientFull;
            ++perClient;
        }
        ++m_open;
        return Admission::Admitted;
    }
    void release(const QByteArray &key)
    {
        QMutexLocker lock(&m_mutex);
        --m_open;
        auto it = key.isEmpty() ? m_perClient.end() : m_perClient.find(key);
        if (it != m_perClient.end() && --it.value() <= 0)
            m_perClient.erase(it);
    }
    // A refusal holds a descriptor while its 503 goes out: at most maxRefusing at a time.
    bool beginRefusal()
    {
        if (m_refusing.fetch_add(1) < m_limits.maxRefusing)
            return true;
        --m_refusing;
        return false;
    }
    void endRefusal() { --m_refusing; }
    int maxConnections() const { return m_maxConnections.load(); }
    void setMaxConnections(int max) { m_maxConnections = max; }

private:
    const HttpLimits &m_limits;
    std::atomic<int> &m_open;
    std::atomic<int> m_maxConnections;
    std::atomic<int> m_refusing{0};
    QMutex m_mutex;
    QHash<QByteArray, int> m_perClient;
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
        const QByteArray key = m_handler.connectionKey(socket->peerAddress());
        const auto admission = m_accounting.admit(key);
        if (admission != ConnectionAccounting::Admission::Admitted) {
            refuse(socket, admission == ConnectionAccounting::Admission::ServerFull);
            return;
        }
        auto *connection = new HttpConnection(socket, m_handler, m_limits, this);
        connect(connection, &QObject::destroyed, this,
                [accounting = &m_accounting, key] { accounting->release(key); });
    }

    void closeAll()
    {
        const auto connections = findChildren<HttpConnection *>(Qt::FindDirectChildrenOnly);
        for (HttpConnection *connection : connections)
            delete connection; // destroyed() keeps the counts right
    }

    // Out of descriptors: the newest idle connections go first (a flood is the newest; a
    // keep-alive client reconnects). Returns how many were closed.
    int closeIdle(int max)
    {
        const auto connections = findChildren<HttpConnection *>(Qt::FindDirectChildrenOnly);
        int closed = 0;
        for (auto it = connections.crbegin(); it != connections.crend() && closed < max; ++it) {
            if ((*it)->isIdle()) {
                delete *it;
                ++closed;
            }
        }
        return closed;
    }

private:
    void refuse(QTcpSocket *socket, bool overall)
    {
        if (!m_accounting.beginRefusal()) {
            // Enough 503s are on their way: this one is closed unanswered, at once.
            socket->abort();
            delete socket;
            if (m_droppedLog.isValid() && m_droppedLog.elapsed() < 10'000) {
                ++m_dropped;
                return;
            }
            qCWarning(lcHttp).noquote()
                << QStringLiteral("Closed %1 connection(s) over the connection caps without an "
                                  "answer: %2 refusals were already in progress.")
                       .arg(m_dropped + 1)
                       .arg(m_limits.maxRefusing);
            m_dropped = 0;
            m_droppedLog.start();
            return;
        }
        auto *connection = new HttpConnection(socket, m_handler, m_limits, this);
        connect(connection, &QObject::destroyed, this,
                [accounting = &m_accounting] { accounting->endRefusal(); });
        connection->refuse(layerError(
            503, "Too many connections",
            overall ? QStringLiteral("The server has %1 open connections, its limit. Retry later.")
                          .arg(m_accounting.maxConnections())
                    : QStringLiteral("Your address has %1 open connections, the limit per client. "
                                     "Close some or reuse them (keep-alive).")
                          .arg(m_limits.maxConnectionsPerIp),
            "too_many_connections"));
    }

    Handler &m_handler;
    const HttpLimits &m_limits;
    ConnectionAccounting &m_accounting;
    QElapsedTimer m_droppedLog;
    int m_dropped = 0;
};

// The listening socket: accepts, and hands each descriptor to the next network thread's host.
// QTcpServer only binds and listens here; its own accept loop stays paused, because it handles
// EMFILE badly (it spins on the ready socket, or pauses and never resumes). This one, when the
// process runs out of descriptors: sheds the backlog with a spare descriptor, closes the newest
// idle connections, stops watching the socket for HttpLimits::acceptRetryMs, and logs it.
class Listener final : public QTcpServer
{
public:
    Listener(QList<ConnectionHost *> hosts, const HttpLimits &limits)
        : m_hosts(std::move(hosts)), m_limits(limits)
    {}
    ~Listener() override { stop(); }

    bool start(const QHostAddress &address, quint16 port)
    {
        stop();
        setListenBacklogSize(std::clamp(m_limits.listenBacklog, 1, 65'535));
        if (!listen(address, port))
            return false;
        pauseAccepting(); // for good: acceptReady() accepts
        m_notifier = new QSocketNotifier(socketDescriptor(), QSocketNotifier::Read, this);
        connect(m_notifier, &QSocketNotifier::activated, this, [this] { acceptReady(); });
        reserveSpare();
        return true;
    }
    void stop()
    {
        delete m_notifier;
        m_notifier = nullptr;
        if (isListening())
            close();
        releaseSpare();
    }

private:
    void acceptReady()
    {
        const int listening = int(socketDescriptor());
        // Bounded per wake-up, so the other connections of this thread are served in between.
        for (int i = 0; i < 256; ++i) {
            const int fd = ::accept4(listening, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
            if (fd >= 0) {
                if (m_failures > 0)
                    recovered();
                hand(fd);
                continue;
            }
            const int error = errno;
            if (error == EINTR || error == ECONNABORTED || error == EPROTO)
                continue; // that one connection is gone; the next may be fine
            if (error == EAGAIN || error == EWOULDBLOCK)
                return;
            failed(error);
            return;
        }
    }

    void hand(int descriptor)
    {
        ConnectionHost *host = m_hosts.at(m_next++ % m_hosts.size());
        if (host->thread() == QThread::currentThread())
            host->adopt(descriptor);
        else
            QMetaObject::invokeMethod(host, [host, descriptor] { host->adopt(descriptor); });
    }

    void failed(int error)
    {
        ++m_failures;
        if (error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM) {
            m_shed += shedBacklog();
            for (ConnectionHost *host : std::as_const(m_hosts)) {
                QMetaObject::invokeMethod(
                    host, [host, closed = &m_idleClosed] { *closed += host->closeIdle(16); });
            }
        }
        if (!m_lastReport.isValid() || m_lastReport.elapsed() >= 10'000) {
            qCWarning(lcHttp).noquote()
                << QStringLiteral("accept() failed: %1. Shed %2 waiting connection(s) and closed "
                                  "idle ones; accepting again in %3 ms. Raise the descriptor limit "
                                  "(ulimit -n) if this repeats.")
                       .arg(QString::fromLocal8Bit(std::strerror(error)))
                       .arg(m_shed)
                       .arg(m_limits.acceptRetryMs);
            m_lastReport.start();
        }
        // The socket stays readable while connections wait: watching it now would spin.
        m_notifier->setEnabled(false);
        QTimer::singleShot(m_limits.acceptRetryMs, this, [this] {
            if (m_notifier)
                m_notifier->setEnabled(true);
        });
    }

    void recovered()
    {
        qCInfo(lcHttp).noquote()
            << QStringLiteral("Accepting connections again (after %1 failed accept() calls; %2 "
                              "connections shed, %3 idle connections closed).")
                   .arg(m_failures)
                   .arg(m_shed)
                   .arg(m_idleClosed.load());
        m_failures = 0;
        m_shed = 0;
        m_idleClosed = 0;
        m_lastReport.invalidate();
    }

    // A descriptor held back for the day accept() fails with EMFILE.
    void reserveSpare()
    {
        if (m_spare < 0)
            m_spare = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    }
    void releaseSpare()
    {
        if (m_spare >= 0)
            ::close(m_spare);
        m_spare = -1;
    }

    // With the spare descriptor free, accept what waits and close it at once (a short 503 first,
    // best effort), so the backlog does not stay full of clients that get nothing.
    int shedBacklog()
    {
        releaseSpare();
        int shed = 0;
        const int listening = int(socketDescriptor());
        while (shed < 4096) {
            const int fd = ::accept4(listening, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
            if (fd < 0)
                break;
            (void)!::send(fd, ShedAnswer, sizeof ShedAnswer - 1, MSG_NOSIGNAL);
            ::close(fd);
            ++shed;
        }
        reserveSpare();
        return shed;
    }

    QList<ConnectionHost *> m_hosts;
    const HttpLimits &m_limits;
    QSocketNotifier *m_notifier = nullptr;
    qsizetype m_next = 0;
    int m_spare = -1;
    int m_failures = 0;
    int m_shed = 0;
    std::atomic<int> m_idleClosed{0};
    QElapsedTimer m_lastReport;
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
    m_listener = new Listener(m_hosts, m_limits);
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
    applyDescriptorLimit();
    runOn(listener, [&] {
        if (!listener->start(address, port)) {
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
    runOn(listener, [listener] { listener->stop(); });
    for (ConnectionHost *host : std::as_const(m_hosts))
        runOn(host, [host] { host->closeAll(); });
}

// The connection cap must fit in the process's descriptors: each connection is one, a refusal
// in progress is one, and the rest of the process needs some. The soft RLIMIT_NOFILE is raised as
// far as the hard one allows; when it is still the tighter bound the cap is lowered (and the log
// says so), so connections over it get a 503, not EMFILE.
void HttpServer::applyDescriptorLimit()
{
    rlimit limit{};
    int cap = m_limits.maxConnections;
    const rlim_t needed =
        rlim_t(m_limits.maxConnections) + m_limits.reservedDescriptors + m_limits.maxRefusing;
    if (m_limits.raiseDescriptorLimit && ::getrlimit(RLIMIT_NOFILE, &limit) == 0 &&
        limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < needed) {
        rlimit raised = limit;
        raised.rlim_cur =
            limit.rlim_max == RLIM_INFINITY ? needed : std::min(needed, limit.rlim_max);
        if (raised.rlim_cur > limit.rlim_cur && ::setrlimit(RLIMIT_NOFILE, &raised) == 0) {
            qCInfo(lcHttp).noquote() << QStringLiteral("Raised the descriptor limit from %1 to %2.")
                                            .arg(qint64(limit.rlim_cur))
                                            .arg(qint64(raised.rlim_cur));
        }
    }
    if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
        const qint64 budget =
            qint64(limit.rlim_cur) - m_limits.reservedDescriptors - m_limits.maxRefusing;
        if (budget < cap) {
            cap = int(std::max<qint64>(budget, 8));
            qCWarning(lcHttp).noquote()
                << QStringLiteral("The descriptor limit (ulimit -n) is %1: at most %2 HTTP "
                                  "connections instead of %3. Raise the limit for more.")
                       .arg(qint64(limit.rlim_cur))
                       .arg(cap)
                       .arg(m_limits.maxConnections);
        }
    }
    m_accounting->setMaxConnections(cap);
}

int HttpServer::maxConnections() const
{
    return m_accounting->maxConnections();
}

bool HttpServer::isListening() const
{
    bool listening = false;
    Listener *listener = m_listener;
    runOn(listener, [&] { listening = listener->isListening(); });
    return listening;
}

} // namespace Ferry::Http
