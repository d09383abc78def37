#include "api/jobdeleteroutes.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QLoggingCategory>

namespace Ferry {

namespace {

Q_LOGGING_CATEGORY(lcJobDelete, "ferry.api.delete")

Http::Response jobNotFound(const QByteArray &id)
{
    return Api::error(404, "Not found",
                      QStringLiteral("You have no job %1.").arg(QString::fromUtf8(id.left(40))),
                      "not_found");
}

Http::Response sessionNotFound(const QString &id)
{
    return Api::error(404, "Not found",
                      QStringLiteral("You have no upload session %1.").arg(id.left(80)),
                      "not_found");
}

} // namespace

JobDeleteRoutes::JobDeleteRoutes(Store &store, BlobStore &blobs, const Clock &clock)
    : m_store(store), m_blobs(blobs), m_clock(clock)
{}

QList<ApiRoute> JobDeleteRoutes::routes()
{
    // Writes: on the API's workers.
    ApiRoute job;
    job.method = "DELETE";
    job.path = "/api/v1/jobs/{id}";
    job.offload = true;
    job.handle = [this](const ApiCall &call) { deleteJob(call); };
    ApiRoute session;
    session.method = "DELETE";
    session.path = "/api/v1/sessions/{id}";
    session.offload = true;
    session.handle = [this](const ApiCall &call) { deleteSession(call); };
    return {job, session};
}

Result<std::optional<Http::Response>> JobDeleteRoutes::refusalFor(qint64 jobId, JobStatus status)
{
    using Refusal = std::optional<Http::Response>;
    if (!isTerminal(status)) {
        return Refusal(
            Api::error(409, "Job not finished",
                       QStringLiteral("Job %1 is %2: only finished jobs (completed, failed, "
                                      "cancelled, dead) can be deleted. Cancel it first "
                                      "(POST /api/v1/jobs/%1/cancel), then delete it once "
                                      "it has ended.")
                           .arg(jobId)
                           .arg(jobStatusName(status)),
                       "job_not_finished"));
    }
    if (status == JobStatus::Completed)
        return Refusal();
    // A migration that ended without completing keeps its checkpoint until its undo ran (the
    // undo finds its rows by it): deleting the job now would leave them in the dataset.
    auto checkpoint = m_store.datasets().checkpoint(jobId);
    if (!checkpoint)
        return checkpoint.error();
    if (!checkpoint->has_value())
        return Refusal();
    Http::Response response = Api::error(
        409, "Undo pending",
        QStringLiteral("Job %1 is a migration whose undo has not run yet (the rows it wrote are "
                       "being taken out of the dataset). It runs within seconds: try again "
                       "shortly.")
            .arg(jobId),
        "undo_pending");
    response.setHeader("Retry-After", "5");
    return Refusal(std::move(response));
}

Result<std::optional<Http::Response>> JobDeleteRoutes::refusalFor(const Job &job)
{
    return refusalFor(job.id, job.status);
}

Result<bool> JobDeleteRoutes::dropUnusedSession(const QString &sessionId)
{
    auto blob = m_store.deleteUnusedSession(sessionId);
    if (!blob)
        return blob.error();
    if (blob->has_value()) {
        // Not when another upload of the same content committed it in the lease period: then
        // that upload's session is about to refer to it (BlobStore::remove).
        if (auto removed = m_blobs.remove(**blob); !removed)
            qCWarning(lcJobDelete) << "removing an upload's file:" << removed.error().toString();
    }
    auto still = m_store.session(sessionId, std::nullopt);
    if (!still)
        return still.error();
    return !still->has_value();
}

// DELETE /api/v1/jobs/{id} (auth)
//   Deletes a finished job of the caller (with its attempts and rejected-row report), and its
//   upload (session and stored file) when no other job reads it.
//   200 {"success": true, "jobId": "<id>", "sessionId": "<id>" | null, "sessionDeleted": bool};
//   404 not_found (no such job of the caller's); 409 job_not_finished (pending or running:
//   cancel it first); 409 undo_pending (a migration that did not complete, whose undo has not
//   run yet; Retry-After).
void JobDeleteRoutes::deleteJob(const ApiCall &call)
{
    bool ok = false;
    const qint64 id = call.param(0).toLongLong(&ok);
    if (!ok || id <= 0)
        return call.respond(jobNotFound(call.param(0)));
    auto job = m_store.job(id, call.user().id);
    if (!job)
        return call.respond(Api::fromError(job.error()));
    if (!job->has_value())
        return call.respond(jobNotFound(call.param(0)));
    auto refusal = refusalFor(**job);
    if (!refusal)
        return call.respond(Api::fromError(refusal.error()));
    if (refusal->has_value())
        return call.respond(std::move(**refusal));
    ConsoleJobFilter filter;
    filter.userId = call.user().id;
    filter.ids = QList<qint64>{id};
    auto deleted =
        m_store.applyConsoleAction(filter, ConsoleBulkAction::DeleteFinished, 0, m_clock.nowMs());
    if (!deleted)
        return call.respond(Api::fromError(deleted.error()));
    if (deleted->changed == 0) {
        // It changed since it was read (retried, or deleted by another request): say how.
        auto now = m_store.job(id, call.user().id);
        if (!now)
            return call.respond(Api::fromError(now.error()));
        if (!now->has_value())
            return call.respond(jobNotFound(call.param(0)));
        auto again = refusalFor(**now);
        if (!again)
            return call.respond(Api::fromError(again.error()));
        if (again->has_value())
            return call.respond(std::move(**again));
        return call.respond(Api::error(409, "Conflict",
                                       QStringLiteral("Job %1 changed while it was being "
                                                      "deleted. Try again.")
                                           .arg(id),
                                       "conflict"));
    }
    const QString sessionId = (*job)->sessionId;
    bool sessionDeleted = false;
    if (!sessionId.isEmpty()) {
        auto dropped = dropUnusedSession(sessionId);
        if (!dropped)
            return call.respond(Api::fromError(dropped.error()));
        sessionDeleted = *dropped;
    }
    call.respond(Api::json(
        200, {{QStringLiteral("success"), true},
              {QStringLiteral("jobId"), QString::number(id)},
              {QStringLiteral("sessionId"),
               sessionId.isEmpty() ? QJsonValue(QJsonValue::Null) : QJsonValue(sessionId)},
              {QStringLiteral("sessionDeleted"), sessionDeleted}}));
}

// DELETE /api/v1/sessions/{id} (auth)
//   Deletes every job reading the caller's upload, then the upload (session and stored file).
//   All of its jobs must be finished: nothing is deleted otherwise.
//   200 {"success": true, "sessionId": "<id>", "jobsDeleted": n}; 404 not_found; 409
//   job_not_finished or undo_pending naming the first job in the way (its "jobId").
void JobDeleteRoutes::deleteSession(const ApiCall &call)
{
    const QString id = QString::fromUtf8(call.param(0));
    if (id.isEmpty() || id.size() > 128)
        return call.respond(sessionNotFound(id));
    auto session = m_store.session(id, call.user().id);
    if (!session)
        return call.respond(Api::fromError(session.error()));
    if (!session->has_value())
        return call.respond(sessionNotFound(id));
    ConsoleJobFilter filter;
    filter.userId = call.user().id;
    filter.sessionId = id;
    const auto blocker = [&]() -> Result<std::optional<Http::Response>> {
        // Every job of the session, a page at a time, oldest first.
        ConsoleJobQuery query;
        query.filter = filter;
        query.sort = ConsoleJobSort::OldestFirst;
        while (true) {
            auto page = m_store.consoleJobs(query);
            if (!page)
                return page.error();
            for (const ConsoleJobRow &row : std::as_const(*page)) {
                auto refusal = refusalFor(row.id, row.status);
                if (!refusal)
                    return refusal.error();
                if (refusal->has_value()) {
                    Http::Response response = std::move(**refusal);
                    QJsonObject body = QJsonDocument::fromJson(response.body).object();
                    body.insert(QStringLiteral("jobId"), QString::number(row.id));
                    response.body = QJsonDocument(body).toJson(QJsonDocument::Compact);
                    return std::optional<Http::Response>(std::move(response));
                }
            }
            if (page->size() < query.limit)
                return std::optional<Http::Response>();
            query.afterId = page->last().id;
        }
    };
    auto refusal = blocker();
    if (!refusal)
        return call.respond(Api::fromError(refusal.error()));
    if (refusal->has_value())
        return call.respond(std::move(**refusal));
    auto deleted =
        m_store.applyConsoleAction(filter, ConsoleBulkAction::DeleteFinished, 0, m_clock.nowMs());
    if (!deleted)
        return call.respond(Api::fromError(deleted.error()));
    auto dropped = dropUnusedSession(id);
    if (!dropped)
        return call.respond(Api::fromError(dropped.error()));
    if (!*dropped) {
        // A job started reading it meanwhile (a re-run): that one is in the way now.
        auto late = blocker();
        if (!late)
            return call.respond(Api::fromError(late.error()));
        if (late->has_value())
            return call.respond(std::move(**late));
        return call.respond(Api::error(409, "Conflict",
                                       QStringLiteral("Upload %1 got a new job while it was "
                                                      "being deleted. Try again.")
                                           .arg(id),
                                       "conflict"));
    }
    call.respond(Api::json(200, {{QStringLiteral("success"), true},
                                 {QStringLiteral("sessionId"), id},
                                 {QStringLiteral("jobsDeleted"), deleted->changed}}));
}

} // namespace Ferry
