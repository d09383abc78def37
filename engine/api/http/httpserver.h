#pragma once

#include "core/error.h"
#include "http/httphandler.h"
#include "http/httplimits.h"

#include <QHostAddress>
#include <QObject>

#include <atomic>
#include <memory>

class QThread;

namespace Ferry::Http {

class NetworkSide;

// Ferry's HTTP/1.1 server: QTcpServer + llhttp on a network thread of its own. The Handler is
// called on that thread (see httphandler.h); answers may come from any thread. This is the seam
// a later Qt HttpServer with limits could replace.
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

private:
    const HttpLimits m_limits;
    std::atomic<int> m_openConnections{0};
    std::unique_ptr<QThread> m_thread;
    NetworkSide *m_side = nullptr; // lives on m_thread
};

} // namespace Ferry::Http
