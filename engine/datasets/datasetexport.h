#pragma once

#include "datasets/datasetstore.h"

#include <QByteArrayView>

#include <functional>

namespace Ferry {

enum class ExportFormat { Ndjson, Csv };

// Streams a dataset out, a page of records at a time: NDJSON (one document per line) or CSV
// (RFC 4180; the columns of the dataset's mapping or header, else the keys of its first
// documents; nested values as JSON text). write() returns false to stop (client gone).
Result<void> exportDataset(DatasetStore &store,
                           const DatasetInfo &dataset,
                           ExportFormat format,
                           const std::function<bool(QByteArrayView)> &write);

} // namespace Ferry
