// The typed conversions of a migration's mapping (engine/migrate/mapping, recordconverter):
// source text and JSON values into each field type, mappings parsed from JSON, and whole rows
// and documents through a RecordConverter. Properties: what converts is valid JSON of the
// type's shape, and converting it again gives the same text (normalised once); a refused value
// says why; a converted row is one valid JSON object; a rejected row lists at most
// MaxRowErrors + 1 errors, each naming a field.

#include "fuzzinput.h"

#include "migrate/jsonreader.h" // isValidUtf8
#include "migrate/jsonsyntax.h"
#include "migrate/mapping.h"
#include "migrate/recordconverter.h"

#include <QJsonArray>
#include <QJsonDocument>

#include <string>

using namespace Ferry;
using namespace Ferry::Fuzz;

namespace {

constexpr FieldType kTypes[] = {FieldType::String,  FieldType::Integer, FieldType::Number,
                                FieldType::Boolean, FieldType::Date,    FieldType::DateTime,
                                FieldType::Json};

bool validJson(std::string_view text)
{
    return checkDocument(text).pos < 0;
}

// What a converted value must look like, and that it is a fixed point of the conversion.
void checkConverted(FieldType type, std::string_view source, const std::string &out)
{
    FUZZ_CHECK(validJson(out), "a converted value is not valid JSON");
    std::string again;
    std::string reason;
    switch (type) {
    case FieldType::String: {
        FUZZ_CHECK(out.front() == '"', "a string field is not a JSON string");
        if (isValidUtf8(source)) {
            const QJsonDocument doc =
                QJsonDocument::fromJson("[" + QByteArray::fromStdString(out) + "]");
            FUZZ_CHECK(doc.array().at(0).toString().toUtf8() ==
                           QByteArray(source.data(), qsizetype(source.size())),
                       "a string field does not read back as its source text");
        }
        return;
    }
    case FieldType::Integer:
        FUZZ_CHECK(out.find_first_not_of("-0123456789") == std::string::npos,
                   "an integer field is not an integer literal");
        break;
    case FieldType::Number:
        FUZZ_CHECK(out.front() == '-' || (out.front() >= '0' && out.front() <= '9'),
                   "a number field is not a number");
        break;
    case FieldType::Boolean:
        FUZZ_CHECK(out == "true" || out == "false", "a boolean field is not true or false");
        break;
    case FieldType::Date:
    case FieldType::DateTime:
        FUZZ_CHECK(out.size() >= 2 && out.front() == '"' && out.back() == '"',
                   "a date field is not a JSON string");
        FUZZ_CHECK(
            convertText(type, std::string_view(out).substr(1, out.size() - 2), again, reason),
            "a converted date does not convert again");
        FUZZ_CHECK(again == out, "converting a date again changes it");
        return;
    case FieldType::Json:
        break;
    }
    FUZZ_CHECK(convertText(type, out, again, reason), "a converted value does not convert again");
    FUZZ_CHECK(again == out, "converting a value again changes it");
}

std::string_view trimmedText(std::string_view text)
{
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t'))
        text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t'))
        text.remove_suffix(1);
    return text;
}

// The source texts the numeric types may accept: one optional sign, then digits (and for a
// number a fraction and an exponent). Anything else must be refused.
bool looksNumeric(std::string_view t, bool integer)
{
    size_t i = 0;
    if (i < t.size() && (t[i] == '+' || t[i] == '-'))
        ++i;
    size_t digits = 0;
    while (i < t.size() && t[i] >= '0' && t[i] <= '9')
        ++i, ++digits;
    if (integer)
        return digits > 0 && i == t.size();
    if (i < t.size() && t[i] == '.') {
        ++i;
        while (i < t.size() && t[i] >= '0' && t[i] <= '9')
            ++i, ++digits;
    }
    if (digits == 0)
        return false;
    if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
        ++i;
        if (i < t.size() && (t[i] == '+' || t[i] == '-'))
            ++i;
        size_t exponent = 0;
        while (i < t.size() && t[i] >= '0' && t[i] <= '9')
            ++i, ++exponent;
        if (exponent == 0)
            return false;
    }
    return i == t.size();
}

void convertOne(FieldType type, std::string_view text)
{
    std::string out;
    std::string reason;
    if (!isValidUtf8(text)) {
        // The readers never hand such text on (CsvReader makes it the row's problem, and the
        // row is rejected before conversion): only no crash is asked.
        (void)convertText(type, text, out, reason);
        return;
    }
    if (convertText(type, text, out, reason)) {
        if (type == FieldType::Integer || type == FieldType::Number)
            FUZZ_CHECK(looksNumeric(trimmedText(text), type == FieldType::Integer),
                       "a numeric field accepts text that is not a number");
        checkConverted(type, text, out);
    } else {
        FUZZ_CHECK(!reason.empty(), "a refused value without a reason");
    }
}

