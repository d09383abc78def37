#pragma once

#include "migrate/bytesource.h"
#include "migrate/csvreader.h"
#include "migrate/jsonreader.h"
#include "migrate/migrationpayload.h"
#include "migrate/recordconverter.h"

#include <QJsonArray>
#include <QJsonObject>

#include <optional>

namespace Ferry {

// A migration's file read row by row in the payload's format and options, each row converted
// with its mapping: the one loop behind an import (MigrateHandler) and a dry run
// (migrationpreview.h), so both read a file the same way.
class MigrationRows final
{
public:
    struct Row
    {
        qint64 line = 0;      // where the row starts (1-based)
        qint64 endOffset = 0; // the byte just past it: a resume point, with endLine
        qint64 endLine = 0;
        RecordWrite record;     // when accepted
        QList<RowError> errors; // when rejected: every reason, each with the row's line
        bool accepted() const { return errors.isEmpty(); }
    };
    enum class Status { Row, End, Failed };

    // keyField: the key the records are upserted by (the payload's, the mapping's or the
    // dataset's), empty for none.
    MigrationRows(ByteSource &input,
                  const MigrationPayload &payload,
                  const QString &keyField,
                  qsizetype maxColumns);

    // From the start of the file: a table's header line is read (or, without a header, its
    // first row is held back for next()). InvalidArgument for a file that cannot be imported at
    // all (empty, an unreadable first row, a mapping that names columns it does not have).
    Result<void> start();
    // From a checkpoint an earlier run wrote: offset and line of the next row, and state().
    Result<void> resume(qint64 offset, qint64 line, const QByteArray &state);

    // After start(): where the first row begins, and what resume() needs (the header).
    qint64 startOffset() const { return m_startOffset; }
    qint64 startLine() const { return m_startLine; }
    QByteArray state() const { return m_state; }
    // The columns the records have (the mapping's, or the header's), for the dataset's schema.
    QJsonArray columns() const;
    // The types a mapping gave those columns (name → type name); empty without a mapping.
    QJsonObject columnTypes() const;

    // The next row (blank lines are skipped). Failed: the file cannot be read further, and
    // error() says where and why (InvalidArgument: the file is at fault, not the store).
    Status next(Row &row);
    Error error() const { return makeError(ErrorCode::InvalidArgument, m_errorText); }

private:
    Result<void> makeConverter(const std::vector<std::string> &header);
    Status fail(const QString &text);
    Status tableRow(const CsvReader::Row &source, Row &row);

    ByteSource &m_input;
    const MigrationPayload &m_payload;
    QString m_keyField;
    qsizetype m_maxColumns;
    std::optional<CsvReader> m_csv;
    std::optional<JsonReader> m_json;
    std::optional<RecordConverter> m_converter;
    std::vector<std::string> m_header;
    CsvReader::Row m_csvRow;
    JsonReader::Document m_document;
    bool m_heldBack = false; // a table without header: its first row, read by start()
    qint64 m_startOffset = 0;
    qint64 m_startLine = 1;
    QByteArray m_state;
    QString m_errorText;
};

} // namespace Ferry
