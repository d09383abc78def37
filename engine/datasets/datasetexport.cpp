#include "datasetexport.h"

#include <QJsonDocument>
#include <QJsonObject>

#include <string>

namespace Ferry {

namespace {

void appendCsvField(std::string &out, std::string_view text)
{
    const bool quote = text.find_first_of(",\"\r\n") != std::string_view::npos ||
                       (!text.empty() && (text.front() == ' ' || text.back() == ' '));
    if (!quote) {
        out.append(text);
        return;
    }
    out.push_back('"');
    for (char c : text) {
        if (c == '"')
            out.push_back('"');
        out.push_back(c);
    }
    out.push_back('"');
}

std::string cellText(const QJsonValue &value)
{
    switch (value.type()) {
    case QJsonValue::String:
        return value.toString().toStdString();
    case QJsonValue::Double: {
        const QByteArray json = QJsonDocument(QJsonArray{value}).toJson(QJsonDocument::Compact);
        return std::string(json.constData() + 1, size_t(json.size() - 2));
    }
    case QJsonValue::Bool:
        return value.toBool() ? "true" : "false";
    case QJsonValue::Array:
        return QJsonDocument(value.toArray()).toJson(QJsonDocument::Compact).toStdString();
    case QJsonValue::Object:
        return QJsonDocument(value.toObject()).toJson(QJsonDocument::Compact).toStdString();
    case QJsonValue::Null:
    case QJsonValue::Undefined:
        break;
    }
    return {};
}

} // namespace

CsvColumns::CsvColumns(const DatasetInfo &dataset, qsizetype maxColumns) : m_max(maxColumns)
{
    for (const QJsonValue &c : dataset.columns) {
        const QString name = c.toString();
        if (!m_seen.contains(name)) {
            m_seen.insert(name);
            m_names.append(name);
        }
    }
    m_tooMany = m_names.size() > m_max;
}

bool CsvColumns::add(std::string_view doc)
{
    if (m_tooMany)
        return false;
    const QJsonObject object =
        QJsonDocument::fromJson(QByteArray::fromRawData(doc.data(), qsizetype(doc.size())))
            .object();
    for (auto it = object.begin(); it != object.end(); ++it) {
        const QString key = it.key();
        if (m_seen.contains(key))
            continue;
        if (m_names.size() == m_max) {
            m_tooMany = true;
            return false;
        }
        m_seen.insert(key);
        m_names.append(key);
    }
    return true;
}

Error tooManyCsvColumns(qsizetype maxColumns)
{
    return makeError(ErrorCode::InvalidArgument,
                     QStringLiteral("The dataset's records have more than %1 distinct top-level "
                                    "keys, more than a CSV export has columns.")
                         .arg(maxColumns),
                     QStringLiteral("Export it as NDJSON (format=ndjson), or import it with a "
                                    "mapping that picks the fields."));
}

void appendCsvHeader(std::string &out, const QStringList &columns)
{
    for (qsizetype i = 0; i < columns.size(); ++i) {
        if (i)
            out.push_back(',');
        appendCsvField(out, columns.at(i).toStdString());
    }
    out.append("\r\n");
}

void appendCsvRecord(std::string &out, const QStringList &columns, std::string_view doc)
{
    const QJsonObject object =
        QJsonDocument::fromJson(QByteArray(doc.data(), qsizetype(doc.size()))).object();
    for (qsizetype i = 0; i < columns.size(); ++i) {
        if (i)
            out.push_back(',');
        appendCsvField(out, cellText(object.value(columns.at(i))));
    }
    out.append("\r\n");
}

Result<void> exportDataset(DatasetStore &store,
                           const DatasetInfo &dataset,
                           ExportFormat format,
                           const std::function<bool(QByteArrayView)> &write)
{
    std::string out;
    bool stopped = false;
    // Buffers ~64 KiB per write; stops reading as soon as the writer gives up.
    auto flushOut = [&](bool force) {
        if (stopped || out.empty() || (!force && out.size() < (1 << 16)))
            return !stopped;
        stopped = !write(QByteArrayView(out.data(), qsizetype(out.size())));
        out.clear();
        return !stopped;
    };
    if (format == ExportFormat::Ndjson) {
        auto exported = store.forEachRecord(dataset.id, [&](std::string_view doc) {
            out.append(doc);
            out.push_back('\n');
            return flushOut(false);
        });
        if (!exported)
            return exported;
        flushOut(true);
        return {};
    }

    // A first pass over every record: a key first seen in the last record is a column too.
    CsvColumns scan(dataset);
    auto scanned =
        store.forEachRecord(dataset.id, [&](std::string_view doc) { return scan.add(doc); });
    if (!scanned)
        return scanned;
    if (scan.tooMany())
        return tooManyCsvColumns(MaxCsvColumns);
    const QStringList &columns = scan.names();
    appendCsvHeader(out, columns);
    auto exported = store.forEachRecord(dataset.id, [&](std::string_view doc) {
        appendCsvRecord(out, columns, doc);
        return flushOut(false);
    });
    if (!exported)
        return exported;
    flushOut(true);
    return {};
}

} // namespace Ferry
