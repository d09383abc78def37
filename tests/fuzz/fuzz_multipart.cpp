// MultipartReader (engine/api/multipartreader): raw bodies in random pieces, and forms built
// from the input (any names, file names, types and contents) that must read back as built.
// Properties: where the pieces end changes nothing (same parts, same bytes, same error); a
// well-formed form reads back exactly; a refused body says why; memory stays at a chunk plus
// the boundary and one part's headers, not the body.

#include "fuzzinput.h"

#include "api/multipartreader.h"

using namespace Ferry;
using namespace Ferry::Fuzz;

namespace {

struct ReadPart
{
    QByteArray name;
    QString fileName;
    bool hasFileName = false;
    QByteArray contentType;
    QByteArray data;
    bool ended = false;
    bool operator==(const ReadPart &) const = default;
};

class Collect final : public MultipartReader::Sink
{
public:
    bool partBegin(const MultipartReader::Part &part) override
    {
        FUZZ_CHECK(parts.empty() || parts.back().ended, "a part began inside another");
        parts.push_back({part.name, part.fileName, part.hasFileName, part.contentType, {}, false});
        return true;
    }
    bool partData(QByteArrayView data) override
    {
        FUZZ_CHECK(!parts.empty() && !parts.back().ended, "data outside a part");
        FUZZ_CHECK(!data.isEmpty(), "an empty piece of part data");
        parts.back().data.append(data);
        return true;
    }
    bool partEnd() override
    {
        FUZZ_CHECK(!parts.empty() && !parts.back().ended, "a part ended twice");
        parts.back().ended = true;
        return true;
    }
    std::vector<ReadPart> parts;
};

struct Outcome
{
    std::vector<ReadPart> parts;
    bool ok = false;
    QString error;
};

Outcome readBody(const QByteArray &boundary, const QByteArray &body, uint32_t seed, bool whole)
{
    Collect sink;
    MultipartReader::Limits limits;
    limits.maxHeaderBytes = 1024;
    limits.maxParts = 16;
    MultipartReader reader(boundary, sink, limits);
    Pieces pieces(seed);
    bool ok = true;
    qsizetype at = 0;
    while (ok && at < body.size()) {
        const qsizetype n = whole ? body.size() : qsizetype(pieces.next(size_t(body.size() - at)));
        const size_t baseline = allocatedBytes();
        ok = reader.feed(QByteArrayView(body).sliced(at, n));
        // What the reader keeps between calls: the unfinished delimiter or part headers.
        if (!whole)
            checkMemory(baseline, size_t(n + boundary.size()) + 1024,
                        "MultipartReader keeps more than a chunk, the boundary and headers");
        at += n;
    }
    if (ok)
        ok = reader.finish();
    Outcome outcome{std::move(sink.parts), ok, reader.error()};
    if (!ok)
        FUZZ_CHECK(!outcome.error.isEmpty(), "a refused form without a reason");
    return outcome;
}

// A header value's quoted-string, as curl and browsers write it.
QByteArray quoted(QByteArray text)
{
    text.replace('\\', "\\\\").replace('"', "\\\"");
    return '"' + text + '"';
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Input in(data, size);
    const bool generated = in.flag();
    const uint32_t seed = in.byte();
    const QByteArray rest = in.restBytes();

    // headerParameters and boundaryOf take any header text.
    const QByteArray boundary = MultipartReader::boundaryOf(rest.left(200));
    FUZZ_CHECK(boundary.isEmpty() || (boundary.size() >= 1 && boundary.size() <= 70),
               "a boundary of more than 70 characters");

    if (!generated) {
        // "boundary\nbody"
        const qsizetype newline = rest.indexOf('\n');
        const QByteArray raw = newline < 0 ? QByteArray("b") : rest.left(newline);
        if (raw.isEmpty() || raw.size() > 70)
            return 0;
        const QByteArray body = newline < 0 ? rest : rest.mid(newline + 1);
        const Outcome whole = readBody(raw, body, seed, true);
        const Outcome pieced = readBody(raw, body, seed, false);
        FUZZ_CHECK(whole.ok == pieced.ok && whole.error == pieced.error,
                   "the outcome depends on where the pieces end");
        FUZZ_CHECK(whole.parts == pieced.parts, "the parts depend on where the pieces end");
        return 0;
    }

    // A form: parts separated by "\x01", each "name\x02filename\x02type\x02content" (filename
    // and type optional). Line ends in header values are not allowed there; they go.
    QList<ReadPart> expected;
    QByteArray body = "preamble\r\n";
    const QByteArray formBoundary = "----ferryfuzz" + QByteArray::number(seed);
    for (const QByteArray &spec : rest.split('\x01')) {
        QList<QByteArray> fields = spec.split('\x02');
        const QByteArray content = fields.takeLast();
        auto header = [](QByteArray value) {
            value.replace('\r', ' ').replace('\n', ' ').replace(';', ' ');
            while (!value.isEmpty() && (value.front() == ' ' || value.front() == '\t'))
                value.remove(0, 1);
            while (!value.isEmpty() && (value.back() == ' ' || value.back() == '\t'))
                value.chop(1);
            return value;
        };
        ReadPart part;
        part.name = header(fields.value(0, "field"));
        if (part.name.isEmpty())
            part.name = "field";
        part.hasFileName = fields.size() > 1;
        const QByteArray fileName = part.hasFileName ? header(fields.at(1)) : QByteArray();
        part.fileName = QString::fromUtf8(fileName);
        part.contentType = fields.size() > 2 ? header(fields.at(2)) : QByteArray();
        part.data = content;
        part.ended = true;
        if (content.contains(QByteArray("\r\n--" + formBoundary)))
            return 0; // a real client picks a boundary the content lacks
        body +=
            "--" + formBoundary + "\r\nContent-Disposition: form-data; name=" + quoted(part.name);
        if (part.hasFileName)
            body += "; filename=" + quoted(fileName);
        body += "\r\n";
        if (fields.size() > 2)
            body += "Content-Type: " + part.contentType + "\r\n";
        body += "\r\n" + content + "\r\n";
        expected.append(part);
    }
    body += "--" + formBoundary + "--\r\nepilogue";
    if (expected.size() > 16)
        return 0;
    const Outcome read = readBody(formBoundary, body, seed, false);
    // Header blocks over the limit are refused, rightly; everything else reads back.
    if (!read.ok && read.error.contains(QLatin1String("headers of a form part exceed")))
        return 0;
    FUZZ_CHECK(read.ok, "a well-formed form was refused");
    FUZZ_CHECK(qsizetype(read.parts.size()) == expected.size(),
               "a form read back with other parts");
    for (qsizetype i = 0; i < expected.size(); ++i)
        FUZZ_CHECK(read.parts[size_t(i)] == expected[i], "a part read back differently");
    return 0;
}