void convertValue(FieldType type, const QJsonValue &value)
{
    std::string out;
    std::string reason;
    if (convertJson(type, value, out, reason)) {
        FUZZ_CHECK(validJson(out), "a converted JSON value is not valid JSON");
    } else {
        FUZZ_CHECK(!reason.empty(), "a refused JSON value without a reason");
    }
}

std::vector<std::string_view> split(std::string_view text, char separator)
{
    std::vector<std::string_view> parts;
    size_t from = 0;
    for (;;) {
        const size_t at = text.find(separator, from);
        parts.push_back(text.substr(from, at == std::string_view::npos ? text.npos : at - from));
        if (at == std::string_view::npos)
            return parts;
        from = at + 1;
    }
}

void checkRow(bool ok, const RecordWrite &out, const QList<RowError> &errors, bool object)
{
    if (ok) {
        FUZZ_CHECK(errors.isEmpty(), "a converted row with errors");
        FUZZ_CHECK(validJson(out.doc), "a converted row is not valid JSON");
        const size_t first = out.doc.find_first_not_of(" \t\r\n");
        FUZZ_CHECK(!object || (first != std::string::npos && out.doc[first] == '{'),
                   "a converted row is not a JSON object");
    } else {
        FUZZ_CHECK(!errors.isEmpty(), "a rejected row without errors");
        FUZZ_CHECK(errors.size() <= RecordConverter::MaxRowErrors + 1,
                   "a rejected row lists too many errors");
        for (const RowError &error : errors)
            FUZZ_CHECK(!error.reason.isEmpty(), "a row error without a reason");
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Input in(data, size);
    const unsigned mode = in.byte() % 3;
    const FieldType type = kTypes[in.byte() % 7];
    const std::string_view text = in.rest();
    if (mode == 0) {
        convertOne(type, text);
        return 0;
    }
    if (mode == 1) {
        const QJsonDocument doc =
            QJsonDocument::fromJson("[" + QByteArray(text.data(), qsizetype(text.size())) + "]");
        for (const QJsonValue value : doc.array())
            convertValue(type, value);
        return 0;
    }
    // A mapping, a header and rows, separated by NUL: "mapping\0key\0h1,h2\0a,b\0{...}".
    const std::vector<std::string_view> parts = split(text, '\0');
    std::optional<Mapping> mapping;
    if (!parts[0].empty()) {
        const QJsonDocument doc =
            QJsonDocument::fromJson(QByteArray(parts[0].data(), qsizetype(parts[0].size())));
        auto parsed =
            Mapping::fromJson(doc.isObject() ? QJsonValue(doc.object()) : QJsonValue(doc.array()));
        if (!parsed) {
            FUZZ_CHECK(!parsed.error().message.isEmpty(), "a refused mapping without a reason");
            return 0;
        }
        FUZZ_CHECK(parsed->fields.size() <= size_t(Mapping::MaxFields), "too many fields");
        (void)parsed->columns();
        (void)parsed->types();
        mapping = std::move(*parsed);
    }
    const QString key = parts.size() > 1
                            ? QString::fromUtf8(parts[1].data(), qsizetype(parts[1].size()))
                            : QString();
    // A header row that is not UTF-8 makes the file unimportable before any conversion
    // (MigrationRows::start): only valid ones reach forTable.
    std::vector<std::string> header;
    if (parts.size() > 2 && isValidUtf8(parts[2])) {
        for (const std::string_view name : split(parts[2], ','))
            header.emplace_back(name);
    }
    auto table = RecordConverter::forTable(mapping, key, header);
    auto documents = RecordConverter::forDocuments(mapping, key);
    for (size_t i = 3; i < parts.size(); ++i) {
        RecordWrite out;
        QList<RowError> errors;
        // What the readers hand on: fields of valid UTF-8 (CsvReader flags the others as the
        // row's problem), documents that passed checkDocument.
        if (table && isValidUtf8(parts[i])) {
            const std::vector<std::string_view> fields = split(parts[i], ',');
            checkRow(table->convertRow(fields, out, errors), out, errors, true);
        }
        if (documents && validJson(parts[i])) {
            out = RecordWrite();
            // Without a mapping or key a document is stored as it is: any JSON value.
            const bool object = mapping || !key.isEmpty();
            checkRow(documents->convertDocument(parts[i], out, errors), out, errors, object);
        }
    }
    return 0;
}
