#include "api/tusroutes.h"

#include "api/quotarefusal.h"
#include "api/uploadparams.h"

#include <QDateTime>
#include <QFuture>
#include <QJsonObject>
#include <QObject>

namespace Ferry {

namespace {

constexpr const char *TusVersion = "1.0.0";

void addTusHeaders(Http::Response &response)
{
    response.setHeader("Tus-Resumable", TusVersion);
    response.setHeader("Cache-Control", "no-store");
}

Http::Response tusError(int status, const char *title, const QString &message, const char *code)
{
    Http::Response response = Api::error(status, title, message, code);
    addTusHeaders(response);
    return response;
}

Http::Response tusFromError(const Error &error)
{
    Http::Response response = Api::fromError(error);
    addTusHeaders(response);
    return response;
}

// Upload-Metadata: the upload's parameters (as POST /api/v1/uploads takes them, but priority)
// and what tus clients say of the file. Any other key, or a bad value, gets its 400.
std::optional<Http::Response> checkMetadata(const QJsonObject &metadata)
{
    static const QStringList fileKeys{QStringLiteral("filename"), QStringLiteral("filetype"),
                                      QStringLiteral("name"), QStringLiteral("type"),
                                      QStringLiteral("relativePath")};
    QStringList allowed = UploadParams::names();
    allowed.removeAll(QStringLiteral("priority"));
    UploadParams params;
    for (auto it = metadata.begin(); it != metadata.end(); ++it) {
        if (fileKeys.contains(it.key()))
            continue;
        std::optional<Http::Response> refused;
        if (!allowed.contains(it.key())) {
            refused = Api::error(400, "Bad request",
                                 QStringLiteral("Unknown Upload-Metadata key '%1'. A tus upload "
                                                "takes %2, and %3 to describe the file.")
                                     .arg(it.key().left(64), allowed.join(QStringLiteral(", ")),
                                          fileKeys.join(QStringLiteral(", "))),
                                 "unknown_parameter");
        } else if (const QString value = it.value().toString(); !value.isEmpty()) {
            refused = params.take(it.key(), value, u"metadata key");
        }
        if (refused) {
            addTusHeaders(*refused);
            return refused;
        }
    }
    return std::nullopt;
}

// Every request but OPTIONS names the protocol version it speaks; we speak only 1.0.0.
std::optional<Http::Response> checkVersion(const Http::Request &request)
{
    if (request.header("tus-resumable") == TusVersion)
        return std::nullopt;
    Http::Response response =
        tusError(412, "Precondition failed",
                 QStringLiteral("Send 'Tus-Resumable: 1.0.0': this server speaks tus 1.0.0 only."),
                 "tus_version_unsupported");
    response.setHeader("Tus-Version", TusVersion);
    return response;
}

// A non-negative decimal integer header; -1 when absent or not one.
qint64 decimalHeader(const Http::Request &request, QByteArrayView name)
{
    const QByteArray value = request.header(name);
    if (value.isEmpty() || value.size() > 18)
        return -1;
    for (char c : value) {
        if (c < '0' || c > '9')
            return -1;
    }
    return value.toLongLong();
}

QString idText(const QByteArray &id)
{
    return QString::fromLatin1(id.left(64));
}

// One PATCH body streaming into the upload's .part file on the network thread. The append
// begins on the uploads' pool (a store read, maybe ftruncate: never on the network thread);
// what arrives before it has begun waits in memory, bounded (TusOptions::maxPendingBytes). A
// body that breaks off keeps what arrived: the client resumes from there.
//
// The state is shared with the continuation that writes what waited once the append began (on
// the network thread, so a pausing client's bytes reach the file too): that continuation may
// run after the consumer is gone.
class TusBodyState final
{
public:
    TusBodyState(TusUploads &uploads, QFuture<TusUploads::BeginResult> begin, qint64 declared)
        : m_uploads(uploads), m_begin(std::move(begin)), m_declared(declared)
    {}
    ~TusBodyState() { m_uploads.returnPendingBudget(m_pending.size()); }
    Q_DISABLE_COPY_MOVE(TusBodyState)

