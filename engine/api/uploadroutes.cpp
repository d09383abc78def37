#include "uploadroutes.h"

#include "api/multipartreader.h"
#include "api/quotarefusal.h"
#include "api/uploadbody.h"
#include "api/uploadparams.h"
#include "core/jsontext.h"
#include "migrate/jsonreader.h"
#include "migrate/migrationrequest.h"
#include "quota/tierpolicy.h"

#include <QLoggingCategory>

namespace Ferry {

Q_LOGGING_CATEGORY(lcUploads, "ferry.api.uploads")

namespace {

const QList<QByteArray> s_rawTypes{"text/csv", "text/tab-separated-values", "application/x-ndjson",
                                   "application/json"};
const QByteArray s_acceptedTypes = "text/csv, text/tab-separated-values, application/x-ndjson, "
                                   "application/json, multipart/form-data";

// What prepare() learned from the headers, for upload().
struct UploadCall
{
    UploadParams params;
    QByteArray mediaType; // lowercased, without parameters
    QString contentType;  // the header as sent
    QByteArray encoding;  // "gzip" or empty
    QString rawFileName;  // a raw body's Content-Disposition filename; empty when none
    QString key;          // Idempotency-Key; empty when none
    // The key's finished first request: this one is a replay (same request) or a misuse.
    std::optional<IdempotencyKey> earlier;
};

// The name a client gave its file, as the jobs and the console show it: without any directory
// part (some clients send a whole path), at most 255 characters. It is never used as a path.
QString shownFileName(const QString &given)
{
    const qsizetype slash = std::max(given.lastIndexOf(u'/'), given.lastIndexOf(u'\\'));
    return given.mid(slash + 1).left(255);
}

QByteArray mediaTypeOf(const QByteArray &contentType)
{
    const qsizetype semicolon = contentType.indexOf(';');
    return (semicolon < 0 ? contentType : contentType.left(semicolon)).trimmed().toLower();
}

QByteArray acceptedBody(const QString &sessionId, qint64 jobId, int priority)
{
    std::string out = "{\"success\":true,\"sessionId\":";
    appendJsonString(out, sessionId.toStdString());
    out += ",\"jobId\":\"" + std::to_string(jobId) +
           "\",\"status\":\"pending\",\"priority\":" + std::to_string(priority) + '}';
    return QByteArray(out.data(), qsizetype(out.size()));
}

Http::Response accepted(const QByteArray &body, qint64 jobId, bool replayed)
{
    Http::Response response = Api::jsonText(202, body);
    response.setHeader("Location", "/api/v1/jobs/" + QByteArray::number(jobId));
    if (replayed)
        response.setHeader("Idempotent-Replayed", "true");
    return response;
}

Http::Response keyInProgress()
{
    return Api::error(409, "Conflict",
                      QStringLiteral("A request with this Idempotency-Key is in progress. Retry "
                                     "once it has finished to get its answer."),
                      "idempotency_key_in_progress");
}

// The answer to a request whose key is held by another request.
Http::Response answerFor(const IdempotencyKey &holder, const QByteArray &requestHash)
{
    if (holder.inProgress())
        return keyInProgress();
    if (holder.requestHash != requestHash) {
        return Api::error(422, "Idempotency key reused",
                          QStringLiteral("This Idempotency-Key was used with a different request "
                                         "in the last 24 hours. Use a new key for a new upload."),
                          "idempotency_key_reused");
    }
    return accepted(holder.response, holder.jobId, true);
}

Http::Response unsupportedType(const QByteArray &mediaType)
{
    Http::Response response = Api::error(
        415, "Unsupported media type",
        QStringLiteral("Cannot take a body of type '%1'. Send the file as text/csv, "
                       "text/tab-separated-values, application/x-ndjson or application/json "
                       "(optionally with Content-Encoding: gzip), or as multipart/form-data with "
                       "the file in the field 'file'.")
            .arg(mediaType.isEmpty() ? QStringLiteral("(none)")
                                     : QString::fromLatin1(mediaType.left(100))),
        "unsupported_media_type");
    response.setHeader("Accept-Post", s_acceptedTypes);
    return response;
}

Http::Response unsupportedEncoding(const QByteArray &encoding, bool form)
{
    Http::Response response = Api::error(
        415, "Unsupported media type",
        form ? QStringLiteral("A multipart/form-data body cannot be sent with a Content-Encoding; "
                              "compress the file inside the form instead (people.csv.gz).")
             : QStringLiteral("Content-Encoding '%1' is not supported. Send gzip, or no "
                              "Content-Encoding.")
                   .arg(QString::fromLatin1(encoding.left(100))),
        "unsupported_media_type");
    response.setHeader("Accept-Encoding", "gzip");
    return response;
}

// A CSV or TSV body of more than a kilobyte without a single line break cannot be the table it
// claims: it is the mark of `curl -d @file`, which strips the line breaks. Refused with the fix.
std::optional<Http::Response> flattenedTable(const MigrationRequest &migration,
                                             const QByteArray &encoding,
                                             const UploadBody &body)
{
    constexpr qint64 MinBytes = 1024;
    if (body.contentHasLineBreak() || body.contentBytes() < MinBytes || !encoding.isEmpty() ||
        body.contentIsGzip())
        return std::nullopt; // compressed content: its bytes say nothing of its lines
    const DataFormat format =
        !migration.format.isEmpty()
            ? formatFromName(migration.format)
            : detectFormat(migration.contentType, migration.fileName, std::string_view());
    if (format != DataFormat::Csv && format != DataFormat::Tsv)
        return std::nullopt;
    return Api::error(400, "Bad request",
                      QStringLiteral("The body is %1 bytes of %2 without a single line break, "
                                     "so it cannot be a table of rows. curl -d removes line "
                                     "breaks: send the file with curl --data-binary @people.csv "
                                     "or -F file=@people.csv.")
                          .arg(body.contentBytes())
                          .arg(formatName(format).toUpper()),
                      "no_line_breaks");
}

} // namespace

UploadRoutes::UploadRoutes(JobQueue &queue,
                           BlobStore &blobs,
                           const Clock &clock,
                           UploadQuota *quota,
                           IdempotencyKeys &keys,
                           Options options)
    : m_queue(queue)
    , m_blobs(blobs)
    , m_clock(clock)
    , m_quota(quota)
    , m_options(options)
    , m_gate(blobs, quota, options.maxUploadBytes)
    , m_keys(keys)
{
    m_quotaWork.setObjectName(QStringLiteral("ferry-upload-quota"));
    m_quotaWork.setMaxThreadCount(4);
    m_quotaWork.setExpiryTimeout(30'000);
}

UploadRoutes::~UploadRoutes()
{
    m_quotaWork.waitForDone();
}

bool UploadRoutes::waitForQuotaWork(int msecs)
{
    return m_quotaWork.waitForDone(msecs);
}

QList<ApiRoute> UploadRoutes::routes()
{
    ApiRoute upload;
    upload.method = "POST";
    upload.path = "/api/v1/uploads";
    upload.queryParameters = UploadParams::names();
    upload.offload = true; // commits files and writes SQL
    upload.prepare = [this](const ApiCall &call) { return prepare(call); };
    upload.prepareOffload = true; // an Idempotency-Key is looked up in the store
    upload.handle = [this](const ApiCall &call) { this->upload(call); };
    return {upload};
}

// POST /api/v1/uploads (auth)
//   Body: the file (text/csv, text/tab-separated-values, application/x-ndjson, application/json;
//   optionally Content-Encoding: gzip), or multipart/form-data with the file in the field
//   `file`. Parameters in the query or as form fields: dataset (required), format, key,
//   mapping (JSON), priority (-100..100). Header Idempotency-Key: optional.
//   202 {"success":true,"sessionId","jobId","status":"pending"} with Location: /api/v1/jobs/<id>
//   400 bad parameter, form or empty file; 409 key in progress; 413 body over --max-upload-mb;
//   415 media type or encoding; 422 key reused with another request; 429 quota (Retry-After);
//   507 free disk below --min-free-disk-mb.
Http::HeaderDecision UploadRoutes::prepare(const ApiCall &call)
{
    using Http::HeaderDecision;
    const Http::Request &request = call.request();
    auto state = std::make_shared<UploadCall>();
    const QByteArray contentType = request.header("content-type");
    state->contentType = QString::fromLatin1(contentType);
    state->mediaType = mediaTypeOf(contentType);
    const bool form = state->mediaType == "multipart/form-data";
    if (!form && !s_rawTypes.contains(state->mediaType))
        return HeaderDecision::refuse(unsupportedType(state->mediaType));
    if (!form) {
        state->rawFileName =
            MultipartReader::dispositionFileName(request.header("content-disposition"))
                .value_or(QString());
    }
    state->encoding = request.header("content-encoding").trimmed().toLower();
    if (state->encoding == "identity")
        state->encoding.clear();
    if (!state->encoding.isEmpty() && (form || state->encoding != "gzip"))
        return HeaderDecision::refuse(unsupportedEncoding(state->encoding, form));

    UploadBody::Options body;
    body.gzipEncoded = state->encoding == "gzip";
    if (form) {
        body.boundary = MultipartReader::boundaryOf(contentType);
        if (body.boundary.isEmpty()) {
            return HeaderDecision::refuse(
                Api::error(400, "Bad request",
                           QStringLiteral("multipart/form-data needs a boundary parameter (1-70 "
                                          "characters) in its Content-Type."),
                           "invalid_form"));
        }
    }
    for (const QString &name : UploadParams::names()) {
        const QString value = call.query(name);
        if (value.isEmpty())
            continue; // absent or empty: not given
        if (auto bad = state->params.take(name, value, u"query parameter"))
            return HeaderDecision::refuse(std::move(*bad));
    }
    if (form) {
        body.checkField = [](const QString &name, const QString &value) {
            UploadParams scratch; // the fields are taken for good once the body is complete
            if (value.isEmpty() && UploadParams::names().contains(name))
                return std::optional<Http::Response>(); // empty: not given
            return scratch.take(name, value, u"form field");
        };
    } else { // a form may still name the dataset in its fields
        if (auto bad = state->params.checkComplete())
            return HeaderDecision::refuse(std::move(*bad));
    }
    if (auto tooLarge = m_gate.tooLarge(request.contentLength)) {
        return HeaderDecision::refuse(
            Api::error(413, "Request body too large", *tooLarge, "body_too_large"));
    }

    const qint64 userId = call.user().id;
    const QByteArray key = request.header("idempotency-key");
    if (!key.isNull()) {
        if (!IdempotencyKeys::isValidKey(key.trimmed())) {
            return HeaderDecision::refuse(
                Api::error(400, "Bad request",
                           QStringLiteral("Idempotency-Key must be 1 to 255 printable ASCII "
                                          "characters (e.g. a UUID)."),
                           "invalid_idempotency_key"));
        }
        state->key = QString::fromLatin1(key.trimmed());
        auto earlier = m_keys.find(userId, state->key);
        if (!earlier)
            return HeaderDecision::refuse(Api::fromError(earlier.error()));
        if (earlier->has_value()) {
            if ((*earlier)->inProgress())
                return HeaderDecision::refuse(keyInProgress());
            // A replay is not stored nor counted: its body is only hashed, to compare.
            state->earlier = std::move(**earlier);
            call.setRouteState(state);
            return HeaderDecision::streamInto(
                std::make_unique<UploadBody>(std::move(body), nullptr, QuotaHold()),
                m_options.maxUploadBytes);
        }
    }

    // The same size and disk checks as every way into the blob store (UploadGate); the quota is
    // reserved on the pool: a network thread never waits for the database. A quota refusal is
    // answered once the body is in (upload(): settle() returns it).
    auto admission = m_gate.checkLimits(std::max<qint64>(0, request.contentLength));
    if (!admission)
        return HeaderDecision::refuse(Api::fromError(admission.error())); // 507 disk floor
    if (admission->refused == UploadAdmission::Refusal::TooLarge) {
        return HeaderDecision::refuse(
            Api::error(413, "Request body too large", admission->message, "body_too_large"));
    }
    QuotaHold hold = QuotaHold::reserveInBackground(
        m_quota, userId, std::max<qint64>(0, request.contentLength), &m_quotaWork);
    auto writer = m_blobs.create(request.contentLength); // 507 below the free-disk floor
    if (!writer)
        return HeaderDecision::refuse(Api::fromError(writer.error())); // the hold releases
    call.setRouteState(state);
    return HeaderDecision::streamInto(
        std::make_unique<UploadBody>(std::move(body), std::move(*writer), std::move(hold)),
        m_options.maxUploadBytes);
}

void UploadRoutes::discardBlob(const BlobInfo &blob)
{
    // Content uploaded before (or by another session) stays for the sessions that refer to it,
    // and for an upload that committed it since (BlobStore::remove checks the lease).
    auto referenced = m_queue.store().blobReferenced(blob.id);
    if (referenced && !*referenced)
        (void)m_blobs.remove(blob.id, blob.lease);
}

// On the API worker pool: the body has arrived whole.
void UploadRoutes::upload(const ApiCall &call)
{
    const UploadCall *state = call.routeState<UploadCall>();
    const std::unique_ptr<Http::BodyConsumer> consumer = call.takeBody();
    auto *body = static_cast<UploadBody *>(consumer.get());
    if (!state || !body) {
        return call.respond(Api::error(500, "Internal error",
                                       QStringLiteral("The upload lost its body. Try again."),
                                       "internal_error"));
    }
    if (body->problem())
        return call.respond(*body->problem());
    UploadParams params = state->params;
    for (const auto &[name, value] : body->fields()) {
        if (value.isEmpty() && UploadParams::names().contains(name))
            continue; // empty: not given
        if (auto bad = params.take(name, value, u"form field"))
            return call.respond(std::move(*bad));
    }
    if (auto bad = params.checkComplete())
        return call.respond(std::move(*bad));
    if (body->contentBytes() == 0) {
        return call.respond(Api::error(400, "Bad request",
                                       QStringLiteral("The upload is empty. Send a CSV, TSV, "
                                                      "NDJSON or JSON file with data in it."),
                                       "empty_upload"));
    }

    const bool form = state->mediaType == "multipart/form-data";
    const qint64 userId = call.user().id;
    MigrationRequest migration = params.request(userId);
    migration.fileName = shownFileName(form ? body->fileName() : state->rawFileName);
    migration.contentType =
        form ? QString::fromLatin1(body->fileContentType()) : state->contentType;
    if (auto flattened = flattenedTable(migration, state->encoding, *body))
        return call.respond(std::move(*flattened)); // before it is stored or charged
    // What the request asks for, whatever order or spelling its parameters came in (a form's
    // boundary differs on every send, so the form is hashed by its fields and file content).
    const QStringList parts =
        params.canonical() + QStringList{QString::fromLatin1(state->mediaType),
                                         QString::fromLatin1(state->encoding), migration.fileName,
                                         migration.contentType};
    auto hashWith = [&](const QString &contentSha256) {
        return IdempotencyKeys::requestHash(call.request().method, call.request().path, parts,
                                            contentSha256);
    };

    if (state->earlier)
        return call.respond(answerFor(*state->earlier, hashWith(body->contentSha256())));

    // The key is claimed before the body is stored or charged: of two requests with one key
    // (they raced past prepare()) only the claim's winner stores; the other's temporary file
    // goes and its quota hold is released.
    const QString contentId = body->contentId();
    const QByteArray requestHash = hashWith(contentId);
    if (!state->key.isEmpty()) {
        auto holder = m_keys.claim(userId, state->key, requestHash, contentId);
        if (!holder)
            return call.respond(Api::fromError(holder.error()));
        if (holder->has_value())
            return call.respond(answerFor(**holder, requestHash)); // our quota hold releases
    }
    auto releaseKey = [&] {
        if (!state->key.isEmpty())
            m_keys.release(userId, state->key);
    };
    auto blob = body->commit();
    if (!blob) {
        releaseKey();
        return call.respond(Api::fromError(blob.error())); // 503 a failed fsync, 507 disk
    }
    auto settled = body->quota().settle(blob->size);
    if (!settled || !settled->granted) {
        releaseKey();
        discardBlob(*blob);
        return call.respond(settled ? Api::quotaExceeded(*settled, m_clock.nowMs())
                                    : Api::fromError(settled.error()));
    }
    // Tier and size decide the priority; a requested one is clamped to what the tier allows.
    migration.priority = uploadPriority(call.user().tier, blob->size, params.priority());
    auto submitted = submitStoredMigration(m_queue, m_blobs, m_clock, migration, *blob);
    if (!submitted) {
        releaseKey();
        body->quota().release();
        discardBlob(*blob);
        return call.respond(Api::fromError(submitted.error()));
    }
    body->quota().keep();
    const QByteArray answer =
        acceptedBody(submitted->sessionId, submitted->jobId, migration.priority);
    if (!state->key.isEmpty()) {
        if (auto completed =
                m_keys.complete(userId, state->key, submitted->sessionId, submitted->jobId, answer);
            !completed) {
            // The job is queued: answer it. IdempotencyKeys writes the answer once the store
            // takes it (retryPending); a retry meanwhile gets 409, never a second job.
            qCWarning(lcUploads) << "could not store the answer of an idempotent upload:"
                                 << completed.error().toString();
        }
    }
    call.respond(accepted(answer, submitted->jobId, false));
}

} // namespace Ferry
