#include "migrate/jsonreader.h"

#include "migrate/jsonsyntax.h"
#include "migrate/readwindow.h"

#include <algorithm>
#include <cstring>

namespace Ferry {

namespace {} // namespace

struct JsonReader::Impl
{
    enum class State { Start, First, AfterComma, Resumed, Element, AfterElement, Closed };

    Impl(ByteSource &s, Options o) : source(s), options(o) { window.base = source.offset(); }

    Status fail(QString text)
    {
        error = std::move(text);
        failed = true;
        return Status::Error;
    }
    bool refill();
    void skipBom();
    Status nextLine(Document &document);
    Status nextElement(Document &document);
    // Skips JSON whitespace from window.pos: 1 at a non-space byte, 0 when more data is
    // needed, -1 at the end of the file.
    int skipSpace();
    // Scans the element from window.pos: true once it has ended (at elementEnd).
    bool scanElement();
    QString truncated() const;
    QString tooLarge() const
    {
        return QStringLiteral("the array element starting at line %1 is larger than %2 bytes")
            .arg(elementLine)
            .arg(options.maxDocumentBytes);
    }
    // "line 3, column 7" for the byte at window.pos.
    QString here() const
    {
        return QStringLiteral("line %1, column %2")
            .arg(line)
            .arg(window.base + qint64(window.pos) - lineStart + 1);
    }

    ByteSource &source;
    Options options;
    ReadWindow window;
    qint64 line = 1;
    qint64 lineStart = 0; // stream offset where the line starts (array layout)
    bool started = false;
    bool failed = false;
    bool done = false;
    QString error;