    // Network thread.
    bool write(QByteArrayView data)
    {
        if (m_refusal)
            return false;
        if (!m_append && !m_begin.isFinished()) {
            const qint64 limit = m_uploads.options().maxPendingBytes;
            if (m_pending.size() + data.size() > limit ||
                !m_uploads.takePendingBudget(data.size())) {
                Http::Response busy =
                    tusError(503, "Service unavailable",
                             QStringLiteral("The server is busy and could not start writing this "
                                            "upload yet. Ask HEAD for the offset and resume."),
                             "busy");
                busy.setHeader("Retry-After", "1");
                m_refusal = std::move(busy);
                return false;
            }
            m_pending.append(data);
            return true;
        }
        return begun() && append(data);
    }
    // Network thread, once the append began (the continuation).
    void flushPending()
    {
        if (!m_finished && !m_ended && !m_refusal && begun())
            (void)append({});
    }
    bool finish()
    {
        m_finished = true;
        return !m_refusal;
    }
    void abort()
    {
        // What arrived is kept, on the pool (fdatasync and the store write), once the append
        // has begun; that also ends the append (its lock).
        m_ended = true;
        if (m_append) {
            m_uploads.keepLater(m_begin, {});
        } else {
            m_uploads.keepLater(m_begin, m_pending);
            m_uploads.returnPendingBudget(m_pending.size());
            m_pending.clear();
        }
    }
    const std::optional<Http::Response> &refusal() const { return m_refusal; }
    // Network thread: the append's own back-pressure, once it has begun (before that, what
    // arrives waits in m_pending under its budget).
    std::optional<QFuture<void>> readyForMore() const
    {
        return m_append ? m_append->readyForMore() : std::nullopt;
    }

    // In handle(), on a worker: waits for the append to begin, writes what waited, commits.
    Result<TusUploadRecord> commit()
    {
        m_begin.waitForFinished();
        if (!begun() || m_refusal || !append({})) {
            if (!m_append)
                return m_error; // never began: nothing to end
            m_append->keep();   // ends the append here, on the worker
            return m_error;
        }
        return m_append->commit();
    }

private:
    // Takes the finished begin: the append, or why there is none.
    bool begun()
    {
        if (m_append)
            return !m_refusal;
        const TusUploads::BeginResult &result = m_begin.result();
        if (!result.append) {
            m_error = result.error;
            m_refusal = result.error.code == ErrorCode::NotFound
                            ? tusError(404, "Not found", result.error.toString(), "not_found")
                            : tusFromError(result.error);
            return false;
        }
        m_append = result.append;
        if (m_declared > m_append->remaining()) {
            // As the HTTP layer's body limit would have: refused before a byte is written.
            tooLong();
            return false;
        }
        return true;
    }

    void tooLong()
    {
        m_error = makeError(ErrorCode::InvalidArgument,
                            QStringLiteral("The body goes past the upload's Upload-Length."));
        m_refusal = tusError(413, "Request body too large",
                             QStringLiteral("The body goes past the upload's Upload-Length. Ask "
                                            "HEAD for the offset and send the rest only."),
                             "body_too_large");
    }

    // Appends what waited, then data; refuses past the upload's length (413) or on a write error.
    bool append(QByteArrayView data)
    {
        if (!m_pending.isEmpty()) {
            const QByteArray pending = std::exchange(m_pending, {});
            m_uploads.returnPendingBudget(pending.size());
            if (!append(pending))
                return false;
        }
        if (data.isEmpty())
            return true;
        const qint64 room = m_append->remaining();
        const bool pastTheEnd = data.size() > room;
        if (!m_append->write(pastTheEnd ? data.first(room) : data)) {
            m_error = m_append->writeError().value_or(makeError(
                ErrorCode::Storage, QStringLiteral("Could not store the body of the upload."),
                QStringLiteral("Ask HEAD for the offset and resume later.")));
            m_refusal = tusFromError(m_error);
            return false;
        }
        if (pastTheEnd) {
            tooLong(); // a chunked body: what fitted is kept
            return false;
        }
        return true;
    }

