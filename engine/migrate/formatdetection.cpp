// Telling an upload's format from its name, content type or first bytes.
#include "migrate/jsonreader.h"
#include "migrate/jsonsyntax.h"

namespace Ferry {

namespace {

// Sniffs the first bytes of a file: binary data is Unknown, JSON is told apart from NDJSON by
// its first byte and first line, TSV from CSV by a tab and no comma in the first line.
DataFormat sniffFormat(std::string_view bytes)
{
    if (bytes.starts_with("\xEF\xBB\xBF"))
        bytes.remove_prefix(3);
    for (const char c : bytes) {
        const auto u = static_cast<unsigned char>(c);
        if ((u < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f') || u == 0x7F)
            return DataFormat::Unknown; // NUL and other control bytes: not text
    }
    if (utf8ErrorOffset(bytes, true) >= 0)
        return DataFormat::Unknown;
    const size_t first = bytes.find_first_not_of(" \t\r\n\f");
    if (first == std::string_view::npos)
        return DataFormat::Unknown; // nothing to go by
    if (bytes[first] == '[')
        return DataFormat::Json;
    const std::string_view firstLine = bytes.substr(first, bytes.find('\n', first) - first);
    if (bytes[first] == '{') {
        // One complete object on the first line is NDJSON; an object spread over several lines
        // is a JSON document (which the array reader then refuses with a clear message).
        return checkDocument(firstLine).pos < 0 ? DataFormat::Ndjson : DataFormat::Json;
    }
    if (firstLine.find('\t') != std::string_view::npos &&
        firstLine.find(',') == std::string_view::npos)
        return DataFormat::Tsv;
    return DataFormat::Csv;
}

} // namespace

DataFormat formatFromName(const QString &name)
{
    const QString lower = name.trimmed().toLower();
    if (lower == u"csv")
        return DataFormat::Csv;
    if (lower == u"tsv")
        return DataFormat::Tsv;
    if (lower == u"ndjson" || lower == u"jsonl")
        return DataFormat::Ndjson;
    if (lower == u"json")
        return DataFormat::Json;
    return DataFormat::Unknown;
}

DataFormat
detectFormat(const QString &contentType, const QString &fileName, std::string_view firstBytes)
{
    // "text/csv; charset=utf-8" and "Text/CSV" are both text/csv.
    const QString type = contentType.section(u';', 0, 0).trimmed().toLower();
    if (type == u"text/csv")
        return DataFormat::Csv;
    if (type == u"text/tab-separated-values")
        return DataFormat::Tsv;
    if (type == u"application/x-ndjson" || type == u"application/ndjson" ||
        type == u"application/jsonl" || type == u"application/x-jsonlines")
        return DataFormat::Ndjson;
    if (type == u"application/json")
        return DataFormat::Json;

    QString name = fileName.trimmed().toLower();
    if (name.endsWith(u".gz"))
        name.chop(3);
    if (name.endsWith(u".csv"))
        return DataFormat::Csv;
    if (name.endsWith(u".tsv"))
        return DataFormat::Tsv;
    if (name.endsWith(u".ndjson") || name.endsWith(u".jsonl"))
        return DataFormat::Ndjson;
    if (name.endsWith(u".json"))
        return DataFormat::Json;

    return sniffFormat(firstBytes);
}

QString formatName(DataFormat format)
{
    switch (format) {
    case DataFormat::Csv:
        return QStringLiteral("csv");
    case DataFormat::Tsv:
        return QStringLiteral("tsv");
    case DataFormat::Ndjson:
        return QStringLiteral("ndjson");
    case DataFormat::Json:
        return QStringLiteral("json");
    case DataFormat::Unknown:
        break;
    }
    return QStringLiteral("unknown");
}

} // namespace Ferry
