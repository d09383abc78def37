#include "migrationroutes.h"

#include "api/migrationoptions.h"
#include "core/jsontext.h"
#include "quota/tierpolicy.h"

#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonDocument>

namespace Ferry {

namespace {

constexpr qint64 MaxOptionsBytes = 256 * 1024; // a mapping of many fields, not a file
constexpr int DefaultDryRunRows = 20;

const QList<QByteArray> s_rawTypes{"text/csv", "text/tab-separated-values", "application/x-ndjson",
                                   "application/json"};

QByteArray mediaTypeOf(const QByteArray &contentType)
{
    const qsizetype semicolon = contentType.indexOf(';');
    return (semicolon < 0 ? contentType : contentType.left(semicolon)).trimmed().toLower();
}

Http::Response noSession(const QByteArray &id)
{
    return Api::error(
        404, "Not found",
        QStringLiteral("You have no upload session %1.").arg(QString::fromUtf8(id.left(64))),
        "not_found");
}

Http::Response inProgress(qint64 jobId)
{
    Http::Response response = Api::error(
        409, "Conflict",
        QStringLiteral("Job %1 is importing this upload now. Wait for it to finish (GET "
                       "/api/v1/jobs/%1?wait=60) or cancel it (POST /api/v1/jobs/%1/cancel), "
                       "then run it again.")
            .arg(jobId),
        "migration_in_progress");
    QJsonObject body = QJsonDocument::fromJson(response.body).object();
    body.insert(QStringLiteral("jobId"), QString::number(jobId));
    response.body = QJsonDocument(body).toJson(QJsonDocument::Compact);
    return response;
}

// A JSON body of options, refused before it is read when it is announced too large.
Http::HeaderDecision optionsBody(const ApiCall &call)
{
    const Http::Request &request = call.request();
    const QByteArray type = mediaTypeOf(request.header("content-type"));
    if (request.hasBody() && type != "application/json") {
        return Http::HeaderDecision::refuse(Api::error(
            415, "Unsupported media type",
            QStringLiteral("Send the options as a JSON object with Content-Type: "
                           "application/json (or no body to keep the upload's last options)."),
            "unsupported_media_type"));
    }
    if (request.contentLength > MaxOptionsBytes) {
        return Http::HeaderDecision::refuse(
            Api::error(413, "Request body too large",
                       QStringLiteral("The options may be at most %1 bytes.").arg(MaxOptionsBytes),
                       "body_too_large"));
    }
    Http::HeaderDecision decision;
    decision.maxBodyBytes = MaxOptionsBytes;
    return decision;
}

// Up to 4 KiB of the content from its start (decompressed), to tell its format.
QJsonValue recordValue(const std::string &record)
{
    // A record may be any JSON value (documents imported as they are): read it as an element.
    const QByteArray wrapped = '[' + QByteArray::fromStdString(record) + ']';
    return QJsonDocument::fromJson(wrapped).array().at(0);
}

QJsonValue orNull(const QString &text)
{
    return text.isEmpty() ? QJsonValue(QJsonValue::Null) : QJsonValue(text);
}

ApiRoute route(const char *path, auto handle, auto prepare)
{
    ApiRoute r;
    r.method = "POST";
    r.path = path;
    r.offload = true; // reads the store and files
    r.handle = std::move(handle);
    r.prepare = std::move(prepare);
    return r;
}

} // namespace

MigrationRoutes::MigrationRoutes(UploadReruns &reruns, MigrationRouteOptions options)
    : m_reruns(reruns), m_options(options)
{
    m_dryRunPool.setObjectName(QStringLiteral("ferry-dry-run"));
    m_dryRunPool.setMaxThreadCount(qMax(1, options.dryRunThreads));
    m_dryRunPool.setExpiryTimeout(30'000);
}

MigrationRoutes::~MigrationRoutes()
{
    m_dryRunPool.waitForDone();
}

void MigrationRoutes::onDryRunPool(const ApiCall &call, std::function<void()> work)
{
    const qint64 user = call.user().id;
    {
        QMutexLocker lock(&m_dryRunMutex);
        const bool userFull = m_dryRunsPerUser.value(user) >= m_options.maxDryRunsPerUser;
        if (userFull || m_dryRuns >= m_options.maxDryRuns) {
            lock.unlock();
            Http::Response response =
                userFull ? Api::error(429, "Too many requests",
                                      QStringLiteral("You have %1 dry runs in progress, the most "
                                                     "one user may. Wait for one to answer, then "
                                                     "send the next.")
                                          .arg(m_options.maxDryRunsPerUser),
                                      "too_many_dry_runs")
                         : Api::error(503, "Unavailable",
                                      QStringLiteral("The server has %1 dry runs in progress, the "
                                                     "most it runs at once. Try again shortly.")
                                          .arg(m_options.maxDryRuns),
                                      "too_many_dry_runs");
            response.setHeader("Retry-After", userFull ? "2" : "5");
            return call.respond(std::move(response));
        }
        ++m_dryRunsPerUser[user];
        ++m_dryRuns;
    }
    m_dryRunPool.start([this, user, work = std::move(work)] {
        work();
        QMutexLocker lock(&m_dryRunMutex);
        if (--m_dryRunsPerUser[user] <= 0)
            m_dryRunsPerUser.remove(user);
        --m_dryRuns;
    });
}

QList<ApiRoute> MigrationRoutes::routes()
{
    ApiRoute body = route(
        "/api/v1/dry-run", [this](const ApiCall &call) { dryRunBody(call); },
        [this](const ApiCall &call) {
            const Http::Request &request = call.request();
            if (!s_rawTypes.contains(mediaTypeOf(request.header("content-type")))) {
                return Http::HeaderDecision::refuse(Api::error(
                    415, "Unsupported media type",
                    QStringLiteral("Send the first rows of the file as text/csv, "
                                   "text/tab-separated-values, application/x-ndjson or "
                                   "application/json (gzip allowed), with the options in the "
                                   "query."),
                    "unsupported_media_type"));
            }
            if (request.contentLength > m_options.maxDryRunBodyBytes) {
                return Http::HeaderDecision::refuse(Api::error(
                    413, "Request body too large",
                    QStringLiteral("A dry run takes at most %1 bytes of the file. Send its first "
                                   "rows only, or upload it and dry-run the upload (POST "
                                   "/api/v1/sessions/{id}/dry-run).")
                        .arg(m_options.maxDryRunBodyBytes),
                    "body_too_large"));
            }
            Http::HeaderDecision decision;
            decision.maxBodyBytes = m_options.maxDryRunBodyBytes;
            return decision;
        });
    body.queryParameters = MigrationOptions::names({QStringLiteral("rows")});
    return {
        route(
            "/api/v1/sessions/{id}/migrations", [this](const ApiCall &call) { rerun(call); },
            optionsBody),
        route(
            "/api/v1/sessions/{id}/dry-run", [this](const ApiCall &call) { dryRunStored(call); },
            optionsBody),
        body,
    };
}

std::optional<StoredUpload> MigrationRoutes::callersUpload(const ApiCall &call)
{
    const QByteArray id = call.param(0);
    if (id.isEmpty() || id.size() > 64) {
        call.respond(noSession(id));
        return std::nullopt;
    }
    auto upload = m_reruns.find(QString::fromUtf8(id), call.user().id);
    if (!upload) {
        call.respond(Api::fromError(upload.error()));
        return std::nullopt;
    }
    if (!upload->has_value())
        call.respond(noSession(id));
    return std::move(*upload);
}

std::function<bool()> MigrationRoutes::deadline(const ApiCall &call) const
{
    auto timer = std::make_shared<QElapsedTimer>();
    timer->start();
    return [call, timer, timeoutMs = m_options.dryRunTimeoutMs] {
        return call.clientGone() || timer->hasExpired(timeoutMs);
    };
}

// POST /api/v1/sessions/{id}/migrations (auth)
//   Body (optional, application/json): options overriding the upload's last migration's
//   (dataset, format, key, mapping, header, delimiter, quote, priority; "mapping": null and
//   "key": null drop them). A new migrate job reads the stored upload again; the upload is not
//   charged to the quota again.
//   202 {"success","sessionId","jobId","status":"pending","priority","rerunOf"}; 400 bad option;
//   404 no such session of the caller's; 409 migration_in_progress while a job imports it.
void MigrationRoutes::rerun(const ApiCall &call)
{
    auto parsed = MigrationOptions::parse(call.request().body, {QStringLiteral("priority")});
    if (auto *bad = std::get_if<Http::Response>(&parsed))
        return call.respond(std::move(*bad));
    const MigrationOptions &options = std::get<MigrationOptions>(parsed);
    const std::optional<StoredUpload> upload = callersUpload(call);
    if (!upload)
        return;
    QJsonObject payload = options.applyTo(upload->lastPayload, upload->session.blobId);
    if (payload.value(u"dataset").toString().isEmpty()) {
        return call.respond(
            Api::error(400, "Bad request",
                       QStringLiteral("Name the dataset to import into: {\"dataset\": \"NAME\"}."),
                       "missing_dataset"));
    }
    const int priority =
        uploadPriority(call.user().tier, upload->session.sizeBytes, options.priority());
    auto queued = m_reruns.rerun(*upload, payload, priority);
    if (!queued)
        return call.respond(Api::fromError(queued.error()));
    if (queued->inProgress)
        return call.respond(inProgress(queued->jobId));

    std::string out = "{\"success\":true,\"sessionId\":";
    appendJsonString(out, upload->session.id.toStdString());
    out += ",\"jobId\":\"" + std::to_string(queued->jobId) +
           "\",\"status\":\"pending\",\"priority\":" + std::to_string(priority) + ",\"rerunOf\":";
    out += upload->lastJob ? '"' + std::to_string(upload->lastJob->id) + '"' : std::string("null");
    out += '}';
    Http::Response response = Api::jsonText(202, QByteArray(out.data(), qsizetype(out.size())));
    response.setHeader("Location", "/api/v1/jobs/" + QByteArray::number(queued->jobId));
    call.respond(std::move(response));
}

// POST /api/v1/sessions/{id}/dry-run (auth)
//   Body (optional, application/json): the options of POST .../migrations but priority, and
//   "rows" (1-1000, default 20). Nothing is written and nothing is charged.
//   200 the dry run (see answerDryRun); 400 bad option; 404 no such session of the caller's;
//   429 / 503 too_many_dry_runs (Retry-After) past the caller's or the server's dry runs at once.
void MigrationRoutes::dryRunStored(const ApiCall &call)
{
    auto parsed = MigrationOptions::parse(call.request().body, {QStringLiteral("rows")});
    if (auto *bad = std::get_if<Http::Response>(&parsed))
        return call.respond(std::move(*bad));
    const MigrationOptions &options = std::get<MigrationOptions>(parsed);
    std::optional<StoredUpload> upload = callersUpload(call);
    if (!upload)
        return;
    QJsonObject payload = options.applyTo(upload->lastPayload, upload->session.blobId);
    const int rows = int(options.rows().value_or(DefaultDryRunRows));
    onDryRunPool(call, [this, call, upload = std::move(*upload), payload, rows] {
        answerDryRun(call, m_reruns.dryRun(upload, payload, rows, deadline(call)));
    });
}

// POST /api/v1/dry-run?dataset=&format=&key=&mapping=&header=&delimiter=&quote=&rows= (auth)
//   Body: the first rows of a file (at most maxDryRunBodyBytes), as for POST /api/v1/uploads.
//   The dataset is optional: named, its key is the one a real import would use.
//   200 the dry run; 400 bad parameter or empty body; 413 body too large; 415 media type;
//   429 / 503 too_many_dry_runs as above.
void MigrationRoutes::dryRunBody(const ApiCall &call)
{
    auto parsed = MigrationOptions::fromQuery(
        [&call](const QString &name) { return call.query(name); }, {QStringLiteral("rows")});
    if (auto *bad = std::get_if<Http::Response>(&parsed))
        return call.respond(std::move(*bad));
    const MigrationOptions &options = std::get<MigrationOptions>(parsed);
    const QByteArray &body = call.request().body;
    if (body.isEmpty()) {
        return call.respond(Api::error(400, "Bad request",
                                       QStringLiteral("Send the first rows of the file as the "
                                                      "body (curl --data-binary @people.csv)."),
                                       "empty_body"));
    }
    QJsonObject payload = options.applyTo({}, {});
    payload.remove(QStringLiteral("blob"));
    const int rows = int(options.rows().value_or(DefaultDryRunRows));
    onDryRunPool(call, [this, call, payload, rows] {
        const Http::Request &request = call.request();
        answerDryRun(call, m_reruns.dryRunBytes(call.user().id, request.body,
                                                QString::fromLatin1(request.header("content-type")),
                                                payload, rows, deadline(call)));
    });
}

//   200 {"success": true, "ok": <no problem and no rejected row>, "format", "dataset" (null when
//   none), "key" (the upsert key an import would use, null for none), "columns",
//   "rows": [{"line", "record": {...}} | {"line", "errors": [{"line", "field" (null: the whole
//   row), "reason"}]}], "rowsChecked", "rowsValid", "rowsRejected", "moreRows", "problem" (null, or
//   why the file cannot be imported: empty, unreadable, a mapping naming columns it lacks, a
//   key other than the dataset's)}
void MigrationRoutes::answerDryRun(const ApiCall &call, const Result<DryRunResult> &result)
{
    if (call.clientGone())
        return; // nobody reads the answer
    if (!result)
        return call.respond(Api::fromError(result.error()));
    const MigrationPreview &preview = result->preview;
    const QString problem =
        result->stoppedEarly
            ? QStringLiteral("The dry run stopped after %1 ms, having read the rows shown. Ask for "
                             "fewer rows.")
                  .arg(m_options.dryRunTimeoutMs)
            : result->problem;
    QJsonArray list;
    for (const PreviewRow &row : preview.rows) {
        QJsonObject item{{QStringLiteral("line"), row.line}};
        if (row.errors.isEmpty()) {
            item.insert(QStringLiteral("record"), recordValue(row.record));
        } else {
            QJsonArray errors;
            for (const RowError &e : row.errors)
                errors.append(QJsonObject{{QStringLiteral("line"), e.line},
                                          {QStringLiteral("field"), orNull(e.field)},
                                          {QStringLiteral("reason"), e.reason}});
            item.insert(QStringLiteral("errors"), errors);
        }
        list.append(item);
    }
    call.respond(
        Api::json(200, {{QStringLiteral("success"), true},
                        {QStringLiteral("ok"), problem.isEmpty() && preview.rowsRejected == 0},
                        {QStringLiteral("format"), formatName(result->payload.format)},
                        {QStringLiteral("dataset"), orNull(result->payload.dataset)},
                        {QStringLiteral("key"), orNull(result->key)},
                        {QStringLiteral("columns"), preview.columns},
                        {QStringLiteral("rows"), list},
                        {QStringLiteral("rowsChecked"), qint64(preview.rows.size())},
                        {QStringLiteral("rowsValid"), preview.rowsValid},
                        {QStringLiteral("rowsRejected"), preview.rowsRejected},
                        {QStringLiteral("moreRows"), preview.moreRows},
                        {QStringLiteral("problem"), orNull(problem)}}));
}

} // namespace Ferry
