#pragma once

#include "store/datasetstore.h"

#include <QByteArrayView>

#include <QSet>
#include <QStringList>

#include <functional>
#include <string>
#include <string_view>

namespace Ferry {

enum class ExportFormat { Ndjson, Csv };

// The most columns a CSV export has (documents with more distinct top-level keys are refused:
// export them as NDJSON). As many as a CSV import may have (MigrateConfig::maxColumns).
inline constexpr qsizetype MaxCsvColumns = 100'000;

// Streams a dataset out, a page of records at a time: NDJSON (one document per line) or CSV
// (RFC 4180; the columns of the dataset's mapping or header, then every other top-level key of
// its documents, found by a first pass over all of them; nested values as JSON text). write()
// returns false to stop (client gone). InvalidArgument when the documents have more than
// MaxCsvColumns distinct keys.
Result<void> exportDataset(DatasetStore &store,
                           const DatasetInfo &dataset,
                           ExportFormat format,
                           const std::function<bool(QByteArrayView)> &write);

// The CSV columns of a dataset, gathered in one pass: the stored columns first, then each top-
// level key of the documents in first-seen order. Linear (a hash set), and capped.
class CsvColumns final
{
public:
    explicit CsvColumns(const DatasetInfo &dataset, qsizetype maxColumns = MaxCsvColumns);
    // Adds the document's keys not seen yet; false once there are more than the cap.
    bool add(std::string_view doc);
    bool tooMany() const { return m_tooMany; }
    const QStringList &names() const { return m_names; }

private:
    QStringList m_names;
    QSet<QString> m_seen;
    qsizetype m_max;
    bool m_tooMany = false;
};

// The error for more keys than a CSV export has columns.
Error tooManyCsvColumns(qsizetype maxColumns);

// The CSV pieces, shared with the pull-style DatasetExportStream (the HTTP export).
// The header line (CRLF-terminated).
void appendCsvHeader(std::string &out, const QStringList &columns);
// One record's line (CRLF-terminated): its values under columns, nested values as JSON text.
void appendCsvRecord(std::string &out, const QStringList &columns, std::string_view doc);

} // namespace Ferry
