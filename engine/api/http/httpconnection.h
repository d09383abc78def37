#pragma once

#include "http/httphandler.h"
#include "http/httplimits.h"
#include "http/httptypes.h"

#include <QCoroTask>
#include <QMutex>
#include <QObject>
#include <QTimer>

#include <llhttp.h>

#include <deque>
#include <memory>
#include <string>

class QTcpSocket;

namespace Ferry::Http {

// Helpers shared by the two halves of HttpConnection (parsing, writing).
bool isToken(QByteArrayView value, QByteArrayView token);
Response layerError(int status, const char *title, const QString &message, const char *code);
qint64 steadyNowMs();

// Lets a Responder reach its connection from any thread, or learn that it is gone. The
// connection clears the pointer, under the mutex, before it dies.
struct ConnectionLink
{
    QMutex mutex;
    HttpConnection *connection = nullptr;
};

// One client socket on the network thread: parses requests with llhttp straight from the
// socket's buffer, asks the Handler, and writes the answers strictly in request order. Deletes
// itself (deleteLater) once the socket is closed.
class HttpConnection final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(HttpConnection)

public:
    // Takes ownership of socket, which must live on the current thread.
    HttpConnection(QTcpSocket *socket,
                   Handler &handler,
                   const HttpLimits &limits,
                   QObject *parent = nullptr);
    ~HttpConnection() override;

    // Answers the first request with response without reading anything, then closes (used when
    // a connection cap is reached).
    void refuse(Response response);
    // Network thread only: the answer for request number sequence (Responder calls this).
    void deliver(quint64 sequence, Response &&response);
    // Drops the connection now (server shutdown).
    void abortNow();
    // Open and doing nothing: no request in flight, none being read, not closing (the first to
    // go when the process runs out of descriptors).
    bool isIdle() const;

private:
    enum class Phase { Idle, Headers, Body };

    struct Slot
    {
        quint64 sequence = 0;
        std::optional<Response> response;
        bool head = false;
        bool http10 = false;
        bool closeAfter = false;
        bool needsContinue = false;
        bool continueSent = false;
        // When the request was handed to the Handler and its answer did not come at once
        // (steady ms; 0: not waiting). Bounds the wait by HttpLimits::responseTimeoutMs.
        qint64 handedAtMs = 0;
        QByteArray method; // for the log line of a request the layer answers after the fact
        QByteArray path;
    };

    static int onMessageBegin(llhttp_t *parser);
    static int onUrl(llhttp_t *parser, const char *at, size_t length);
    static int onHeaderField(llhttp_t *parser, const char *at, size_t length);
    static int onHeaderValue(llhttp_t *parser, const char *at, size_t length);
    static int onHeaderValueComplete(llhttp_t *parser);
    static int onHeadersComplete(llhttp_t *parser);
    static int onBody(llhttp_t *parser, const char *at, size_t length);
    static int onMessageComplete(llhttp_t *parser);
    static const llhttp_settings_t &parserSettings();

    int headersComplete();
    // The second half of headersComplete(), once the Handler decided (now or later).
    int applyDecision(HeaderDecision decision);
    // A decision made later (HeaderDecision::later): waits for it here, on the network thread.
    QCoro::Task<> awaitDecision(QFuture<std::shared_ptr<HeaderDecision>> future, quint64 sequence);
    void decided(quint64 sequence, std::shared_ptr<HeaderDecision> decision);
    // The body consumer asked for a pause (BodyConsumer::readyForMore): reading goes on once
    // the future finishes, on the network thread.
    QCoro::Task<> awaitBodyRoom(QFuture<void> room, quint64 sequence);
    void bodyRoomReady(quint64 sequence);
    // Parses what was left when the parser paused, then whatever the socket holds.
    void resumeParsing();
    int messageComplete();
    bool countHeaderBytes(size_t length);
    int headersTooLarge();
    // Answers the request being read, then closes. byServer: the layer decided the answer (the
    // Handler is told); false: it is the Handler's own refusal.
    int failRequest(Response response, bool byServer = true);
    void tellHandler(const Request &request, Response &response);
    // A request the Handler has held past responseTimeoutMs gets 503 and the connection closes.
    bool answerOverdue(qint64 now);
    // Keeps the timer running while a request waits for the Handler.
    void watchResponses(qint64 now);

    void onReadyRead();
    void onBytesWritten();
    void onDisconnected();
    void onTimer();
    void onWriteStalled();
    void feed(const char *data, qint64 length);
    void flush();
    bool pumpStream(Slot &slot);
    // Streamed bodies (httpconnectionoutput.cpp).
    QCoro::Task<> awaitStreamChunk(QFuture<StreamChunk> future, quint64 sequence);
    bool writeStreamChunk(Slot &slot, StreamChunk chunk);
    void abortStream();
    void writeHead(const Slot &slot, const Response &response, bool close);
    void send(const char *data, qint64 size);
    void beginClose();
    void halfClose();
    void armDeadline(int ms);
    void disarmDeadline() { m_deadline = 0; }
    int shortestTimeout() const;
    void abortConsumer();
    // What to answer when the consumer refused the body (its own refusal, or a 500).
    Response consumerRefusal();
    Slot *slotFor(quint64 sequence);

    QTcpSocket *m_socket;
    Handler &m_handler;
    const HttpLimits &m_limits;
    std::shared_ptr<ConnectionLink> m_link;
    llhttp_t m_parser;
    QTimer m_timer;
    QTimer m_writeStall;   // runs while queued output makes no progress
    qint64 m_deadline = 0; // steady-clock ms; 0: none
    qint64 m_timerDue = 0;

    QHostAddress m_peerAddress;
    quint16 m_peerPort = 0;

    // The request being read.
    Phase m_phase = Phase::Idle;
    Request m_request;
    QByteArray m_headerField;
    QByteArray m_headerValue;
    qint64 m_headerBytes = 0;
    int m_headerCount = 0;
    qint64 m_bodyBytes = 0;
    qint64 m_bodyLimit = 0;
    quint64 m_currentSequence = 0;
    bool m_currentRejected = false;
    std::unique_ptr<BodyConsumer> m_consumer;

    // Requests read and not yet answered on the wire, oldest first.
    std::deque<Slot> m_pending;
    quint64 m_nextSequence = 1;
    bool m_streaming = false;     // the front slot's stream is being sent
    bool m_streamWaiting = false; // its producer is making the next chunk elsewhere

    QByteArray m_leftover; // bytes read but not parsed while parsing is paused
    std::string m_out;     // scratch for response heads
    bool m_inParse = false;
    bool m_parsePaused = false; // too many requests in flight; resumes as answers go out
    bool m_deciding = false;    // the Handler decides on the current headers elsewhere
    bool m_bodyWaiting = false; // the body consumer asked to pause (readyForMore)
    bool m_stopReading = false; // no further request will be read on this connection
    bool m_closing = false;     // close once the write buffer drained
    bool m_lingering = false;   // write side shut; draining what the client still sends
    bool m_dead = false;        // socket gone; deleteLater() pending
};

} // namespace Ferry::Http
