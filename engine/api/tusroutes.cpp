#include "api/tusroutes.h"

#include <QDateTime>
#include <QJsonObject>

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

// One PATCH body streaming into the upload's .part file on the network thread. A body that breaks
// off keeps what arrived: the client resumes from there.
class TusBody final : public Http::BodyConsumer
{
public:
    explicit TusBody(std::unique_ptr<TusAppend> append) : m_append(std::move(append)) {}
    bool write(QByteArrayView data) override { return m_append->write(data); }
    bool finish() override { return true; } // durability and the record happen in handle()
    void abort() override { m_append->keep(); }
    TusAppend &append() { return *m_append; }

private:
    std::unique_ptr<TusAppend> m_append;
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
// dataset required; format, key, filename, filetype, mapping, header, delimiter optional)
//   201 with Location: /api/v1/tus/<id> and {"success": true, "upload": {...}};
//   400 metadata missing or invalid; 412 Tus-Resumable; 413 over Tus-Max-Size;
//   429 quota_exceeded with Retry-After.
void TusRoutes::create(const ApiCall &call)
{
    const Http::Request &request = call.request();
    const qint64 length = decimalHeader(request, "upload-length");
    auto metadata = TusUploads::parseMetadata(request.header("upload-metadata"));
    if (!metadata)
        return call.respond(tusFromError(metadata.error()));
    auto created = m_uploads.create(call.user().id, length, *metadata);
    if (!created)
        return call.respond(tusFromError(created.error()));
    if (created->refused) {
        const QuotaDecision &refused = *created->refused;
        Http::Response response =
            tusError(429, "Quota exceeded",
                     (refused.message.isEmpty() ? QStringLiteral("Upload quota exceeded.")
                                                : refused.message) +
                         QStringLiteral(" It resets at %1.")
                             .arg(QDateTime::fromMSecsSinceEpoch(refused.resetsAtMs, Qt::UTC)
                                      .toString(Qt::ISODate)),
                     "quota_exceeded");
        const qint64 seconds = std::max<qint64>(
            1, (refused.resetsAtMs - QDateTime::currentMSecsSinceEpoch() + 999) / 1000);
        response.setHeader("Retry-After", QByteArray::number(seconds));
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
    auto append = m_uploads.beginAppend(QString::fromLatin1(call.param(0)), call.user().id, offset);
    if (!append) {
        if (append.error().code == ErrorCode::NotFound) {
            return Http::HeaderDecision::refuse(
                tusError(404, "Not found", append.error().toString(), "not_found"));
        }
        return Http::HeaderDecision::refuse(tusFromError(append.error()));
    }
    const qint64 remaining = (*append)->remaining();
    return Http::HeaderDecision::streamInto(std::make_unique<TusBody>(std::move(*append)),
                                            remaining);
}

// PATCH /api/v1/tus/{id} (auth) with Tus-Resumable, Upload-Offset (the current offset),
// Content-Type: application/offset+octet-stream; the body is appended as it arrives, and kept
// when the connection drops.
//   204 with the new Upload-Offset; the PATCH that completes the upload also carries Ferry-Job-Id
//   and Ferry-Session-Id (the migrate job is queued). 400 content not importable (the upload is
//   removed); 404 not the caller's; 409 wrong offset or another PATCH in progress; 412
//   Tus-Resumable; 413 body past Upload-Length; 415 content type.
void TusRoutes::append(const ApiCall &call)
{
    auto *body = dynamic_cast<TusBody *>(call.body());
    if (!body) {
        return call.respond(tusError(500, "Internal error",
                                     QStringLiteral("The body was not streamed. Try again."),
                                     "internal_error"));
    }
    auto upload = body->append().commit();
    if (!upload)
        return call.respond(tusFromError(upload.error()));
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
