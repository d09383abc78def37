#include "datasets/datasetexportstream.h"

#include <QJsonArray>

namespace Ferry {

DatasetExportStream::DatasetExportStream(DatasetStore &datasets,
                                         DatasetInfo dataset,
                                         ExportFormat format,
                                         QStringList columns,
                                         int pageSize)
    : m_datasets(datasets)
    , m_dataset(std::move(dataset))
    , m_format(format)
    , m_pageSize(pageSize)
    , m_columns(std::move(columns))
{}

std::optional<QByteArray> DatasetExportStream::next()
{
    if (m_done)
        return std::nullopt;
    std::string out;
    if (!m_started) {
        m_started = true;
        if (m_format == ExportFormat::Csv)
            appendCsvHeader(out, m_columns);
    }
    // A chunk, not a page: records can be wide (a CSV line of 100,000 columns), and one chunk
    // is what the connection holds in flight.
    while (out.size() < ChunkBytes) {
        if (m_index == m_page.docs.size()) {
            auto page = m_datasets.recordPage(m_dataset.id, m_after, m_pageSize);
            if (!page) {
                m_error = page.error();
                m_done = true;
                return std::nullopt;
            }
            m_page = std::move(*page);
            m_index = 0;
            if (m_page.docs.empty()) {
                m_done = true;
                break;
            }
            m_after = m_page.lastId;
        }
        const std::string &doc = m_page.docs[m_index++];
        if (m_format == ExportFormat::Ndjson) {
            out.append(doc);
            out.push_back('\n');
        } else {
            appendCsvRecord(out, m_columns, doc);
        }
        ++m_records;
    }
    if (out.empty())
        return std::nullopt;
    return QByteArray(out.data(), qsizetype(out.size()));
}

Result<CsvColumnScan> scanCsvColumns(DatasetStore &datasets,
                                     const DatasetInfo &dataset,
                                     qsizetype maxColumns,
                                     const std::function<bool()> &stop,
                                     int pageSize)
{
    CsvColumns columns(dataset, maxColumns);
    CsvColumnScan scan;
    qint64 after = 0;
    while (!columns.tooMany()) {
        if (stop()) {
            scan.stopped = true;
            return scan;
        }
        auto page = datasets.recordPage(dataset.id, after, pageSize);
        if (!page)
            return page.error();
        if (page->docs.empty())
            break;
        after = page->lastId;
        for (const std::string &doc : page->docs) {
            if (!columns.add(doc))
                break;
        }
    }
    scan.tooMany = columns.tooMany();
    if (!scan.tooMany)
        scan.columns = columns.names();
    return scan;
}

} // namespace Ferry
