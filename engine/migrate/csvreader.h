#pragma once

#include "migrate/bytesource.h"

#include <string>
#include <string_view>
#include <vector>

namespace Ferry {

// A streaming RFC 4180 reader: quoted fields, doubled quotes, delimiters and newlines inside
// quotes, CRLF/LF/CR line ends, a UTF-8 BOM (skipped at offset 0). Memory is bounded by the
// largest record, never by the file. Fields are UTF-8 bytes, validated.
class CsvReader final
{
public:
    struct Options
    {
        char delimiter = ',';
        char quote = '"';                    // '\0': no quoting at all (plain TSV)
        qsizetype maxRecordBytes = 64 << 20; // a longer record is a file-level error
        // A record with more fields is a file-level error, raised as soon as the field past the
        // cap starts: a line of a million commas costs no more than maxFields fields.
        qsizetype maxFields = 100'000;
    };

    struct Row
    {
        // Valid until the next call of next(). Unquoted and unescaped.
        std::vector<std::string_view> fields;
        qint64 line = 0;      // 1-based physical line where the record starts
        qint64 endOffset = 0; // byte offset just past the record's line end: a resume point
        // The line endOffset starts on (line + the physical lines the record spans): pass it
        // with endOffset to resumeAt(). A record with quoted newlines spans several.
        qint64 endLine = 0;
        // Row-level problem (the row is still returned, whole): "invalid UTF-8 in field 3".
        // Empty when the row is fine.
        std::string problem;
    };

    enum class Status { Row, End, Error };

    CsvReader(ByteSource &source, Options options);

    // Resume: the source is skipTo()'d to offset, and line numbering continues from line.
    // Call before the first next().
    Result<void> resumeAt(qint64 offset, qint64 line);

    Status next(Row &row);
    // After Status::Error: what and where, e.g. "unterminated quoted field starting at line 7".
    QString errorText() const;

private:
    struct Impl;
    std::shared_ptr<Impl> d;
};

// TSV: tab-delimited, no quoting (IANA text/tab-separated-values).
CsvReader::Options tsvOptions();

} // namespace Ferry
