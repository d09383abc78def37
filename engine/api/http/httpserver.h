#pragma once

#include "core/error.h"
#include "http/httphandler.h"
#include "http/httplimits.h"

#include <QHostAddress>
#include <QList>
#include <QObject>

#include <atomic>
#include <memory>
#include <vector>

class QThread;

namespace Ferry::Http {

class ConnectionAccounting;
class ConnectionHost;
class Listener;

// Ferry's HTTP/1.1 server: QTcpServer + llhttp on network threads of its own (HttpLimits::
// networkThreads; connections are spread over them as they are accepted). The Handler is called
// on the thread of the request's connection (see httphandler.h), so it must be thread-safe;
// answers may come from any thread. This is the seam a later Qt HttpServer could replace.
class HttpServer final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(HttpServer)

public:
    // handler must outlive the server.
    explicit HttpServer(Handler &handler, HttpLimits limits = {}, QObject *parent = nullptr);
    ~HttpServer() override;

    // Starts accepting on address:port; port 0 picks a free port. Returns the bound port.
    Result<quint16> listen(const QHostAddress &address, quint16 port);
    // Stops accepting and drops every open connection (their Responders become no-ops).
    void close();
    bool isListening() const;
    // Connections accepted and not yet closed (refused ones are not counted).
    int openConnections() const { return m_openConnections.load(); }
    const HttpLimits &limits() const { return m_limits; }
    // HttpLimits::maxConnections, or lower when the descriptor limit is (see listen()).
    int maxConnections() const;

private:
    void applyDescriptorLimit();

    const HttpLimits m_limits;
    std::atomic<int> m_openConnections{0};
    std::unique_ptr<ConnectionAccounting> m_accounting;
    std::vector<std::unique_ptr<QThread>> m_threads; // the network threads
    QList<ConnectionHost *> m_hosts;                 // one per network thread, living there
    Listener *m_listener = nullptr;                  // on the first network thread
};

} // namespace Ferry::Http
