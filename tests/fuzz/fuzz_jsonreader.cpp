// JsonReader (engine/migrate/jsonreader, jsonsyntax): NDJSON and JSON-array layouts, bytes in
// random pieces. Properties: the pieces do not change the documents; resuming from any
// document's checkpoint gives the rest; a refused file or line says where; and a differential
// check against QJsonDocument on whole documents (same accept/reject, same values).

#include "fuzzinput.h"

#include "migrate/jsonreader.h"
#include "migrate/jsonsyntax.h"

#include <QJsonArray>
#include <QJsonDocument>

#include <cctype>
#include <cstring>
#include <optional>
#include <string>

using namespace Ferry;
using namespace Ferry::Fuzz;

namespace {

struct Doc
{
    std::string text;
    qint64 line = 0;
    qint64 endOffset = 0;
    qint64 endLine = 0;
    std::string problem;
    bool operator==(const Doc &) const = default;
};

struct Read
{
    std::vector<Doc> docs;
    JsonReader::Status last = JsonReader::Status::End;
    QString error;
};

Read readAll(ByteSource &source,
             const JsonReader::Options &options,
             qint64 offset,
             qint64 line,
             size_t inputBytes)
{
    const size_t baseline = allocatedBytes();
    JsonReader reader(source, options);
    if (offset > 0)
        FUZZ_CHECK(reader.resumeAt(offset, line).ok(), "resumeAt a checkpoint refused");
    Read result;
    JsonReader::Document document;
    for (;;) {
        result.last = reader.next(document);
        checkMemory(baseline, inputBytes, "JsonReader holds more memory than its input warrants");
        if (result.last != JsonReader::Status::Document)
            break;
        Doc copy{std::string(document.text), document.line, document.endOffset, document.endLine,
                 document.problem};
        FUZZ_CHECK(copy.line >= 1 && copy.endLine >= copy.line, "document lines out of order");
        FUZZ_CHECK(result.docs.empty() || copy.endOffset > result.docs.back().endOffset,
                   "documents do not move forward");
        FUZZ_CHECK(copy.endOffset <= qint64(inputBytes), "checkpoint past the end of the input");
        if (!copy.problem.empty())
            FUZZ_CHECK(copy.problem.starts_with("line "), "a refused line does not say where");
        result.docs.push_back(std::move(copy));
    }
    if (result.last == JsonReader::Status::Error)
        result.error = reader.errorText();
    FUZZ_CHECK(reader.next(document) == result.last, "the end of the file is not sticky");
    return result;
}

// Where Qt refuses on purpose what JSON allows: a number past double's range ("1e999"), which
// our check takes by design (it checks the grammar; PostgreSQL's jsonb stores such numbers,
// and a mapping's conversion refuses them row by row).
bool qtRefusesByDesign(const QByteArray &text)
{
    QJsonParseError error;
    QJsonDocument::fromJson(text, &error);
    return error.error == QJsonParseError::IllegalNumber;
}

// One JSON value as Qt reads it (any value: wrapped in an array of one).
std::optional<QJsonValue> qtValue(std::string_view text)
{
    const QByteArray wrapped = '[' + QByteArray(text.data(), qsizetype(text.size())) + ']';
    QJsonParseError error;
    const QJsonDocument document = QJsonDocument::fromJson(wrapped, &error);
    if (error.error != QJsonParseError::NoError || !document.isArray() ||
        document.array().size() != 1)
        return std::nullopt;
    return document.array().at(0);
}

// RFC 8259 to the letter, as the tie-breaker where Qt's parser is more lenient than the
// standard (it takes raw control characters in strings, "\q", ".5", "-55.e10"): a small
// recursive descent written from the RFC's grammar, nothing shared with the engine's check.
class Strict
{
public:
    static bool valid(std::string_view text)
    {
        const QByteArray bytes(text.data(), qsizetype(text.size()));
        if (QString::fromUtf8(bytes).toUtf8() != bytes) // not UTF-8 (RFC 8259 section 8.1)
            return false;
        Strict parser(text);
        parser.space();
        if (!parser.value(0))
            return false;
        parser.space();
        return parser.m_pos == text.size();
    }

private:
    explicit Strict(std::string_view text) : m_text(text) {}
    bool at(char c) const { return m_pos < m_text.size() && m_text[m_pos] == c; }
    bool digit() const
    {
        return m_pos < m_text.size() && m_text[m_pos] >= '0' && m_text[m_pos] <= '9';
    }
    void space()
    {
        while (at(' ') || at('\t') || at('\n') || at('\r'))
            ++m_pos;
    }
    bool literal(std::string_view word)
    {
        if (m_text.substr(m_pos, word.size()) != word)
            return false;
        m_pos += word.size();
        return true;
    }
    bool digits()
    {
        if (!digit())
            return false;
        while (digit())
            ++m_pos;
        return true;
    }
    bool number()
    {
        if (at('-'))
            ++m_pos;
        if (at('0'))
            ++m_pos;
        else if (!digits())
            return false;
        if (at('.')) {
            ++m_pos;
            if (!digits())
                return false;
        }
        if (at('e') || at('E')) {
            ++m_pos;
            if (at('+') || at('-'))
                ++m_pos;
            if (!digits())
                return false;
        }
        return true;
    }
    bool string()
    {
        ++m_pos; // the opening quote
        for (;;) {
            if (m_pos >= m_text.size() || uchar(m_text[m_pos]) < 0x20)
                return false;
            const char c = m_text[m_pos++];
            if (c == '"')
                return true;
            if (c != '\\')
                continue;
            if (m_pos >= m_text.size())
                return false;
            const char escape = m_text[m_pos++];
            if (escape == 'u') {
                for (int i = 0; i < 4; ++i, ++m_pos) {
                    if (m_pos >= m_text.size() || !std::isxdigit(uchar(m_text[m_pos])))
                        return false;
                }
            } else if (!std::strchr("\"\\/bfnrt", escape) || escape == '\0') {
                return false;
            }
        }
    }
    bool value(int depth)
    {
        if (depth > 4096)
            return false; // deeper than any input the fuzzer makes
        if (at('"'))
            return string();
        if (at('[') || at('{')) {
            const bool object = at('{');
            const char close = object ? '}' : ']';
            ++m_pos;
            space();
            if (at(close)) {
                ++m_pos;
                return true;
            }
            for (;;) {
                if (object) {
                    if (!at('"') || !string())
                        return false;
                    space();
                    if (!at(':'))
                        return false;
                    ++m_pos;
                    space();
                }
                if (!value(depth + 1))
                    return false;
                space();
                if (at(close)) {
                    ++m_pos;
                    return true;
                }
                if (!at(','))
                    return false;
                ++m_pos;
                space();
            }
        }
        return literal("true") || literal("false") || literal("null") || number();
    }

