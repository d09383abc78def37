#include "http/httpconnection.h"

#include <QCoroFuture>
#include <QPointer>
#include <QTcpSocket>
#include <QThread>

#include <algorithm>
#include <chrono>
#include <limits>

namespace Ferry::Http {

namespace {

constexpr qint64 ReadChunk = 64 * 1024;

HttpConnection *self(llhttp_t *parser)
{
    return static_cast<HttpConnection *>(parser->data);
}

// The decision a later HeaderDecision brought; one that never came (the handler's pool was
// stopped, a null result) is a 503, so the request is answered either way.
std::shared_ptr<HeaderDecision> takeDecision(const QFuture<std::shared_ptr<HeaderDecision>> &future)
{
    std::shared_ptr<HeaderDecision> decision;
    if (future.isFinished() && !future.isCanceled() && future.resultCount() > 0)
        decision = future.result();
    if (!decision || decision->later) {
        decision = std::make_shared<HeaderDecision>(HeaderDecision::refuse(
            layerError(503, "Service unavailable",
                       QStringLiteral("The server could not decide on the request. Try again."),
                       "no_decision")));
    }
    return decision;
}

// A decision nobody will act on: its consumer never gets a body.
void discardDecision(HeaderDecision &decision)
{
    if (auto consumer = std::move(decision.consumer))
        consumer->abort();
}

// Aborts the consumer of a decision that is dropped on its way (a queued call that never ran).
struct DecisionGuard
{
    explicit DecisionGuard(std::shared_ptr<HeaderDecision> d) : decision(std::move(d)) {}
    ~DecisionGuard()
    {
        if (decision)
            discardDecision(*decision);
    }
    Q_DISABLE_COPY_MOVE(DecisionGuard)
    std::shared_ptr<HeaderDecision> decision;
};

} // namespace

qint64 steadyNowMs()
{
    using namespace std::chrono;
    return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

bool isToken(QByteArrayView value, QByteArrayView token)
{
    return value.trimmed().compare(token, Qt::CaseInsensitive) == 0;
}

Response layerError(int status, const char *title, const QString &message, const char *code)
{
    return Response::error(status, QString::fromLatin1(title), message, QString::fromLatin1(code));
}

const llhttp_settings_t &HttpConnection::parserSettings()
{
    static const llhttp_settings_t settings = [] {
        llhttp_settings_t s;
        llhttp_settings_init(&s);
        s.on_message_begin = &HttpConnection::onMessageBegin;
        s.on_url = &HttpConnection::onUrl;
        s.on_header_field = &HttpConnection::onHeaderField;
        s.on_header_value = &HttpConnection::onHeaderValue;
        s.on_header_value_complete = &HttpConnection::onHeaderValueComplete;
        s.on_headers_complete = &HttpConnection::onHeadersComplete;
        s.on_body = &HttpConnection::onBody;
        s.on_message_complete = &HttpConnection::onMessageComplete;
        return s;
    }();
    return settings;
}

HttpConnection::HttpConnection(QTcpSocket *socket,
                               Handler &handler,
                               const HttpLimits &limits,
                               QObject *parent)
    : QObject(parent)
    , m_socket(socket)
    , m_handler(handler)
    , m_limits(limits)
    , m_link(std::make_shared<ConnectionLink>())
{
    m_link->connection = this;
    llhttp_init(&m_parser, HTTP_REQUEST, &parserSettings());
    m_parser.data = this;
    m_peerAddress = socket->peerAddress();
    m_peerPort = socket->peerPort();
    // Bounded: while we do not read (paused, rejected), TCP pushes back on the client.
    socket->setReadBufferSize(ReadChunk);
    socket->setSocketOption(QAbstractSocket::LowDelayOption, 1);
    m_timer.setSingleShot(true);
    connect(&m_timer, &QTimer::timeout, this, &HttpConnection::onTimer);
    m_writeStall.setSingleShot(true);
    m_writeStall.setInterval(m_limits.writeStallTimeoutMs);
    connect(&m_writeStall, &QTimer::timeout, this, &HttpConnection::onWriteStalled);
    connect(socket, &QTcpSocket::readyRead, this, &HttpConnection::onReadyRead);
    connect(socket, &QTcpSocket::bytesWritten, this, &HttpConnection::onBytesWritten);
    connect(socket, &QTcpSocket::disconnected, this, &HttpConnection::onDisconnected);
    armDeadline(m_limits.headerTimeoutMs); // a connection that never sends counts as slow headers
    if (socket->bytesAvailable() > 0)
        QMetaObject::invokeMethod(this, &HttpConnection::onReadyRead, Qt::QueuedConnection);
}

HttpConnection::~HttpConnection()
{
    {
        QMutexLocker lock(&m_link->mutex);
        m_link->connection = nullptr;
    }
    abortConsumer();
    m_socket->disconnect(this);
    m_socket->abort();
    delete m_socket;
}

void HttpConnection::refuse(Response response)
{
    Request request;
    request.peerAddress = m_peerAddress;
    request.peerPort = m_peerPort;
    tellHandler(request, response);
    m_stopReading = true;
    Slot slot;
    slot.sequence = m_nextSequence++;
    slot.response = std::move(response);
    slot.closeAfter = true;
    m_pending.push_back(std::move(slot));
    flush();
}

void HttpConnection::abortNow()
{
    abortConsumer();
    m_socket->abort();
}

bool HttpConnection::isIdle() const
{
    return !m_dead && !m_closing && !m_lingering && m_phase == Phase::Idle && m_pending.empty();
}

// ---- parsing ---------------------------------------------------------------------------------

int HttpConnection::onMessageBegin(llhttp_t *parser)
{
    HttpConnection *c = self(parser);
    c->m_phase = Phase::Headers;
    c->m_request = Request{};
    c->m_request.peerAddress = c->m_peerAddress;
    c->m_request.peerPort = c->m_peerPort;
    c->m_request.headers.reserve(8); // one allocation for a typical request's headers
    c->m_headerBytes = 0;
    c->m_headerCount = 0;
    c->m_bodyBytes = 0;
    c->m_currentRejected = false;
    c->armDeadline(c->m_limits.headerTimeoutMs);
    return 0;
}

bool HttpConnection::countHeaderBytes(size_t length)
{
    m_headerBytes += qint64(length);
    return m_headerBytes <= m_limits.maxHeaderBytes;
}

int HttpConnection::headersTooLarge()
{
    return failRequest(layerError(
        431, "Request headers too large",
        QStringLiteral("The request line and headers exceed %1 bytes. Send a shorter URL or fewer "
                       "headers.")
            .arg(m_limits.maxHeaderBytes),
        "headers_too_large"));
}

int HttpConnection::onUrl(llhttp_t *parser, const char *at, size_t length)
{
    HttpConnection *c = self(parser);
    if (!c->countHeaderBytes(length))
        return c->headersTooLarge();
    c->m_request.target.append(at, qsizetype(length));
    return 0;
}

// Fields after the body (chunked trailers) are counted against maxHeaderBytes and dropped: the
// request was authenticated and routed on its headers, and a trailer must not add to them.
int HttpConnection::onHeaderField(llhttp_t *parser, const char *at, size_t length)
{
    HttpConnection *c = self(parser);
    if (!c->countHeaderBytes(length + 4)) // ": " and CRLF
        return c->headersTooLarge();
    if (c->m_phase != Phase::Body)
        c->m_headerField.append(at, qsizetype(length));
    return 0;
}

int HttpConnection::onHeaderValue(llhttp_t *parser, const char *at, size_t length)
{
    HttpConnection *c = self(parser);
    if (!c->countHeaderBytes(length))
        return c->headersTooLarge();
    if (c->m_phase != Phase::Body)
        c->m_headerValue.append(at, qsizetype(length));
    return 0;
}

int HttpConnection::onHeaderValueComplete(llhttp_t *parser)
{
    HttpConnection *c = self(parser);
    if (c->m_phase == Phase::Body)
        return 0; // a trailer: ignored
    if (++c->m_headerCount > c->m_limits.maxHeaderCount) {
        return c->failRequest(layerError(
            431, "Too many request headers",
            QStringLiteral("The request has more than %1 header fields. Send fewer headers.")
                .arg(c->m_limits.maxHeaderCount),
            "too_many_headers"));
    }
    QByteArray &value = c->m_headerValue; // llhttp skips leading whitespace, not trailing
    while (!value.isEmpty() && (value.back() == ' ' || value.back() == '\t'))
        value.chop(1);
    QByteArray name = std::move(c->m_headerField);
    for (char &ch : name) {
        if (ch >= 'A' && ch <= 'Z')
            ch = char(ch - 'A' + 'a');
    }
    c->m_request.headers.append({std::move(name), std::move(c->m_headerValue)});
    c->m_headerField = QByteArray();
    c->m_headerValue = QByteArray();
    return 0;
}

int HttpConnection::onHeadersComplete(llhttp_t *parser)
{
    return self(parser)->headersComplete();
}

int HttpConnection::headersComplete()
{
    Request &r = m_request;
    r.method = QByteArray::fromRawData(
        llhttp_method_name(llhttp_method_t(m_parser.method)),
        qsizetype(qstrlen(llhttp_method_name(llhttp_method_t(m_parser.method)))));
    r.httpMinor = m_parser.http_major == 1 ? m_parser.http_minor : 0;
    const qsizetype question = r.target.indexOf('?');
    r.path = question < 0 ? r.target : r.target.left(question);
    if (question >= 0)
        r.query = r.target.mid(question + 1);
    r.chunked = (m_parser.flags & F_CHUNKED) != 0;
    // llhttp takes lengths up to 2^64-1. One past qint64 fits no limit (and would turn negative,
    // a request without body): it is refused below, before the Handler sees it.
    constexpr quint64 MaxLength = quint64(std::numeric_limits<qint64>::max());
    const bool hasLength = (m_parser.flags & F_CONTENT_LENGTH) != 0;
    const bool lengthTooLarge = hasLength && m_parser.content_length > MaxLength;
    r.contentLength =
        !hasLength ? -1 : qint64(std::min<quint64>(m_parser.content_length, MaxLength));
    r.keepAlive = llhttp_should_keep_alive(&m_parser) != 0;
    r.expectContinue = r.httpMinor >= 1 && isToken(r.header("expect"), "100-continue");

    Slot slot;
    slot.sequence = m_currentSequence = m_nextSequence++;
    slot.head = m_parser.method == HTTP_HEAD;
    slot.http10 = r.httpMinor == 0;
    slot.closeAfter = !r.keepAlive;
    slot.method = r.method;
    slot.path = r.path;
    m_pending.push_back(std::move(slot));

    m_phase = r.hasBody() ? Phase::Body : Phase::Idle;
    if (lengthTooLarge) {
        return failRequest(layerError(
            413, "Request body too large",
            QStringLiteral("The body announces %1 bytes; this server accepts at most %2. Send a "
                           "smaller body.")
                .arg(m_parser.content_length)
                .arg(m_limits.maxBodyBytes),
            "body_too_large"));
    }
    HeaderDecision decision = m_handler.headersReceived(r);
    if (decision.later) {
        QFuture<std::shared_ptr<HeaderDecision>> future = std::move(*decision.later);
        if (!future.isFinished()) {
            // Nothing more is read until the decision comes; the wait is bounded like a
            // handler's answer (responseTimeoutMs), not by the body stall clock.
            m_deciding = true;
            disarmDeadline();
            const qint64 now = steadyNowMs();
            m_pending.back().handedAtMs = now;
            watchResponses(now);
            awaitDecision(std::move(future), m_currentSequence);
            return HPE_PAUSED;
        }
        decision = std::move(*takeDecision(future));
    }
    return applyDecision(std::move(decision));
}

int HttpConnection::applyDecision(HeaderDecision decision)
{
    Request &r = m_request;
    const qint64 limit = decision.maxBodyBytes >= 0 ? decision.maxBodyBytes : m_limits.maxBodyBytes;
    if (!decision.reject && r.contentLength > limit) {
        r.context = std::move(decision.context); // the Handler counts the refusal as its request
        return failRequest(layerError(
            413, "Request body too large",
            QStringLiteral("The body announces %1 bytes; this server accepts at most %2. Send a "
                           "smaller body.")
                .arg(r.contentLength)
                .arg(limit),
            "body_too_large"));
    }
    if (decision.reject) {
        if (r.hasBody()) // the body stays unread: nothing more can be parsed on this connection
            return failRequest(std::move(*decision.reject), false);
        m_currentRejected = true;
        m_pending.back().response = std::move(decision.reject);
        return 0;
    }
    m_consumer = std::move(decision.consumer);
    r.context = std::move(decision.context);
    m_bodyLimit = limit;
    if (r.hasBody()) {
        m_pending.back().needsContinue = r.expectContinue;
        armDeadline(m_limits.bodyStallTimeoutMs);
        flush(); // sends "100 Continue" now if this request is first in line
    }
    return 0;
}

int HttpConnection::onBody(llhttp_t *parser, const char *at, size_t length)
{
    HttpConnection *c = self(parser);
    c->m_bodyBytes += qint64(length);
    if (c->m_bodyBytes > c->m_bodyLimit) {
        return c->failRequest(layerError(
            413, "Request body too large",
            QStringLiteral("The body exceeds %1 bytes. Send a smaller body.").arg(c->m_bodyLimit),
            "body_too_large"));
    }
    c->armDeadline(c->m_limits.bodyStallTimeoutMs);
    if (c->m_consumer) {
        if (!c->m_consumer->write(QByteArrayView(at, qsizetype(length))))
            return c->failRequest(c->consumerRefusal());
        if (std::optional<QFuture<void>> room = c->m_consumer->readyForMore();
            room && !room->isFinished()) {
            // Nothing more is read until the consumer's sink caught up: TCP pushes back on the
            // client, and this thread goes on serving the other connections.
            c->m_bodyWaiting = true;
            c->disarmDeadline();
            c->awaitBodyRoom(std::move(*room), c->m_currentSequence);
            return HPE_PAUSED;
        }
    } else {
        c->m_request.body.append(at, qsizetype(length));
    }
    return 0;
}

int HttpConnection::onMessageComplete(llhttp_t *parser)
{
    return self(parser)->messageComplete();
}

int HttpConnection::messageComplete()
{
    m_phase = Phase::Idle;
    disarmDeadline();
    const quint64 sequence = m_currentSequence;
    if (!m_currentRejected) {
        if (m_consumer && !m_consumer->finish())
            return failRequest(consumerRefusal()); // and abort()s the consumer
        m_handler.handle(std::move(m_request), std::move(m_consumer), Responder(m_link, sequence));
    }
    m_currentRejected = false;
    Slot *slot = slotFor(sequence);
    if (slot && !slot->response) { // answered later: the wait is bounded (responseTimeoutMs)
        const qint64 now = steadyNowMs();
        slot->handedAtMs = now;
        watchResponses(now);
    }
    if (slot && slot->closeAfter)
        m_stopReading = true;
    if (m_stopReading || m_closing)
        return HPE_PAUSED;
    if (m_pending.size() >= size_t(m_limits.maxPipelinedRequests)) {
        m_parsePaused = true;
        return HPE_PAUSED;
    }
    return 0;
}

int HttpConnection::failRequest(Response response, bool byServer)
{
    abortConsumer();
    Slot *slot = m_phase == Phase::Body || m_currentRejected ? slotFor(m_currentSequence) : nullptr;
    if (!slot) {
        Slot fresh;
        fresh.sequence = m_nextSequence++;
        m_pending.push_back(std::move(fresh));
        slot = &m_pending.back();
    }
    if (byServer) {
        m_request.peerAddress = m_peerAddress;
        m_request.peerPort = m_peerPort;
        tellHandler(m_request, response);
    }
    slot->response = std::move(response);
    slot->closeAfter = true;
    slot->needsContinue = false;
    m_stopReading = true;
    m_currentRejected = false;
    m_phase = Phase::Idle;
    disarmDeadline();
    flush();
    return HPE_USER;
}

void HttpConnection::feed(const char *data, qint64 length)
{
    const llhttp_errno_t error = llhttp_execute(&m_parser, data, size_t(length));
    if (error == HPE_OK || error == HPE_USER)
        return;
    if (error == HPE_PAUSED) {
        if (!m_stopReading) { // paused for pipelining: keep the unparsed rest for later
            const char *position = llhttp_get_error_pos(&m_parser);
            m_leftover = QByteArray(position, qsizetype(data + length - position));
            llhttp_resume(&m_parser);
        }
        return;
    }
    if (error == HPE_PAUSED_UPGRADE) { // no protocol switching: answer, then close
        m_stopReading = true;
        if (Slot *slot = slotFor(m_currentSequence))
            slot->closeAfter = true;
        else
            beginClose();
        return;
    }
    // A callback that already answered (failRequest) stops llhttp with an error of its own
    // (HPE_CB_*): the answer is given, there is nothing more to say.
    if (m_stopReading)
        return;
    const QString reason = QString::fromLatin1(llhttp_get_error_reason(&m_parser));
    failRequest(layerError(
        400, "Bad request",
        QStringLiteral("The request is not valid HTTP/1.1 (%1: %2). Fix the client's request.")
            .arg(QString::fromLatin1(llhttp_errno_name(error)), reason),
        "bad_request"));
}

// ---- decisions made later --------------------------------------------------------------------

// Resumes on the network thread once the Handler's thread decided (QCoro's QFuture awaiter), or
// never touches the connection again if it died meanwhile.
QCoro::Task<> HttpConnection::awaitDecision(QFuture<std::shared_ptr<HeaderDecision>> future,
                                            quint64 sequence)
{
    QPointer<HttpConnection> self(this);
    co_await QFuture<void>(future); // not the result: a cancelled future has none
    std::shared_ptr<HeaderDecision> decision = takeDecision(future);
    if (!self || m_dead) {
        discardDecision(*decision);
        co_return;
    }
    if (m_inParse) {
        // Decided before the wait began (still inside headersComplete()): apply it once the
        // parser has stopped, from the event loop.
        auto guard = std::make_shared<DecisionGuard>(std::move(decision));
        QMetaObject::invokeMethod(
            this, [this, sequence, guard] { decided(sequence, std::move(guard->decision)); },
            Qt::QueuedConnection);
        co_return;
    }
    decided(sequence, std::move(decision));
}

void HttpConnection::decided(quint64 sequence, std::shared_ptr<HeaderDecision> decision)
{
    Slot *slot = slotFor(sequence);
    if (m_dead || !m_deciding || sequence != m_currentSequence || !slot || slot->response) {
        // Answered meanwhile (503 after responseTimeoutMs) or closing: nothing reads its body.
        discardDecision(*decision);
        return;
    }
    m_deciding = false;
    slot->handedAtMs = 0;
    applyDecision(std::move(*decision));
    if (m_dead || m_stopReading)
        return;
    resumeParsing();
}

void HttpConnection::resumeParsing()
{
    // Goes on where the parser paused: a request without a body completes even if nothing more
    // arrives (so the parser runs on the empty rest), then whatever the socket holds.
    m_inParse = true;
    const QByteArray pending = std::exchange(m_leftover, QByteArray());
    feed(pending.isEmpty() ? "" : pending.constData(), pending.size());
    m_inParse = false;
    if (m_dead)
        return;
    flush();
    if (!m_dead && !m_deciding && !m_bodyWaiting)
        onReadyRead();
}

// ---- a body consumer's pause ---------------------------------------------------------------

QCoro::Task<> HttpConnection::awaitBodyRoom(QFuture<void> room, quint64 sequence)
{
    QPointer<HttpConnection> self(this);
    co_await room;
    if (!self || m_dead)
        co_return;
    if (m_inParse) {
        // Finished before the wait began (still inside onBody()): go on once the parser has
        // stopped, from the event loop.
        QMetaObject::invokeMethod(
            this, [this, sequence] { bodyRoomReady(sequence); }, Qt::QueuedConnection);
        co_return;
    }
    bodyRoomReady(sequence);
}

void HttpConnection::bodyRoomReady(quint64 sequence)
{
    // Answered or failed meanwhile (failRequest stops reading): nothing more to read for it.
    if (m_dead || !m_bodyWaiting || sequence != m_currentSequence || m_stopReading)
        return;
    m_bodyWaiting = false;
    armDeadline(m_limits.bodyStallTimeoutMs);
    resumeParsing();
}

// ---- socket events ---------------------------------------------------------------------------

void HttpConnection::onReadyRead()
{
    if (m_dead)
        return;
    if (m_lingering) {
        m_socket->skip(m_socket->bytesAvailable());
        return;
    }
    if (m_stopReading || m_parsePaused || m_deciding || m_bodyWaiting || m_inParse)
        return;
    thread_local char buffer[ReadChunk];
    m_inParse = true;
    if (!m_leftover.isEmpty()) {
        const QByteArray pending = std::exchange(m_leftover, QByteArray());
        feed(pending.constData(), pending.size());
    }
    while (!m_stopReading && !m_parsePaused && !m_deciding && !m_bodyWaiting && !m_dead) {
        const qint64 n = m_socket->read(buffer, ReadChunk);
        if (n <= 0)
            break;
        feed(buffer, n);
    }
    m_inParse = false;
    if (!m_dead)
        flush();
}

void HttpConnection::onBytesWritten()
{
    if (m_dead)
        return;
    // Progress: the stall clock starts again, or stops once everything is out.
    if (m_socket->bytesToWrite() > 0)
        m_writeStall.start();
    else
        m_writeStall.stop();
    if (m_streaming)
        flush();
    if (m_closing && !m_lingering && m_socket->bytesToWrite() == 0)
        halfClose();
}

void HttpConnection::onWriteStalled()
{
    if (m_dead || m_socket->bytesToWrite() == 0)
        return;
    // The client stopped reading: nothing more can reach it, and it holds our buffers.
    m_socket->abort();
    onDisconnected();
}

void HttpConnection::onDisconnected()
{
    if (m_dead)
        return;
    m_dead = true;
    m_stopReading = true;
    disarmDeadline();
    m_timer.stop();
    m_writeStall.stop();
    abortConsumer();
    {
        QMutexLocker lock(&m_link->mutex);
        m_link->connection = nullptr;
    }
    m_pending.clear(); // drops stream producers too
    deleteLater();
}

Response HttpConnection::consumerRefusal()
{
    if (m_consumer) {
        if (std::optional<Response> refusal = m_consumer->refusal())
            return std::move(*refusal);
    }
    return layerError(
        500, "Body not stored",
        QStringLiteral("The server could not store the request body. Try again later."),
        "body_not_stored");
}

void HttpConnection::abortConsumer()
{
    if (auto consumer = std::move(m_consumer))
        consumer->abort();
}

HttpConnection::Slot *HttpConnection::slotFor(quint64 sequence)
{
    if (m_pending.empty() || sequence < m_pending.front().sequence)
        return nullptr;
    const quint64 index = sequence - m_pending.front().sequence;
    return index < m_pending.size() ? &m_pending[size_t(index)] : nullptr;
}

} // namespace Ferry::Http
