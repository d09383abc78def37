#include "datasets/datasetexportstream.h"

#include <QJsonArray>

namespace Ferry {

DatasetExportStream::DatasetExportStream(Store &store,
                                         DatasetInfo dataset,
                                         ExportFormat format,
                                         int pageSize)
    : m_store(store), m_dataset(std::move(dataset)), m_format(format), m_pageSize(pageSize)
{
    for (const QJsonValue &c : m_dataset.columns)
        m_columns.append(c.toString());
}

std::optional<QByteArray> DatasetExportStream::next()
{
    if (m_done)
        return std::nullopt;
    auto page = m_store.recordPage(m_dataset.id, m_after, m_pageSize);
    if (!page) {
        m_error = page.error();
        m_done = true;
        return std::nullopt;
    }
    std::string out;
    if (!m_started) {
        m_started = true;
        if (m_format == ExportFormat::Csv) {
            // Documents imported as they were: the keys of the first page, as exportDataset.
            if (m_columns.isEmpty()) {
                for (const std::string &doc : page->docs)
                    collectCsvColumns(m_columns, doc);
            }
            appendCsvHeader(out, m_columns);
        }
    }
    if (page->docs.empty())
        m_done = true;
    else
        m_after = page->lastId;
    appendRecords(out, *page);
    if (out.empty())
        return std::nullopt;
    return QByteArray(out.data(), qsizetype(out.size()));
}

void DatasetExportStream::appendRecords(std::string &out, const RecordPage &page)
{
    for (const std::string &doc : page.docs) {
        if (m_format == ExportFormat::Ndjson) {
            out.append(doc);
            out.push_back('\n');
        } else {
            appendCsvRecord(out, m_columns, doc);
        }
    }
    m_records += qint64(page.docs.size());
}

} // namespace Ferry
