#include "migrate/csvreader.h"
#include "migrate/readwindow.h"

#include "migrate/jsonreader.h" // isValidUtf8

#include <algorithm>
#include <array>
#include <cstring>

// Choices where RFC 4180 is silent or strict, documented here for the importer:
// - An empty line is a record of one empty field (RFC 4180 reading); the importer skips such
//   records as blank lines. A file's final line end does not start another record.
// - A quote inside an unquoted field is an ordinary byte ("5" tall" stays as is).
// - Text after a closing quote ("a"b,) is kept, appended to the field ("ab"), and the row
//   carries a problem.
// - Lines are physical: CRLF, LF and a lone CR each end one, inside quotes too.
// - maxRecordBytes counts the record's raw bytes with its line end; maxFields its fields.

namespace Ferry {

namespace {

// A field of the record being read: in the window (relative to the record's start, which
// moves on refills) or, when it had doubled quotes or trailing text, in the scratch buffer.
struct FieldRef
{
    size_t offset;
    size_t length;
    bool inScratch;
};

} // namespace

struct CsvReader::Impl
{
    enum class State { FieldStart, Unquoted, Quoted, AfterQuote, LineEnd };
    enum class Step { Record, NoRecord, NeedMore, Failed };

    Impl(ByteSource &s, Options o) : source(s), options(o)
    {
        window.base = source.offset();
        stops.fill(false);
        stops[uchar('\n')] = stops[uchar('\r')] = true;
        stops[uchar(options.delimiter)] = true;
        quotedStops.fill(false);
        quotedStops[uchar('\n')] = quotedStops[uchar('\r')] = true;
        if (options.quote != '\0')
            quotedStops[uchar(options.quote)] = true;
    }

    bool refill();
    void skipBom();
    Step parse();
    void addField(size_t from, size_t to)
    {
        fields.push_back({from - window.begin, to - from, false});
    }
    void toScratch(size_t from, size_t to)
    {
        if (!inScratch) {
            inScratch = true;
            scratchBegin = scratch.size();
        }
        scratch.append(window.data.get() + from, to - from);
    }
    void closeScratchField()
    {
        fields.push_back({scratchBegin, scratch.size() - scratchBegin, true});
        inScratch = false;
    }
    Status fail(QString text)
    {
        error = std::move(text);
        failed = true;
        return Status::Error;
    }
    Status emit(Row &row);
    QString tooLong() const
    {
        return QStringLiteral("the record starting at line %1 is longer than %2 bytes")
            .arg(recordLine)
            .arg(options.maxRecordBytes);
    }

    ByteSource &source;
    Options options;
    ReadWindow window;
    std::array<bool, 256> stops;       // end an unquoted field
    std::array<bool, 256> quotedStops; // interrupt a quoted one
    bool started = false;
    bool failed = false;
    bool done = false;
    QString error;