    // Array layout.
    State state = State::Start;
    qint64 elementLine = 0;
    qint64 elementColumn = 1;
    qint64 elementEndLine = 0;
    size_t elementEnd = 0;
    int depth = 0;
    bool inString = false;
    bool escaped = false;
    bool scalar = false;
};

bool JsonReader::Impl::refill()
{
    const qint64 shift = window.refill(source);
    if (shift < 0) {
        fail(source.error()->toString());
        return false;
    }
    elementEnd -= size_t(shift);
    return true;
}

void JsonReader::Impl::skipBom()
{
    if (window.base != 0)
        return;
    while (window.end - window.pos < 3 && !window.eof) {
        if (!refill())
            return;
    }
    if (window.view(window.pos, window.end).starts_with("\xEF\xBB\xBF"))
        window.begin = window.pos = window.pos + 3;
}

JsonReader::Status JsonReader::Impl::nextLine(Document &document)
{
    ReadWindow &w = window;
    for (;;) {
        const void *newline =
            w.pos < w.end ? std::memchr(w.data.get() + w.pos, '\n', w.end - w.pos) : nullptr;
        size_t lineEnd = 0;
        if (newline) {
            lineEnd = size_t(static_cast<const char *>(newline) - w.data.get());
        } else if (!w.eof) {
            w.pos = w.end;
            if (qint64(w.end - w.begin) > options.maxDocumentBytes + 1) {
                return fail(QStringLiteral("line %1 is longer than %2 bytes")
                                .arg(line)
                                .arg(options.maxDocumentBytes));
            }
            if (!refill())
                return Status::Error;
            continue;
        } else if (w.begin == w.end) {
            done = true;
            return Status::End;
        } else {
            lineEnd = w.end; // the last line, without a line end
        }
        const size_t next = newline ? lineEnd + 1 : lineEnd;
        const size_t lineBegin = w.begin;
        const qint64 documentLine = line;
        if (newline)
            ++line;
        w.begin = w.pos = next;

        // A blank line counts too: read in pieces, its length is checked before it is known to
        // be blank, and the answer must not depend on where the pieces end.
        if (qint64(lineEnd - lineBegin) > options.maxDocumentBytes) {
            return fail(QStringLiteral("line %1 is longer than %2 bytes")
                            .arg(documentLine)
                            .arg(options.maxDocumentBytes));
        }
        std::string_view text = w.view(lineBegin, lineEnd);
        const size_t lead = std::min(text.find_first_not_of(" \t\r"), text.size());
        text.remove_prefix(lead);
        while (!text.empty() && isJsonSpace(text.back()))
            text.remove_suffix(1);
        if (text.empty())
            continue; // blank lines separate nothing
        document.text = text;
        document.line = documentLine;
        document.endOffset = w.base + qint64(next);
        document.endLine = line;
        document.problem.clear();
        const SyntaxError problem = checkDocument(text);
        if (problem.pos >= 0) {
            document.problem = "line " + std::to_string(documentLine) + ", column " +
                               std::to_string(qint64(lead) + problem.pos + 1) + ": " +
                               problem.reason;
        }
        return Status::Document;
    }
}

int JsonReader::Impl::skipSpace()
{
    ReadWindow &w = window;
    while (w.pos < w.end) {
        const char c = w.data[w.pos];
        if (c == '\n') {
            ++line;
            lineStart = w.base + qint64(w.pos) + 1;
        } else if (c != ' ' && c != '\t' && c != '\r') {
            return 1;
        }
        ++w.pos;
    }
    return w.eof ? -1 : 0;
}

bool JsonReader::Impl::scanElement()
{
    ReadWindow &w = window;
    const char *const data = w.data.get();
    size_t p = w.pos;
    const size_t e = w.end;
    for (; p < e; ++p) {
        const char c = data[p];
        if (scalar) {
            // A number or literal ends at the first byte that cannot continue it; the syntax
            // check decides whether what came before is valid.
            if (isJsonSpace(c) || (c != '\0' && std::strchr(",]}[{\":", c))) {
                w.pos = elementEnd = p;
                return true;
            }
            continue;
        }
        if (c == '\n') {
            ++line;
            lineStart = w.base + qint64(p) + 1;
        }
        if (inString) {
            if (escaped)
                escaped = false;
            else if (c == '\\')
                escaped = true;
            else if (c == '"') {
                inString = false;
                if (depth == 0) {
                    w.pos = elementEnd = p + 1;
                    return true;
                }
            }
        } else if (c == '"') {
            inString = true;
        } else if (c == '{' || c == '[') {
            ++depth;
        } else if (c == '}' || c == ']') {
            if (--depth == 0) {
                w.pos = elementEnd = p + 1;
                return true;
            }
        }
    }
    w.pos = p;
    return false;
}

QString JsonReader::Impl::truncated() const
{
    return QStringLiteral("truncated JSON array at line %1: the file ends before the ']' that "
                          "closes the array")
        .arg(line);
}

JsonReader::Status JsonReader::Impl::nextElement(Document &document)
{
    ReadWindow &w = window;
    for (;;) {
        if (state != State::Element && state != State::AfterElement)
            w.begin = w.pos; // between elements nothing needs keeping
        int found = 0;
        switch (state) {
        case State::Start:
            found = skipSpace();
            if (found < 0)
                return fail(QStringLiteral("expected '[' at line %1: the file holds no JSON "
                                           "array (it is empty)")
                                .arg(line));
            if (found == 0)
                break;
            if (w.data[w.pos] != '[') {
                return fail(QStringLiteral("expected '[' at %1: a JSON upload must be one array "
                                           "of values (or NDJSON, one value per line)")
                                .arg(here()));
            }
            ++w.pos;
            state = State::First;
            continue;
        case State::First:
        case State::AfterComma:
        case State::Resumed: {
            found = skipSpace();
            if (found < 0)
                return fail(truncated());
            if (found == 0)
                break;
            const char c = w.data[w.pos];
            if (state == State::Resumed) {
                // Resume points sit just after an element: what follows is a separator.
                if (c != ',' && c != ']') {
                    return fail(QStringLiteral("expected ',' or ']' at %1").arg(here()));
                }
                ++w.pos;
                state = c == ',' ? State::AfterComma : State::Closed;
                continue;
            }
            if (c == ']' && state == State::First) {
                ++w.pos;
                state = State::Closed;
                continue;
            }
            if (c == ']' || c == ',') {
                return fail(QStringLiteral("expected a value at %1, found '%2'")
                                .arg(here())
                                .arg(QLatin1Char(c)));
            }
            w.begin = w.pos;
            elementLine = line;
            elementColumn = w.base + qint64(w.pos) - lineStart + 1;
            depth = (c == '{' || c == '[') ? 1 : 0;
            inString = c == '"';
            escaped = false;
            scalar = depth == 0 && !inString;
            if (!scalar)
                ++w.pos; // the opening byte is accounted for
            state = State::Element;
            continue;
        }
        case State::Element:
            if (scanElement() || (w.eof && scalar)) {
                elementEnd = w.pos; // a number or literal may end with the file
                elementEndLine = line;
                state = State::AfterElement;
                continue;
            }
            if (w.eof) // past the size cap, that is what a reader in pieces has said already
                return fail(qint64(w.end - w.begin) > options.maxDocumentBytes ? tooLarge()
                                                                               : truncated());
            break;
        case State::AfterElement: {
            found = skipSpace();
            if (found < 0)
                return fail(qint64(w.pos - w.begin) > options.maxDocumentBytes ? tooLarge()
                                                                               : truncated());
            if (found == 0)
                break;
            // The element and the white space after it, as a reader in pieces holds them before
            // it sees what follows: so the answer does not depend on where the pieces end.
            if (qint64(w.pos - w.begin) > options.maxDocumentBytes)
                return fail(tooLarge());
            const char c = w.data[w.pos];
            if (c != ',' && c != ']') {
                return fail(QStringLiteral("expected ',' or ']' at %1 after the array element "
                                           "that starts at line %2")
                                .arg(here())
                                .arg(elementLine));
            }
            const std::string_view text = w.view(w.begin, elementEnd);
            const SyntaxError problem = checkDocument(text);
            if (problem.pos >= 0) {
                auto [at, column] = lineAndColumn(text, problem.pos, elementLine);
                if (at == elementLine)
                    column += elementColumn - 1;
                return fail(QStringLiteral("invalid JSON at line %1, column %2: %3")
                                .arg(at)
                                .arg(column)
                                .arg(QLatin1String(problem.reason)));
            }
            // The resume point is just after the value, where a resumed reader expects the
            // separator this one has just seen.
            document.text = text;
            document.line = elementLine;
            document.endOffset = w.base + qint64(elementEnd);
            document.endLine = elementEndLine;
            document.problem.clear();
            ++w.pos;
            state = c == ',' ? State::AfterComma : State::Closed;
            return Status::Document;
        }
        case State::Closed:
            found = skipSpace();
            if (found < 0) {
                done = true;
                return Status::End;
            }
            if (found == 0)
                break;
            return fail(QStringLiteral("unexpected text at %1 after the end of the JSON array")
                            .arg(here()));
        }
        // More data is needed. Between elements nothing is kept: the white space there belongs
        // to no element and counts toward no cap (a whole read never sees it).
        if (state != State::Element && state != State::AfterElement)
            w.begin = w.pos;
        else if (qint64(w.end - w.begin) > options.maxDocumentBytes)
            return fail(tooLarge());
        if (!refill())
            return Status::Error;
    }
}

JsonReader::JsonReader(ByteSource &source, Options options)
    : d(std::make_shared<Impl>(source, options))
{}

Result<void> JsonReader::resumeAt(qint64 offset, qint64 line)
{
    if (d->started)
        return makeError(ErrorCode::Conflict,
                         QStringLiteral("resumeAt() must come before the first document"));
    const Result<void> skipped = d->source.skipTo(offset);
    if (!skipped)
        return skipped;
    d->window.base = d->source.offset();
    d->line = line;
    d->lineStart = d->window.base;
    if (offset > 0)
        d->state = Impl::State::Resumed;
    return {};
}

JsonReader::Status JsonReader::next(Document &document)
{
    if (d->failed)
        return Status::Error;
    if (d->done)
        return Status::End;
    if (!d->started) {
        d->started = true;
        d->skipBom();
        if (d->failed)
            return Status::Error;
    }
    return d->options.layout == Layout::Ndjson ? d->nextLine(document) : d->nextElement(document);
}

QString JsonReader::errorText() const
{
    return d->error;
}

} // namespace Ferry
