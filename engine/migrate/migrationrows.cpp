#include "migrationrows.h"

#include <QJsonDocument>
#include <QJsonObject>

namespace Ferry {

namespace {

Error unimportable(const QString &message)
{
    return makeError(ErrorCode::InvalidArgument, message);
}

bool isTable(DataFormat format)
{
    return format == DataFormat::Csv || format == DataFormat::Tsv;
}

} // namespace

MigrationRows::MigrationRows(ByteSource &input,
                             const MigrationPayload &payload,
                             const QString &keyField,
                             qsizetype maxColumns)
    : m_input(input), m_payload(payload), m_keyField(keyField), m_maxColumns(maxColumns)
{
    if (isTable(payload.format)) {
        CsvReader::Options options =
            payload.format == DataFormat::Tsv ? tsvOptions() : CsvReader::Options();
        if (payload.delimiter)
            options.delimiter = payload.delimiter;
        if (payload.quoteSet)
            options.quote = payload.quote;
        options.maxFields = maxColumns;
        m_csv.emplace(input, options);
    } else {
        JsonReader::Options options;
        options.layout = payload.format == DataFormat::Json ? JsonReader::Layout::Array
                                                            : JsonReader::Layout::Ndjson;
        m_json.emplace(input, options);
    }
}

Result<void> MigrationRows::makeConverter(const std::vector<std::string> &header)
{
    auto converter = m_csv ? RecordConverter::forTable(m_payload.mapping, m_keyField, header)
                           : RecordConverter::forDocuments(m_payload.mapping, m_keyField);
    if (!converter)
        return converter.error();
    m_converter.emplace(std::move(*converter));
    return {};
}

Result<void> MigrationRows::start()
{
    if (!m_csv)
        return makeConverter({});
    const auto status = m_csv->next(m_csvRow);
    if (status == CsvReader::Status::Error)
        return unimportable(m_csv->errorText());
    if (status == CsvReader::Status::End)
        return unimportable(QStringLiteral("The file is empty: there is nothing to import."));
    if (!m_csvRow.problem.empty()) {
        return unimportable(QStringLiteral("The first row is unreadable: %1")
                                .arg(QString::fromStdString(m_csvRow.problem)));
    }
    if (m_payload.header) {
        for (std::string_view f : m_csvRow.fields)
            m_header.emplace_back(f);
        m_startOffset = m_csvRow.endOffset;
        m_startLine = m_csvRow.endLine;
    } else {
        for (size_t i = 0; i < m_csvRow.fields.size(); ++i)
            m_header.push_back("column" + std::to_string(i + 1));
        m_heldBack = true;
    }
    QJsonArray names;
    for (const std::string &name : m_header)
        names.append(QString::fromStdString(name));
    m_state = QJsonDocument(QJsonObject{{QStringLiteral("header"), names}})
                  .toJson(QJsonDocument::Compact);
    return makeConverter(m_header);
}

Result<void> MigrationRows::resume(qint64 offset, qint64 line, const QByteArray &state)
{
    m_state = state;
    if (m_csv) {
        const QJsonDocument saved = QJsonDocument::fromJson(state);
        for (const QJsonValue &h : saved.object().value(u"header").toArray())
            m_header.push_back(h.toString().toStdString());
        if (auto resumed = m_csv->resumeAt(offset, line); !resumed)
            return resumed;
        return makeConverter(m_header);
    }
    if (auto resumed = m_json->resumeAt(offset, line); !resumed)
        return resumed;
    return makeConverter({});
}

QJsonArray MigrationRows::columns() const
{
    return m_converter ? m_converter->columns() : QJsonArray();
}

QJsonObject MigrationRows::columnTypes() const
{
    return m_converter ? m_converter->types() : QJsonObject();
}

MigrationRows::Status MigrationRows::fail(const QString &text)
{
    m_errorText = text;
    return Status::Failed;
}

MigrationRows::Status MigrationRows::tableRow(const CsvReader::Row &source, Row &row)
{
    row.line = source.line;
    row.endOffset = source.endOffset;
    row.endLine = source.endLine;
    if (!source.problem.empty()) {
        row.errors = {{source.line, QString(), QString::fromStdString(source.problem)}};
        return Status::Row;
    }
    if (!m_converter->convertRow(source.fields, row.record, row.errors)) {
        for (RowError &e : row.errors)
            e.line = source.line;
    }
    return Status::Row;
}

MigrationRows::Status MigrationRows::next(Row &row)
{
    if (m_csv) {
        while (true) {
            if (m_heldBack) {
                m_heldBack = false;
            } else {
                const auto status = m_csv->next(m_csvRow);
                if (status == CsvReader::Status::End)
                    return Status::End;
                if (status == CsvReader::Status::Error)
                    return fail(m_csv->errorText());
            }
            const bool blank =
                m_csvRow.fields.size() == 1 && m_csvRow.fields[0].empty() && m_header.size() != 1;
            if (!blank)
                return tableRow(m_csvRow, row);
        }
    }
    const auto status = m_json->next(m_document);
    if (status == JsonReader::Status::End)
        return Status::End;
    if (status == JsonReader::Status::Error)
        return fail(m_json->errorText());
    row.line = m_document.line;
    row.endOffset = m_document.endOffset;
    row.endLine = m_document.endLine;
    if (!m_document.problem.empty()) {
        row.errors = {{m_document.line, QString(), QString::fromStdString(m_document.problem)}};
    } else if (!m_converter->convertDocument(m_document.text, row.record, row.errors)) {
        for (RowError &e : row.errors)
            e.line = m_document.line;
    }
    return Status::Row;
}

} // namespace Ferry
