#pragma once

#include "core/error.h"
#include "store/datasetstore.h"
#include "store/records.h"

#include <QList>

#include <optional>

class QString;

namespace Ferry {

class JobStore;

// The most imports GET /api/v1/datasets/{name} (and `ferry dataset show`) lists.
inline constexpr int MaxDatasetImports = 50;

// A migration into a dataset, as the dataset's details list it.
struct DatasetImport
{
    qint64 jobId = 0;
    QString sessionId;
    JobStatus status = JobStatus::Pending;
    // The job's result once completed, else its last progress (a failed, cancelled or dead
    // import's rows were undone: they are what it had written before).
    qint64 rowsImported = 0;
    qint64 rowsRejected = 0;
    qint64 createdAt = 0;
    qint64 finishedAt = 0; // 0 while pending or running
};

struct DatasetDetails
{
    DatasetInfo info;
    qint64 sizeBytes = 0;         // the stored JSON documents, in bytes
    QList<DatasetImport> imports; // newest first, at most MaxDatasetImports
};

// The user's dataset with its size and the migrations that wrote it: the user's "migrate" jobs
// naming it, newest first, leaving out those that finished before it was created (they wrote a
// dataset of that name that was deleted since). Jobs pruned by retention are not listed. nullopt
// when the user has no such dataset (or the name cannot be one).
Result<std::optional<DatasetDetails>>
datasetDetails(DatasetStore &datasets, JobStore &jobs, qint64 userId, const QString &name);

// Why a delete was refused (DatasetDeletion::Outcome::Busy), and what to do: cancel or wait for
// a running or pending migration, wait for the undo of an ended one.
Error datasetBusy(const QString &name, const DatasetDeletion &deletion);

} // namespace Ferry
