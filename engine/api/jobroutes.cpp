#include "api/jobroutes.h"

#include "core/jsontext.h"

#include <QJsonDocument>

#include <string>

namespace Ferry {

namespace {

// {"success": true, "job": {...}} written directly: this is the API's hottest answer.
QByteArray jobBody(const Job &job)
{
    std::string out;
    out.reserve(384);
    bool first = true;
    auto key = [&](const char *name) {
        if (!first)
            out.push_back(',');
        first = false;
        out.push_back('"');
        out.append(name);
        out.append("\":");
    };
    auto text = [&](const char *name, const QString &value, bool nullIfEmpty) {
        key(name);
        if (nullIfEmpty && value.isEmpty())
            out.append("null");
        else
            appendJsonString(out, value.toStdString());
    };
    auto number = [&](const char *name, qint64 value, bool nullIfZero) {
        key(name);
        if (nullIfZero && value <= 0)
            out.append("null");
        else
            out.append(std::to_string(value));
    };
    auto object = [&](const char *name, const QJsonObject &value, bool nullIfEmpty) {
        key(name);
        if (nullIfEmpty && value.isEmpty())
            out.append("null");
        else
            out.append(QJsonDocument(value).toJson(QJsonDocument::Compact).toStdString());
    };
    out.append("{\"success\":true,\"job\":{");
    text("id", QString::number(job.id), false);
    text("type", job.type, false);
    text("status", jobStatusName(job.status), false);
    number("priority", job.priority, false);
    number("attempts", job.attempts, false);
    number("maxAttempts", job.maxAttempts, false);
    text("sessionId", job.sessionId, true);
    object("progress", job.progress, false);
    text("error", job.error, true);
    object("result", job.result, true);
    number("createdAt", job.createdAt, true);
    number("startedAt", job.startedAt, true);
    number("finishedAt", job.finishedAt, true);
    out.append("}}");
    return QByteArray(out.data(), qsizetype(out.size()));
}

Http::Response notFound(const QByteArray &id)
{
    return Api::error(404, "Not found",
                      QStringLiteral("You have no job %1.").arg(QString::fromUtf8(id.left(40))),
                      "not_found");
}

} // namespace

JobRoutes::JobRoutes(Store &store, JobQueue &queue) : m_store(store), m_queue(queue) {}

QList<ApiRoute> JobRoutes::routes()
{
    ApiRoute get;
    get.method = "GET";
    get.path = "/api/v1/jobs/{id}";
    get.handle = [this](const ApiCall &call) { getJob(call); };
    return {get};
}

// GET /api/v1/jobs/{id} (auth)
//   200 {"success": true, "job": {...}}; 404 when it is not the caller's job (or does not exist).
void JobRoutes::getJob(const ApiCall &call)
{
    bool ok = false;
    const qint64 id = call.param(0).toLongLong(&ok);
    if (!ok || id <= 0)
        return call.respond(notFound(call.param(0)));
    auto job = m_store.job(id, call.user().id);
    if (!job)
        return call.respond(Api::fromError(job.error()));
    if (!job->has_value())
        return call.respond(notFound(call.param(0)));
    call.respond(Api::jsonText(200, jobBody(**job)));
}

} // namespace Ferry
