// PostgresStore: the dataset methods not on PostgreSQL yet. Each method answers the same error, so
// a caller sees which one is missing instead of wrong data. docs/postgres-progress.md lists the
// order in which they are meant to arrive.
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

Result<qint64>
PostgresStore::ensureDataset(qint64 /*userId*/, const QString & /*name*/, qint64 /*now*/)
{
    return notYet("ensureDataset");
}

Result<std::optional<MigrationCheckpoint>> PostgresStore::checkpoint(qint64 /*jobId*/)
{
    return notYet("checkpoint");
}

Result<void> PostgresStore::commitBatch(const ImportBatch & /*batch*/)
{
    return notYet("commitBatch");
}

Result<qint64> PostgresStore::undoJob(qint64 /*jobId*/, qint64 /*datasetId*/)
{
    return notYet("undoJob");
}

Result<void> PostgresStore::forgetUndo(qint64 /*jobId*/, qint64 /*datasetId*/)
{
    return notYet("forgetUndo");
}

Result<void>
PostgresStore::setColumns(qint64 /*datasetId*/, const QJsonArray & /*columns*/, qint64 /*now*/)
{
    return notYet("setColumns");
}

Result<QList<DatasetInfo>> PostgresStore::datasets(qint64 /*userId*/)
{
    return notYet("datasets");
}

Result<std::optional<DatasetInfo>> PostgresStore::dataset(qint64 /*userId*/,
                                                          const QString & /*name*/)
{
    return notYet("dataset");
}

Result<void>
PostgresStore::forEachRecord(qint64 /*datasetId*/,
                             const std::function<bool(std::string_view doc)> & /*sink*/)
{
    return notYet("forEachRecord");
}

Result<QList<RowError>> PostgresStore::rowErrors(qint64 /*jobId*/, int /*limit*/)
{
    return notYet("rowErrors");
}

Result<RecordPage>
PostgresStore::recordPage(qint64 /*datasetId*/, qint64 /*afterId*/, int /*limit*/)
{
    return notYet("recordPage");
}

} // namespace Ferry
