#include "datasets/datasetdetails.h"

#include "store/jobstore.h"

namespace Ferry {

namespace {

qint64 counter(const Job &job, const QString &name)
{
    const QJsonObject &from = job.status == JobStatus::Completed ? job.result : job.progress;
    return from.value(name).toInteger();
}

} // namespace

Result<std::optional<DatasetDetails>>
datasetDetails(DatasetStore &datasets, JobStore &jobs, qint64 userId, const QString &name)
{
    if (!validateDatasetName(name))
        return std::optional<DatasetDetails>();
    auto info = datasets.dataset(userId, name);
    if (!info)
        return info.error();
    if (!info->has_value())
        return std::optional<DatasetDetails>();
    DatasetDetails details;
    details.info = std::move(**info);
    auto bytes = datasets.datasetBytes(details.info.id);
    if (!bytes)
        return bytes.error();
    details.sizeBytes = *bytes;

    // Pages of the user's jobs naming the dataset (jobs_user, newest first), until enough are
    // found or none is left.
    JobFilter filter;
    filter.userId = userId;
    filter.dataset = name;
    filter.newestFirst = true;
    filter.limit = 200;
    while (details.imports.size() < MaxDatasetImports) {
        auto page = jobs.jobs(filter);
        if (!page)
            return page.error();
        for (const Job &job : std::as_const(*page)) {
            filter.beforeId = job.id;
            if (job.type != u"migrate" ||
                (job.finishedAt > 0 && job.finishedAt < details.info.createdAt))
                continue;
            details.imports.append(
                {job.id, job.sessionId, job.status, counter(job, QStringLiteral("rowsImported")),
                 counter(job, QStringLiteral("rowsRejected")), job.createdAt, job.finishedAt});
            if (details.imports.size() == MaxDatasetImports)
                break;
        }
        if (page->size() < filter.limit)
            break;
    }
    return std::optional<DatasetDetails>(std::move(details));
}

Error datasetBusy(const QString &name, const DatasetDeletion &deletion)
{
    const bool active =
        deletion.busyJobStatus == u"pending" || deletion.busyJobStatus == u"running";
    if (active) {
        return makeError(
            ErrorCode::Conflict,
            QStringLiteral("Job %1 (%2) imports into dataset %3; nothing was deleted.")
                .arg(deletion.busyJobId)
                .arg(deletion.busyJobStatus, name),
            QStringLiteral("Cancel it (POST /api/v1/jobs/%1/cancel) or wait until it ends, then "
                           "delete again.")
                .arg(deletion.busyJobId));
    }
    return makeError(
        ErrorCode::Conflict,
        QStringLiteral("Job %1 (%2) wrote into dataset %3 and its rows are not undone yet; "
                       "nothing was deleted.")
            .arg(deletion.busyJobId)
            .arg(deletion.busyJobStatus, name),
        QStringLiteral("A running engine undoes an ended import within seconds (every 5 s): "
                       "delete again then."));
}

} // namespace Ferry
