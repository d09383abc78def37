#pragma once

#include "migrate/bytesource.h"

#include <string>
#include <string_view>

namespace Ferry {

// Streams JSON documents out of NDJSON (one value per line, blank lines skipped) or out of a
// top-level JSON array (its elements, one at a time: the file is never loaded whole). Each
// document comes out as its raw UTF-8 text, syntax-checked and UTF-8-validated.
class JsonReader final
{
public:
    enum class Layout { Ndjson, Array };

    struct Options
    {
        Layout layout = Layout::Ndjson;
        qsizetype maxDocumentBytes = 64 << 20; // a larger document is a file-level error
    };

    struct Document
    {
        std::string_view text; // one complete JSON value; valid until the next call of next()
        qint64 line = 0;       // 1-based line where the value starts
        // Resume point: NDJSON, just past the line end; array, just after the value (a resumed
        // reader expects the ',' or ']' that follows it).
        qint64 endOffset = 0;
        qint64 endLine = 0; // the line endOffset is on: resumeAt(endOffset, endLine)
        // NDJSON only: a line that is not valid JSON is a row-level problem ("line 12: ...");
        // the rest of the file is still read. Empty when the document is fine.
        std::string problem;
    };

    enum class Status { Document, End, Error };

    JsonReader(ByteSource &source, Options options);
    // Resume at a point a previous Document's endOffset gave (line numbering continues).
    Result<void> resumeAt(qint64 offset, qint64 line);

    Status next(Document &document);
    // After Status::Error, what and where: "truncated JSON array at line 40", "expected '['".
    QString errorText() const;

private:
    struct Impl;
    std::shared_ptr<Impl> d;
};

// Cheap checks shared by the readers.
bool isValidUtf8(std::string_view bytes);

// The upload's format: from an explicit name, else the content type, else the file name's
// extension (".csv", ".tsv", ".ndjson"/".jsonl", ".json", each optionally + ".gz"), else by
// sniffing the first bytes. Empty when nothing decides (the caller refuses the upload).
enum class DataFormat { Unknown, Csv, Tsv, Ndjson, Json };
DataFormat formatFromName(const QString &name); // "csv", "tsv", "ndjson", "json"
DataFormat
detectFormat(const QString &contentType, const QString &fileName, std::string_view firstBytes);
QString formatName(DataFormat format);

} // namespace Ferry
