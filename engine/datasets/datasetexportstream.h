#pragma once

#include "datasets/datasetexport.h"
#include "store/store.h"

#include <QByteArray>

#include <optional>

namespace Ferry {

// A dataset export pulled a chunk at a time (the HTTP export's producer, called on the network
// thread as the socket drains): NDJSON or CSV, the same bytes exportDataset() writes. Each next()
// reads one page of records by id with a single short statement, so memory stays at one page
// whatever the dataset's size and no read transaction stays open while a slow client drains.
// Records written between pages appear if their id is past the cursor (ids only grow within a
// dataset); no record is sent twice.
class DatasetExportStream final
{
public:
    DatasetExportStream(Store &store,
                        DatasetInfo dataset,
                        ExportFormat format,
                        int pageSize = 1000);

    // The next chunk, or nullopt at the end (also after a read error: see error()).
    std::optional<QByteArray> next();
    const std::optional<Error> &error() const { return m_error; }
    qint64 recordsSent() const { return m_records; }

private:
    void appendRecords(std::string &out, const RecordPage &page);

    Store &m_store;
    DatasetInfo m_dataset;
    ExportFormat m_format;
    int m_pageSize;
    QStringList m_columns;
    qint64 m_after = 0;
    qint64 m_records = 0;
    bool m_started = false;
    bool m_done = false;
    std::optional<Error> m_error;
};

} // namespace Ferry
