// PostgresStore: what is not on PostgreSQL yet. Each method answers the same error, so a caller
// sees which one is missing instead of wrong data. docs/postgres-progress.md lists the order in
// which they are meant to arrive.
#include "postgresstore.h"

namespace Ferry {

namespace {

Error notYet(const char *what)
{
    return makeError(ErrorCode::Internal,
                     QStringLiteral("%1 is not yet on PostgreSQL.").arg(QLatin1String(what)),
                     QStringLiteral("Use the embedded SQLite store (omit --db) for now."));
}

} // namespace

Result<void> PostgresStore::insertTusUpload(const TusUploadRecord & /*upload*/)
{
    return notYet("insertTusUpload");
}

Result<std::optional<TusUploadRecord>> PostgresStore::tusUpload(const QString & /*id*/,
                                                                std::optional<qint64> /*userId*/)
{
    return notYet("tusUpload");
}

Result<void> PostgresStore::setTusOffset(const QString & /*id*/, qint64 /*offset*/, qint64 /*now*/)
{
    return notYet("setTusOffset");
}

Result<void> PostgresStore::completeTusUpload(const QString & /*id*/,
                                              const QString & /*sessionId*/,
                                              qint64 /*jobId*/,
                                              qint64 /*now*/)
{
    return notYet("completeTusUpload");
}

Result<void> PostgresStore::deleteTusUpload(const QString & /*id*/)
{
    return notYet("deleteTusUpload");
}

Result<QList<TusUploadRecord>> PostgresStore::staleTusUploads(qint64 /*updatedBefore*/,
                                                              int /*limit*/)
{
    return notYet("staleTusUploads");
}

Result<void> PostgresStore::saveMetricSamples(MetricResolution /*resolution*/,
                                              const QList<ResourceSample> & /*samples*/,
                                              qint64 /*pruneBefore*/)
{
    return notYet("saveMetricSamples");
}

Result<QList<ResourceSample>> PostgresStore::metricSamples(MetricResolution /*resolution*/,
                                                           qint64 /*since*/)
{
    return notYet("metricSamples");
}

Result<std::optional<SessionJob>> PostgresStore::sessionJob(const QString & /*sessionId*/)
{
    return notYet("sessionJob");
}

Result<std::optional<IdempotencyKey>>
PostgresStore::idempotencyKey(qint64 /*userId*/, const QString & /*key*/, qint64 /*notBefore*/)
{
    return notYet("idempotencyKey");
}

Result<std::optional<IdempotencyKey>>
PostgresStore::claimIdempotencyKey(const IdempotencyClaim & /*claim*/)
{
    return notYet("claimIdempotencyKey");
}

Result<void> PostgresStore::completeIdempotencyKey(qint64 /*userId*/,
                                                   const QString & /*key*/,
                                                   const QString & /*sessionId*/,
                                                   qint64 /*jobId*/,
                                                   const QByteArray & /*response*/)
{
    return notYet("completeIdempotencyKey");
}

Result<void> PostgresStore::releaseIdempotencyKey(qint64 /*userId*/, const QString & /*key*/)
{
    return notYet("releaseIdempotencyKey");
}

Result<QList<ConsoleJobRow>> PostgresStore::consoleJobs(const ConsoleJobQuery & /*query*/)
{
    return notYet("consoleJobs");
}

Result<QList<ConsoleJobRow>> PostgresStore::consoleJobsById(const QList<qint64> & /*ids*/)
{
    return notYet("consoleJobsById");
}

Result<qint64> PostgresStore::countConsoleJobs(const ConsoleJobFilter & /*filter*/)
{
    return notYet("countConsoleJobs");
}

Result<ConsoleBulkResult> PostgresStore::applyConsoleAction(const ConsoleJobFilter & /*filter*/,
                                                            ConsoleBulkAction /*action*/,
                                                            int /*value*/,
                                                            qint64 /*now*/)
{
    return notYet("applyConsoleAction");
}

} // namespace Ferry
