#pragma once

#include "datasets/datasetstore.h"

#include <QByteArrayView>

#include <QStringList>

#include <functional>
#include <string>
#include <string_view>

namespace Ferry {

enum class ExportFormat { Ndjson, Csv };

// Streams a dataset out, a page of records at a time: NDJSON (one document per line) or CSV
// (RFC 4180; the columns of the dataset's mapping or header, else the keys of its first
// documents; nested values as JSON text). write() returns false to stop (client gone).
Result<void> exportDataset(DatasetStore &store,
                           const DatasetInfo &dataset,
                           ExportFormat format,
                           const std::function<bool(QByteArrayView)> &write);

// The CSV pieces, shared with the pull-style DatasetExportStream (the HTTP export).
// Adds the document's top-level keys not yet in columns, in their order.
void collectCsvColumns(QStringList &columns, std::string_view doc);
// The header line (CRLF-terminated).
void appendCsvHeader(std::string &out, const QStringList &columns);
// One record's line (CRLF-terminated): its values under columns, nested values as JSON text.
void appendCsvRecord(std::string &out, const QStringList &columns, std::string_view doc);

} // namespace Ferry
