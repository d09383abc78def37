#pragma once
// Datasets as JSON: one shape for the API (/api/v1/datasets...) and `ferry dataset ... --json`.

#include "datasets/datasetdetails.h"
#include "store/datasetstore.h"

#include <QJsonObject>

namespace Ferry {

// A list entry: {"name", "records", "columns", "key" (null: none), "schema", "createdAt",
// "updatedAt"}.
QJsonObject datasetJson(const DatasetInfo &dataset);
// A list entry plus "sizeBytes" and "imports": [{"jobId" (a string), "sessionId" (null: none),
// "status", "rowsImported", "rowsRejected", "createdAt", "finishedAt" (null: not yet)}].
QJsonObject datasetJson(const DatasetDetails &details);
// What a delete did: {"name", "recordsDeleted", "datasetDeleted"}.
QJsonObject
datasetDeletionJson(const QString &name, const DatasetDeletion &deletion, DatasetDeleteScope scope);

} // namespace Ferry
