#pragma once

#include "datasets/datasetexport.h"
#include "store/datasetstore.h"

#include <QByteArray>

#include <functional>
#include <optional>

namespace Ferry {

// A dataset export pulled a chunk at a time (the HTTP export's producer, called on a pool thread
// for each chunk the connection asks for): NDJSON or CSV, the same bytes exportDataset() writes.
// Records are read a page at a time by id with a single short statement, so memory stays at one
// page and one chunk whatever the dataset's size, and no read transaction stays open while a
// slow client drains. Records written between pages appear if their id is past the cursor (ids
// only grow within a dataset); no record is sent twice. Not thread-safe: one next() at a time
// (from any thread).
class DatasetExportStream final
{
public:
    // columns: the CSV header (scanCsvColumns()); unused for NDJSON.
    DatasetExportStream(DatasetStore &datasets,
                        DatasetInfo dataset,
                        ExportFormat format,
                        QStringList columns = {},
                        int pageSize = 1000);

    // The next chunk (about ChunkBytes; more only when one record is larger), or nullopt at the
    // end (also after a read error: see error()).
    std::optional<QByteArray> next();
    const std::optional<Error> &error() const { return m_error; }
    qint64 recordsSent() const { return m_records; }

    static constexpr size_t ChunkBytes = 256 * 1024;

private:
    DatasetStore &m_datasets;
    DatasetInfo m_dataset;
    ExportFormat m_format;
    int m_pageSize;
    QStringList m_columns;
    RecordPage m_page;
    size_t m_index = 0; // next record of m_page to format
    qint64 m_after = 0;
    qint64 m_records = 0;
    bool m_started = false;
    bool m_done = false;
    std::optional<Error> m_error;
};

// The CSV columns of a dataset (see CsvColumns): a first pass over all its records, a page at a
// time, asking stop() between pages (the client went away).
struct CsvColumnScan
{
    QStringList columns;
    bool tooMany = false; // more distinct keys than maxColumns
    bool stopped = false; // stop() said so
};
Result<CsvColumnScan> scanCsvColumns(DatasetStore &datasets,
                                     const DatasetInfo &dataset,
                                     qsizetype maxColumns,
                                     const std::function<bool()> &stop,
                                     int pageSize = 1000);

} // namespace Ferry