    TusUploads &m_uploads;
    QFuture<TusUploads::BeginResult> m_begin;
    qint64 m_declared; // Content-Length, -1 when chunked
    std::shared_ptr<TusAppend> m_append;
    QByteArray m_pending;
    std::optional<Http::Response> m_refusal;
    Error m_error;
    bool m_finished = false;
    bool m_ended = false;
};

class TusBody final : public Http::BodyConsumer
{
public:
    TusBody(TusUploads &uploads, QFuture<TusUploads::BeginResult> begin, qint64 declared)
        : m_state(std::make_shared<TusBodyState>(uploads, begin, declared))
        , m_begin(std::move(begin))
    {}
    // deleteLater: the context lives on the network thread; this may die on a worker.
    ~TusBody() override
    {
        if (m_context)
            m_context->deleteLater();
    }
    Q_DISABLE_COPY_MOVE(TusBody)

    bool write(QByteArrayView data) override
    {
        // Made here, on the network thread where the body arrives (this consumer may have been
        // made on a worker, when the caller's token had to be looked up): what waited for the
        // append to begin is written from this thread once it has.
        if (!m_context) {
            m_context = new QObject;
            m_begin.then(m_context, [state = m_state](const TusUploads::BeginResult &) {
                state->flushPending();
            });
        }
        return m_state->write(data);
    }
    bool finish() override { return m_state->finish(); }
    void abort() override { m_state->abort(); }
    std::optional<Http::Response> refusal() override { return m_state->refusal(); }
    std::optional<QFuture<void>> readyForMore() override { return m_state->readyForMore(); }
    Result<TusUploadRecord> commit() { return m_state->commit(); }

private:
    std::shared_ptr<TusBodyState> m_state;
    QFuture<TusUploads::BeginResult> m_begin;
    QObject *m_context = nullptr;
};

void addUploadHeaders(Http::Response &response, const TusUploadRecord &upload)
{
    response.setHeader("Upload-Offset", QByteArray::number(upload.offset));
    response.setHeader("Upload-Length", QByteArray::number(upload.length));
    if (upload.complete()) {
        response.setHeader("Ferry-Job-Id", QByteArray::number(upload.jobId));
        response.setHeader("Ferry-Session-Id", upload.sessionId.toUtf8());
    }
}

} // namespace

TusRoutes::TusRoutes(TusUploads &uploads) : m_uploads(uploads) {}

QList<ApiRoute> TusRoutes::routes()
{
    ApiRoute options;
    options.method = "OPTIONS";
    options.path = "/api/v1/tus";
    options.authenticated = false; // discovery: what the server supports
    options.rateLimited = false;   // nor counted: it says nothing of the caller
    options.handle = [this](const ApiCall &call) { this->options(call); };

    ApiRoute create;
    create.method = "POST";
    create.path = "/api/v1/tus";
    create.offload = true;
    create.prepare = [this](const ApiCall &call) { return prepareCreate(call); };
    create.handle = [this](const ApiCall &call) { this->create(call); };

    ApiRoute head;
    head.method = "HEAD";
    head.path = "/api/v1/tus/{id}";
    head.prepare = [](const ApiCall &call) {
        if (auto refused = checkVersion(call.request()))
            return Http::HeaderDecision::refuse(std::move(*refused));
        return Http::HeaderDecision::accept();
    };
    head.handle = [this](const ApiCall &call) { this->head(call); };
    head.offload = true; // a store read: not on the network thread (PostgreSQL)

    ApiRoute append;
    append.method = "PATCH";
    append.path = "/api/v1/tus/{id}";
    append.offload = true;
    append.prepare = [this](const ApiCall &call) { return prepareAppend(call); };
    append.handle = [this](const ApiCall &call) { this->append(call); };

    ApiRoute terminate;
    terminate.method = "DELETE";
    terminate.path = "/api/v1/tus/{id}";
    terminate.offload = true;
    terminate.prepare = head.prepare;
    terminate.handle = [this](const ApiCall &call) { this->terminate(call); };
    return {options, create, head, append, terminate};
}

// OPTIONS /api/v1/tus (no auth)
//   204 with Tus-Resumable, Tus-Version, Tus-Extension (creation,termination), Tus-Max-Size.
void TusRoutes::options(const ApiCall &call)
{
    Http::Response response;
    response.status = 204;
    response.setHeader("Tus-Resumable", TusVersion);
    response.setHeader("Tus-Version", TusVersion);
    response.setHeader("Tus-Extension", "creation,termination");
    response.setHeader("Tus-Max-Size", QByteArray::number(m_uploads.options().maxSize));
    call.respond(std::move(response));
}

Http::HeaderDecision TusRoutes::prepareCreate(const ApiCall &call)
{
    const Http::Request &request = call.request();
    if (auto refused = checkVersion(request))
        return Http::HeaderDecision::refuse(std::move(*refused));
    const qint64 length = decimalHeader(request, "upload-length");
    if (length < 0) {
        return Http::HeaderDecision::refuse(tusError(
            400, "Bad request",
            QStringLiteral("Send the upload's size in bytes as Upload-Length (deferred lengths "
                           "are not supported)."),
            "upload_length_missing"));
    }
    if (length > m_uploads.options().maxSize) {
        Http::Response response =
            tusError(413, "Upload too large",
                     QStringLiteral("Upload-Length %1 is over this server's Tus-Max-Size %2. Split "
                                    "the file or ask an operator.")
                         .arg(length)
                         .arg(m_uploads.options().maxSize),
                     "upload_too_large");
        response.setHeader("Tus-Max-Size", QByteArray::number(m_uploads.options().maxSize));
        return Http::HeaderDecision::refuse(std::move(response));
    }
    if (request.hasBody()) {
        return Http::HeaderDecision::refuse(
            tusError(400, "Bad request",
                     QStringLiteral("POST creates an empty upload (creation-with-upload is not "
                                    "supported). Send the data with PATCH to the Location."),
                     "body_not_expected"));
    }
    return Http::HeaderDecision::accept();
}

// POST /api/v1/tus (auth) with Tus-Resumable, Upload-Length, Upload-Metadata (base64 values:
// dataset required; format, key, mapping, header, delimiter, quote, and filename, filetype,
// name, type, relativePath optional; any other key is a 400)
//   201 with Location: /api/v1/tus/<id> and {"success": true, "upload": {...}};
//   400 metadata missing or invalid; 412 Tus-Resumable; 413 over Tus-Max-Size (which is
//   --max-upload-mb); 429 quota_exceeded with Retry-After; 507 free disk below
//   --min-free-disk-mb.
void TusRoutes::create(const ApiCall &call)
{
    const Http::Request &request = call.request();
    const qint64 length = decimalHeader(request, "upload-length");
    auto metadata = TusUploads::parseMetadata(request.header("upload-metadata"));
    if (!metadata)
        return call.respond(tusFromError(metadata.error()));
    if (auto refused = checkMetadata(*metadata))
        return call.respond(std::move(*refused));
    auto created = m_uploads.create(call.user().id, length, *metadata);
    if (!created)
        return call.respond(tusFromError(created.error()));
    if (created->tooLarge) {
        Http::Response response =
            tusError(413, "Upload too large", *created->tooLarge, "upload_too_large");
        response.setHeader("Tus-Max-Size", QByteArray::number(m_uploads.options().maxSize));
        return call.respond(std::move(response));
    }
    if (created->refused) {
        Http::Response response =
            Api::quotaExceeded(*created->refused, QDateTime::currentMSecsSinceEpoch());
        addTusHeaders(response);
        return call.respond(std::move(response));
    }
    const TusUploadRecord &upload = *created->upload;
    const QString location = QStringLiteral("/api/v1/tus/") + upload.id;
    Http::Response response = Api::json(
        201,
        {{QStringLiteral("success"), true},
         {QStringLiteral("upload"), QJsonObject{{QStringLiteral("id"), upload.id},
                                                {QStringLiteral("location"), location},
                                                {QStringLiteral("length"), upload.length},
                                                {QStringLiteral("offset"), 0},
                                                {QStringLiteral("metadata"), upload.metadata}}}});
    addTusHeaders(response);
    response.setHeader("Location", location.toLatin1());
    response.setHeader("Upload-Offset", "0");
    call.respond(std::move(response));
}

// HEAD /api/v1/tus/{id} (auth) with Tus-Resumable
//   200 with Upload-Offset, Upload-Length, Cache-Control: no-store, and once complete
//   Ferry-Job-Id and Ferry-Session-Id; 404 not the caller's upload; 412 Tus-Resumable.
void TusRoutes::head(const ApiCall &call)
{
    auto found = m_uploads.find(QString::fromLatin1(call.param(0)), call.user().id);
    if (!found)
        return call.respond(tusFromError(found.error()));
    if (!found->has_value()) {
        return call.respond(tusError(
            404, "Not found", QStringLiteral("You have no upload %1.").arg(idText(call.param(0))),
            "not_found"));
    }
    Http::Response response;
    response.status = 200;
    addTusHeaders(response);
    addUploadHeaders(response, **found);
    call.respond(std::move(response));
}

Http::HeaderDecision TusRoutes::prepareAppend(const ApiCall &call)
{
    const Http::Request &request = call.request();
    if (auto refused = checkVersion(request))
        return Http::HeaderDecision::refuse(std::move(*refused));
    const QByteArray type = request.header("content-type").split(';').first().trimmed().toLower();
    if (type != "application/offset+octet-stream") {
        return Http::HeaderDecision::refuse(
            tusError(415, "Unsupported media type",
                     QStringLiteral("Send the data with 'Content-Type: "
                                    "application/offset+octet-stream'."),
                     "unsupported_media_type"));
    }
    const qint64 offset = decimalHeader(request, "upload-offset");
    if (offset < 0) {
        return Http::HeaderDecision::refuse(
            tusError(400, "Bad request",
                     QStringLiteral(
                         "Send the offset the data starts at as Upload-Offset (ask HEAD for it)."),
                     "upload_offset_missing"));
    }
    const QByteArray id = call.param(0);
    if (!TusUploads::isUploadId(id)) {
        return Http::HeaderDecision::refuse(
            tusError(404, "Not found", QStringLiteral("You have no upload %1.").arg(idText(id)),
                     "not_found"));
    }
    // The body is bounded by Tus-Max-Size here and by the upload's length as it is written.
    return Http::HeaderDecision::streamInto(
        std::make_unique<TusBody>(
            m_uploads, m_uploads.beginAppendLater(QString::fromLatin1(id), call.user().id, offset),
            request.hasBody() ? request.contentLength : 0),
        m_uploads.options().maxSize);
}

// PATCH /api/v1/tus/{id} (auth) with Tus-Resumable, Upload-Offset (the current offset),
// Content-Type: application/offset+octet-stream; the body is appended as it arrives, and kept
// when the connection drops.
//   204 with the new Upload-Offset; the PATCH that completes the upload also carries Ferry-Job-Id
//   and Ferry-Session-Id (the migrate job is queued). 400 content not importable (the upload is
//   removed); 404 not the caller's; 409 wrong offset or another PATCH in progress; 412
//   Tus-Resumable; 413 body past Upload-Length; 415 content type; 507 free disk below
//   --min-free-disk-mb (checked before the body and every 8 MiB of it).
void TusRoutes::append(const ApiCall &call)
{
    auto *body = dynamic_cast<TusBody *>(call.body());
    if (!body) {
        return call.respond(tusError(500, "Internal error",
                                     QStringLiteral("The body was not streamed. Try again."),
                                     "internal_error"));
    }
    auto upload = body->commit();
    if (!upload)
        return call.respond(body->refusal().value_or(tusFromError(upload.error())));
    Http::Response response;
    response.status = 204;
    addTusHeaders(response);
    addUploadHeaders(response, *upload);
    call.respond(std::move(response));
}

// DELETE /api/v1/tus/{id} (auth) with Tus-Resumable
//   204: the upload and its partial data are gone (a completed upload's job stays);
//   404 not the caller's; 409 a PATCH is in progress; 412 Tus-Resumable.
void TusRoutes::terminate(const ApiCall &call)
{
    auto terminated = m_uploads.terminate(QString::fromLatin1(call.param(0)), call.user().id);
    if (!terminated)
        return call.respond(tusFromError(terminated.error()));
    Http::Response response;
    response.status = 204;
    addTusHeaders(response);
    call.respond(std::move(response));
}

} // namespace Ferry