    std::string_view m_text;
    size_t m_pos = 0;
};

// Where our check refuses on purpose what RFC 8259 allows: nesting past our cap, and lone \u
// surrogates (nothing downstream can store them).
bool refusedByDesign(std::string_view text)
{
    const SyntaxError problem = checkDocument(text);
    if (problem.pos < 0)
        return false;
    const std::string_view reason = problem.reason;
    return reason.starts_with("nested deeper") || reason.starts_with("unpaired UTF-16");
}

// Our verdict on one whole document against Qt's, with the RFC deciding where they differ:
// what we accept, Qt accepts (but numbers past double's range) and the RFC allows; what we
// refuse and Qt accepts, the RFC forbids (or we refuse by design).
void compareDocument(std::string_view text, bool weAccept, bool qtAccepts, bool qtIllegalNumber)
{
    if (weAccept) {
        FUZZ_CHECK(qtAccepts || qtIllegalNumber, "the reader accepts JSON QJsonDocument refuses");
        FUZZ_CHECK(Strict::valid(text), "the reader accepts JSON that RFC 8259 forbids");
    } else if (qtAccepts) {
        FUZZ_CHECK(!Strict::valid(text) || refusedByDesign(text),
                   "the reader refuses valid JSON that QJsonDocument accepts");
    }
}

// The NDJSON differential: each document the reader gives is accepted by it exactly when Qt
// accepts it, and reads as the same value.
void compareLine(const Doc &doc)
{
    const std::optional<QJsonValue> qt = qtValue(doc.text);
    compareDocument(doc.text, doc.problem.empty(), qt.has_value(),
                    qtRefusesByDesign('[' + QByteArray::fromStdString(doc.text) + ']'));
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Input in(data, size);
    JsonReader::Options options;
    options.layout = in.flag() ? JsonReader::Layout::Array : JsonReader::Layout::Ndjson;
    const bool capped = in.flag();
    if (capped)
        options.maxDocumentBytes = 1 + in.upTo(512);
    const uint32_t seed = in.byte();
    const QByteArray input = in.restBytes();
    const size_t bytes = size_t(input.size());

    auto whole = ByteSource::fromBytes(input, {});
    const Read reference = readAll(*whole, options, 0, 1, bytes);
    PieceSource pieces(input, seed);
    const Read pieced = readAll(pieces, options, 0, 1, bytes);
    if (std::getenv("FERRY_FUZZ_DEBUG")) {
        for (const Read *r : {&reference, &pieced})
            std::fprintf(stderr, "docs %zu last %d error %s\n", r->docs.size(), int(r->last),
                         qPrintable(r->error));
    }
    FUZZ_CHECK(pieced.docs == reference.docs, "documents depend on where the chunks end");
    FUZZ_CHECK(pieced.last == reference.last && pieced.error == reference.error,
               "the end depends on where the chunks end");
    if (reference.last == JsonReader::Status::Error) {
        FUZZ_CHECK(!reference.error.isEmpty(), "a refused file without a reason");
        FUZZ_CHECK(reference.error.contains(QLatin1String("line")),
                   "a refused file does not say at which line");
    }

    const size_t count = reference.docs.size();
    const size_t step = count > 8 ? count / 8 : 1;
    for (size_t i = 0; i < count; i += step) {
        const Doc &at = reference.docs[i];
        PieceSource resumed(input, seed + 1);
        const Read rest = readAll(resumed, options, at.endOffset, at.endLine, bytes);
        FUZZ_CHECK(rest.last == reference.last, "a resumed reader ends differently");
        FUZZ_CHECK(rest.docs.size() == count - i - 1, "a resumed reader reads another count");
        for (size_t k = 0; k < rest.docs.size(); ++k)
            FUZZ_CHECK(rest.docs[k] == reference.docs[i + 1 + k],
                       "a resumed reader reads other documents");
    }

    if (capped)
        return 0; // the differential needs whole documents, not the size cap's refusals
    if (options.layout == JsonReader::Layout::Ndjson) {
        for (const Doc &doc : reference.docs)
            compareLine(doc);
        return 0;
    }
    // The array layout against Qt reading the whole file as one document.
    QByteArray text = input;
    if (text.startsWith("\xEF\xBB\xBF"))
        text.remove(0, 3); // the reader skips a BOM; Qt's parser does not know one
    QJsonParseError error;
    const QJsonDocument document = QJsonDocument::fromJson(text, &error);
    const bool qtAccepts = error.error == QJsonParseError::NoError && document.isArray();
    const bool weAccept = reference.last == JsonReader::Status::End;
    compareDocument(std::string_view(text.constData(), size_t(text.size())), weAccept, qtAccepts,
                    qtRefusesByDesign(text));
    if (!weAccept || !qtAccepts)
        return 0;
    const QJsonArray array = document.array();
    FUZZ_CHECK(qsizetype(count) == array.size(), "the reader and Qt count other elements");
    for (size_t i = 0; i < count; ++i) {
        const std::optional<QJsonValue> value = qtValue(reference.docs[i].text);
        FUZZ_CHECK(value.has_value(), "an element the reader gives does not parse alone");
        FUZZ_CHECK(*value == array.at(qsizetype(i)), "an element reads as another value");
    }
    return 0;
}
