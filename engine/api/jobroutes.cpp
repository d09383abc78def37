#include "api/jobroutes.h"

#include "api/jobjson.h"

#include <QJsonArray>

#include <limits>
#include <string>

namespace Ferry {

namespace {

Http::Response notFound(const QByteArray &id)
{
    return Api::error(404, "Not found",
                      QStringLiteral("You have no job %1.").arg(QString::fromUtf8(id.left(40))),
                      "not_found");
}

Http::Response badParameter(const QString &message)
{
    return Api::error(400, "Bad request", message, "invalid_parameter");
}

QString statusNames()
{
    QStringList names;
    for (int s = int(JobStatus::Pending); s <= int(JobStatus::Dead); ++s)
        names.append(jobStatusName(JobStatus(s)));
    return names.join(QStringLiteral(", "));
}

// A whole number in [min, max] (digits only: no sign, no spaces), or nullopt.
std::optional<qint64> boundedNumber(const QString &text, qint64 min, qint64 max)
{
    if (text.isEmpty() || text.size() > 18)
        return std::nullopt;
    for (QChar c : text) {
        if (!c.isDigit() || c.unicode() > 127)
            return std::nullopt;
    }
    const qint64 value = text.toLongLong();
    if (value < min || value > max)
        return std::nullopt;
    return value;
}

ApiRoute route(const char *method,
               const char *path,
               bool offload,
               auto handle,
               QStringList queryParameters = {})
{
    ApiRoute r;
    r.method = method;
    r.path = path;
    r.offload = offload;
    r.handle = std::move(handle);
    r.queryParameters = std::move(queryParameters);
    return r;
}

} // namespace

JobRoutes::JobRoutes(Store &store, JobQueue &queue)
    : m_store(store), m_queue(queue), m_watcher(std::make_unique<JobWatcher>(store))
{
    if (store.backendName() != QLatin1String("sqlite"))
        m_batchedReads = std::make_unique<BatchedJobReads>(store);
}

JobRoutes::~JobRoutes() = default;

QList<ApiRoute> JobRoutes::routes()
{
    // The GET of one job, the API's hot path, starts on the network thread. On SQLite it reads
    // there: one indexed read, and a WAL reader never waits for the writer. On PostgreSQL it is
    // a round trip, which a network thread never waits for: the read goes to BatchedJobReads,
    // whose thread answers it with the others gathered meanwhile. Its long-poll is parked on the
    // JobWatcher. The session's GET, lists, writes and reports run on the API's workers.
    const bool inlineReads = !m_batchedReads;
    return {
        route("GET", "/api/v1/jobs", true, [this](const ApiCall &call) { listJobs(call); },
              {QStringLiteral("limit"), QStringLiteral("after"), QStringLiteral("status"),
               QStringLiteral("dataset")}),
        route("GET", "/api/v1/jobs/{id}", false, [this](const ApiCall &call) { getJob(call); },
              {QStringLiteral("wait"), QStringLiteral("progress")}),
        route("POST", "/api/v1/jobs/{id}/cancel", true,
              [this](const ApiCall &call) { cancelJob(call); }),
        route("POST", "/api/v1/jobs/{id}/retry", true,
              [this](const ApiCall &call) { retryJob(call); }),
        route("GET", "/api/v1/jobs/{id}/report", true,
              [this](const ApiCall &call) { jobReport(call); }),
        route("GET", "/api/v1/sessions/{id}", !inlineReads,
              [this](const ApiCall &call) { getSession(call); }),
    };
}

std::optional<qint64> JobRoutes::pathJobId(const ApiCall &call)
{
    bool ok = false;
    const qint64 id = call.param(0).toLongLong(&ok);
    if (!ok || id <= 0) {
        call.respond(notFound(call.param(0)));
        return std::nullopt;
    }
    return id;
}

std::optional<Job> JobRoutes::callersJob(const ApiCall &call)
{
    const std::optional<qint64> id = pathJobId(call);
    if (!id)
        return std::nullopt;
    auto job = m_store.job(*id, call.user().id);
    if (!job) {
        call.respond(Api::fromError(job.error()));
        return std::nullopt;
    }
    if (!job->has_value()) {
        call.respond(notFound(call.param(0)));
        return std::nullopt;
    }
    return std::move(**job);
}

// GET /api/v1/jobs?status=S&dataset=D&limit=N&after=CURSOR (auth)
//   The caller's jobs, newest first. status: pending, running, completed, failed, cancelled,
//   dead; dataset: jobs whose payload names it; limit 1-500 (default 100); after: the "next"
//   cursor of the previous page.
//   200 {"success": true, "jobs": [{...}], "next": "<cursor>" | null}; 400 on a bad parameter.
void JobRoutes::listJobs(const ApiCall &call)
{
    JobFilter filter;
    filter.userId = call.user().id;
    filter.newestFirst = true;
    int limit = DefaultPageSize;
    if (call.hasQuery(QStringLiteral("limit"))) {
        const auto value = boundedNumber(call.query(QStringLiteral("limit")), 1, MaxPageSize);
        if (!value) {
            return call.respond(badParameter(
                QStringLiteral("limit must be a whole number from 1 to %1.").arg(MaxPageSize)));
        }
        limit = int(*value);
    }
    if (call.hasQuery(QStringLiteral("after"))) {
        const auto value = boundedNumber(call.query(QStringLiteral("after")), 1,
                                         std::numeric_limits<qint64>::max());
        if (!value) {
            return call.respond(badParameter(
                QStringLiteral("after must be the \"next\" cursor of the previous page, as "
                               "returned. Leave it out for the first page.")));
        }
        filter.beforeId = *value;
    }
    if (call.hasQuery(QStringLiteral("status"))) {
        const auto status = jobStatusFromName(call.query(QStringLiteral("status")));
        if (!status) {
            return call.respond(
                badParameter(QStringLiteral("status must be one of %1.").arg(statusNames())));
        }
        filter.status = *status;
    }
    if (call.hasQuery(QStringLiteral("dataset"))) {
        const QString dataset = call.query(QStringLiteral("dataset"));
        if (auto valid = validateDatasetName(dataset); !valid) {
            return call.respond(badParameter(
                QStringLiteral("dataset must be a dataset name: 1 to 64 letters, digits, '_' or "
                               "'-'.")));
        }
        filter.dataset = dataset;
    }
    filter.limit = limit + 1; // one more tells whether another page follows
    auto jobs = m_store.jobs(filter);
    if (!jobs)
        return call.respond(Api::fromError(jobs.error()));
    const bool more = jobs->size() > limit;
    if (more)
        jobs->resize(limit);
    std::string out;
    out.reserve(64 + size_t(jobs->size()) * 320);
    out.append("{\"success\":true,\"jobs\":[");
    for (qsizetype i = 0; i < jobs->size(); ++i) {
        if (i)
            out.push_back(',');
        appendJobJson(out, jobs->at(i));
    }
    out.append("],\"next\":");
    if (more) {
        out.push_back('"');
        out.append(std::to_string(jobs->back().id));
        out.push_back('"');
    } else {
        out.append("null");
    }
    out.push_back('}');
    call.respond(Api::jsonText(200, QByteArray(out.data(), qsizetype(out.size()))));
}

// GET /api/v1/jobs/{id}[?wait=N[&progress=true]] (auth)
//   200 {"success": true, "job": {...}}; 404 when it is not the caller's job (or does not exist).
//   wait=N (0-60 s) long-polls: answers as soon as the job's status or attempts change (with
//   progress=true, its progress too), else after N seconds with the job as it is then; a
//   finished job answers at once. 400 on a bad wait or progress.
void JobRoutes::getJob(const ApiCall &call)
{
    // The plain GET is the API's hottest route: no query, no parsing.
    std::optional<qint64> wait;
    if (!call.request().query.isEmpty() && call.hasQuery(QStringLiteral("wait"))) {
        wait = boundedNumber(call.query(QStringLiteral("wait")), 0, MaxWaitSeconds);
        if (!wait) {
            return call.respond(
                badParameter(QStringLiteral("wait must be a whole number of seconds from 0 to %1.")
                                 .arg(MaxWaitSeconds)));
        }
    }
    bool withProgress = false;
    if (!call.request().query.isEmpty() && call.hasQuery(QStringLiteral("progress"))) {
        const QString value = call.query(QStringLiteral("progress"));
        if (value != u"true" && value != u"false") {
            return call.respond(badParameter(
                QStringLiteral("progress must be true (a wait also ends when the job's progress "
                               "changes) or false.")));
        }
        withProgress = value == u"true";
    }
    const std::optional<qint64> id = pathJobId(call);
    if (!id)
        return;
    const auto answer = [this, call, wait, withProgress](Result<std::optional<Job>> job) {
        if (!job)
            return call.respond(Api::fromError(job.error()));
        if (!job->has_value() || (*job)->userId != call.user().id)
            return call.respond(notFound(call.param(0)));
        if (wait && *wait > 0 && !isTerminal((*job)->status)) {
            m_watcher->watch(call, **job, std::chrono::seconds(*wait), withProgress);
            return;
        }
        call.respond(Api::jsonText(200, jobBody(**job)));
    };
    if (m_batchedReads)
        m_batchedReads->read(*id, answer);
    else
        answer(m_store.job(*id, call.user().id));
}

// POST /api/v1/jobs/{id}/cancel (auth)
//   200 {"success": true, "job": {...}}: a pending job is cancelled at once; a running one is
//   asked to stop (its status turns "cancelled" when its handler next checks). 404 when not the
//   caller's; 409 "job_finished" when it already finished.
void JobRoutes::cancelJob(const ApiCall &call)
{
    std::optional<Job> job = callersJob(call);
    if (!job)
        return;
    auto cancelled = m_queue.cancel(job->id, call.user().id);
    if (!cancelled) {
        const Error &e = cancelled.error();
        if (e.code == ErrorCode::Conflict) {
            return call.respond(Api::error(
                409, "Conflict",
                job->status == JobStatus::Completed
                    ? QStringLiteral("Job %1 completed; there is nothing to cancel (a completed "
                                     "job is not run again).")
                          .arg(job->id)
                    : QStringLiteral("Job %1 already ended (%2); there is nothing to cancel. Run "
                                     "it again with POST /api/v1/jobs/%1/retry.")
                          .arg(job->id)
                          .arg(jobStatusName(job->status)),
                "job_finished"));
        }
        return call.respond(e.code == ErrorCode::NotFound ? notFound(call.param(0))
                                                          : Api::fromError(e));
    }
    if (std::optional<Job> now = callersJob(call))
        call.respond(Api::jsonText(200, jobBody(*now)));
}

// POST /api/v1/jobs/{id}/retry (auth)
//   200 {"success": true, "job": {...}} with the job pending again, attempts reset. 404 when not
//   the caller's; 409 "job_not_retryable" unless it is failed, dead or cancelled.
void JobRoutes::retryJob(const ApiCall &call)
{
    std::optional<Job> job = callersJob(call);
    if (!job)
        return;
    auto retried = m_queue.retry(job->id, call.user().id);
    if (!retried) {
        const Error &e = retried.error();
        if (e.code == ErrorCode::Conflict) {
            const QString what =
                job->status == JobStatus::Completed
                    ? QStringLiteral("A completed job is not run again: submit the work anew.")
                : isTerminal(job->status)
                    ? e.hint // another job with the same unique key is queued
                    : QStringLiteral("Wait for it to finish (GET /api/v1/jobs/%1?wait=60) or "
                                     "cancel it first.")
                          .arg(job->id);
            return call.respond(Api::error(
                409, "Conflict",
                QStringLiteral("%1 Only failed, dead or cancelled jobs can be retried. %2")
                    .arg(e.message, what),
                "job_not_retryable"));
        }
        return call.respond(e.code == ErrorCode::NotFound ? notFound(call.param(0))
                                                          : Api::fromError(e));
    }
    if (std::optional<Job> now = callersJob(call))
        call.respond(Api::jsonText(200, jobBody(*now)));
}

// GET /api/v1/jobs/{id}/report (auth)
//   200 {"success": true, "errors": [{"line", "field", "reason"}], "rowsRejected": N}: the rows a
//   migration rejected (the first 100 are kept, the count always). 404 when not the caller's.
void JobRoutes::jobReport(const ApiCall &call)
{
    std::optional<Job> job = callersJob(call);
    if (!job)
        return;
    auto errors = m_store.datasets().rowErrors(job->id, 1000);
    if (!errors)
        return call.respond(Api::fromError(errors.error()));
    qint64 rejected = errors->size();
    if (job->result.contains(QStringLiteral("rowsRejected"))) {
        rejected = job->result.value(QStringLiteral("rowsRejected")).toInteger();
    } else if (auto checkpoint = m_store.datasets().checkpoint(job->id);
               checkpoint && checkpoint->has_value()) {
        rejected = std::max(rejected, (*checkpoint)->rowsRejected);
    }
    QJsonArray list;
    for (const RowError &e : *errors) {
        list.append(QJsonObject{
            {QStringLiteral("line"), e.line},
            {QStringLiteral("field"), e.field.isEmpty() ? QJsonValue() : QJsonValue(e.field)},
            {QStringLiteral("reason"), e.reason}});
    }
    call.respond(Api::json(200, {{QStringLiteral("success"), true},
                                 {QStringLiteral("errors"), list},
                                 {QStringLiteral("rowsRejected"), rejected}}));
}

// GET /api/v1/sessions/{id} (auth)
//   200 {"success": true, "session": {"id", "fileName", "contentType", "sizeBytes", "createdAt",
//   "jobId", "jobStatus"}} (jobId/jobStatus null when no job reads it); 404 when not the caller's.
void JobRoutes::getSession(const ApiCall &call)
{
    const QString id = QString::fromUtf8(call.param(0));
    auto missing = [&] {
        call.respond(Api::error(404, "Not found",
                                QStringLiteral("You have no upload session %1.").arg(id.left(80)),
                                "not_found"));
    };
    if (id.isEmpty() || id.size() > 128)
        return missing();
    auto session = m_store.session(id, call.user().id);
    if (!session)
        return call.respond(Api::fromError(session.error()));
    if (!session->has_value())
        return missing();
    auto job = m_store.sessionJob(id);
    if (!job)
        return call.respond(Api::fromError(job.error()));
    const UploadSession &s = **session;
    QJsonObject body{
        {QStringLiteral("id"), s.id},
        {QStringLiteral("fileName"), s.fileName.isEmpty() ? QJsonValue() : QJsonValue(s.fileName)},
        {QStringLiteral("contentType"),
         s.contentType.isEmpty() ? QJsonValue() : QJsonValue(s.contentType)},
        {QStringLiteral("sizeBytes"), s.sizeBytes},
        {QStringLiteral("createdAt"), s.createdAt},
        {QStringLiteral("jobId"),
         job->has_value() ? QJsonValue(QString::number((*job)->jobId)) : QJsonValue()},
        {QStringLiteral("jobStatus"),
         job->has_value() ? QJsonValue(jobStatusName((*job)->status)) : QJsonValue()}};
    call.respond(
        Api::json(200, {{QStringLiteral("success"), true}, {QStringLiteral("session"), body}}));
}

} // namespace Ferry