    // The record being read.
    State state = State::FieldStart;
    qint64 line = 1;       // physical line at window.pos
    qint64 recordLine = 1; // where the record started
    qint64 fieldLine = 1;  // where the current field started
    size_t fieldBegin = 0; // absolute window positions, shifted on refills
    size_t segmentBegin = 0;
    bool inScratch = false;
    size_t scratchBegin = 0;
    bool garbage = false; // text after a closing quote in this record
    size_t garbageField = 0;
    std::vector<FieldRef> fields;
    std::string scratch;
};

bool CsvReader::Impl::refill()
{
    const qint64 shift = window.refill(source);
    if (shift < 0) {
        fail(source.error()->toString());
        return false;
    }
    fieldBegin -= size_t(shift);
    segmentBegin -= size_t(shift);
    return true;
}

void CsvReader::Impl::skipBom()
{
    if (window.base != 0)
        return;
    while (window.end - window.pos < 3 && !window.eof) {
        if (!refill())
            return;
    }
    if (window.end - window.pos >= 3 &&
        std::memcmp(window.data.get() + window.pos, "\xEF\xBB\xBF", 3) == 0)
        window.begin = window.pos = window.pos + 3;
}

// The state machine over the window. It stops where the data ends (NeedMore) and carries on
// from the same state after a refill, so nothing is scanned twice however small the chunks.
CsvReader::Impl::Step CsvReader::Impl::parse()
{
    const char *const data = window.data.get();
    const size_t end = window.end;
    const bool eof = window.eof;
    const char delimiter = options.delimiter;
    const char quote = options.quote;
    size_t p = window.pos;
    for (;;) {
        switch (state) {
        case State::FieldStart:
            if (qsizetype(fields.size()) >= options.maxFields) {
                window.pos = p;
                // A record past both caps gets the one it passed first, wherever the chunks
                // end: read in pieces, the length check between refills would have said so.
                if (qint64(p - window.begin) > options.maxRecordBytes) {
                    error = tooLong();
                    return Step::Failed;
                }
                error = QStringLiteral("the record starting at line %1 has more than %2 fields. "
                                       "Ferry reads at most %2 columns: check the delimiter, or "
                                       "split the file into narrower ones.")
                            .arg(recordLine)
                            .arg(options.maxFields);
                return Step::Failed;
            }
            if (p == end) {
                if (!eof)
                    goto needMore;
                if (fields.empty() && p == window.begin)
                    return Step::NoRecord;
                addField(p, p); // "a," at the end of the file: a last, empty field
                window.pos = p;
                return Step::Record;
            }
            fieldLine = line;
            if (quote != '\0' && data[p] == quote) {
                ++p;
                fieldBegin = segmentBegin = p;
                state = State::Quoted;
            } else {
                fieldBegin = p;
                state = State::Unquoted;
            }
            break;
        case State::Unquoted: {
            const auto *q = reinterpret_cast<const unsigned char *>(data + p);
            while (!stops[*q]) // the sentinel at end stops this
                ++q;
            p = size_t(reinterpret_cast<const char *>(q) - data);
            if (p == end && !eof)
                goto needMore;
            addField(fieldBegin, p);
            if (p == end) {
                window.pos = p;
                return Step::Record;
            }
            if (data[p] == delimiter) {
                ++p;
                state = State::FieldStart;
            } else {
                state = State::LineEnd;
            }
            break;
        }
        case State::Quoted: {
            const auto *q = reinterpret_cast<const unsigned char *>(data + p);
            while (!quotedStops[*q])
                ++q;
            p = size_t(reinterpret_cast<const char *>(q) - data);
            if (p == end) {
                if (!eof)
                    goto needMore;
                window.pos = p;
                error =
                    QStringLiteral("unterminated quoted field starting at line %1").arg(fieldLine);
                return Step::Failed;
            }
            const char c = data[p];
            if (c == '\n') {
                if (data[p - 1] != '\r') // CRLF counts once
                    ++line;
                ++p;
                break;
            }
            if (c == '\r') {
                ++line;
                ++p;
                break;
            }
            // A quote: doubled, closing, or closing with text after it.
            if (p + 1 == end && !eof)
                goto needMore;
            const char after = p + 1 == end ? '\n' : data[p + 1];
            if (after == quote) {
                toScratch(segmentBegin, p + 1);
                p += 2;
                segmentBegin = p;
                break;
            }
            if (after == delimiter || after == '\n' || after == '\r') {
                if (inScratch) {
                    toScratch(segmentBegin, p);
                    closeScratchField();
                } else {
                    addField(fieldBegin, p);
                }
                ++p;
                if (p == end) {
                    window.pos = p;
                    return Step::Record;
                }
                if (after == delimiter) {
                    ++p;
                    state = State::FieldStart;
                } else {
                    state = State::LineEnd;
                }
                break;
            }
            toScratch(segmentBegin, p);
            ++p;
            segmentBegin = p;
            if (!garbage) {
                garbage = true;
                garbageField = fields.size() + 1;
            }
            state = State::AfterQuote;
            break;
        }
        case State::AfterQuote: {
            const auto *q = reinterpret_cast<const unsigned char *>(data + p);
            while (!stops[*q])
                ++q;
            p = size_t(reinterpret_cast<const char *>(q) - data);
            if (p == end && !eof)
                goto needMore;
            toScratch(segmentBegin, p);
            closeScratchField();
            if (p == end) {
                window.pos = p;
                return Step::Record;
            }
            if (data[p] == delimiter) {
                ++p;
                state = State::FieldStart;
            } else {
                state = State::LineEnd;
            }
            break;
        }
        case State::LineEnd:
            // p is at a CR or LF; a CR needs the next byte to know whether an LF follows.
            if (data[p] == '\r') {
                if (p + 1 == end && !eof)
                    goto needMore;
                p += (p + 1 < end && data[p + 1] == '\n') ? 2 : 1;
            } else {
                ++p;
            }
            ++line;
            window.pos = p;
            return Step::Record;
        }
    }
needMore:
    window.pos = p;
    return Step::NeedMore;
}

CsvReader::Status CsvReader::Impl::emit(Row &row)
{
    const size_t recordBytes = window.pos - window.begin;
    if (qint64(recordBytes) > options.maxRecordBytes)
        return fail(tooLong());
    const char *const record = window.data.get() + window.begin;
    row.fields.clear();
    row.problem.clear();
    size_t badField = 0;
    for (const FieldRef &field : fields) {
        const std::string_view text(
            field.inScratch ? scratch.data() + field.offset : record + field.offset, field.length);
        row.fields.push_back(text);
        if (badField == 0 && !isValidUtf8(text))
            badField = row.fields.size();
    }
    if (badField > 0)
        row.problem = "invalid UTF-8 in field " + std::to_string(badField);
    if (garbage) {
        if (!row.problem.empty())
            row.problem += "; ";
        row.problem +=
            "unexpected text after the closing quote of field " + std::to_string(garbageField);
    }
    row.line = recordLine;
    row.endOffset = window.base + qint64(window.pos);
    row.endLine = line;
    return Status::Row;
}

CsvReader::CsvReader(ByteSource &source, Options options)
    : d(std::make_shared<Impl>(source, options))
{}

Result<void> CsvReader::resumeAt(qint64 offset, qint64 line)
{
    if (d->started)
        return makeError(ErrorCode::Conflict,
                         QStringLiteral("resumeAt() must come before the first record"));
    const Result<void> skipped = d->source.skipTo(offset);
    if (!skipped)
        return skipped;
    d->window.base = d->source.offset();
    d->line = line;
    return {};
}

CsvReader::Status CsvReader::next(Row &row)
{
    Impl &m = *d;
    if (m.failed)
        return Status::Error;
    if (m.done)
        return Status::End;
    if (!m.started) {
        m.started = true;
        m.skipBom();
        if (m.failed)
            return Status::Error;
    }
    // A new record starts where the last one ended.
    m.window.begin = m.window.pos;
    m.state = Impl::State::FieldStart;
    m.recordLine = m.line;
    m.fields.clear();
    m.scratch.clear();
    m.inScratch = false;
    m.garbage = false;
    for (;;) {
        switch (m.parse()) {
        case Impl::Step::Record:
            return m.emit(row);
        case Impl::Step::NoRecord:
            m.done = true;
            return Status::End;
        case Impl::Step::Failed:
            m.failed = true;
            return Status::Error;
        case Impl::Step::NeedMore:
            if (qint64(m.window.end - m.window.begin) > m.options.maxRecordBytes)
                return m.fail(m.tooLong());
            if (!m.refill())
                return Status::Error;
            break;
        }
    }
}

QString CsvReader::errorText() const
{
    return d->error;
}

CsvReader::Options tsvOptions()
{
    CsvReader::Options options;
    options.delimiter = '\t';
    options.quote = '\0';
    return options;
}

} // namespace Ferry
