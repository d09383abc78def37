// CsvReader (engine/migrate/csvreader): every dialect the upload parameters allow, bytes in
// random pieces. Properties: the pieces do not change the rows; resuming from any row's
// checkpoint gives the rest of the rows; a refused file says at which line; memory stays
// bounded by the input.

#include "fuzzinput.h"

#include "migrate/csvreader.h"

#include <string>

using namespace Ferry;
using namespace Ferry::Fuzz;

namespace {

struct Row
{
    std::vector<std::string> fields;
    qint64 line = 0;
    qint64 endOffset = 0;
    qint64 endLine = 0;
    std::string problem;
    bool operator==(const Row &) const = default;
};

struct Read
{
    std::vector<Row> rows;
    CsvReader::Status last = CsvReader::Status::End;
    QString error;
};

Read readAll(ByteSource &source,
             const CsvReader::Options &options,
             qint64 offset,
             qint64 line,
             size_t inputBytes)
{
    const size_t baseline = allocatedBytes();
    CsvReader reader(source, options);
    if (offset > 0)
        FUZZ_CHECK(reader.resumeAt(offset, line).ok(), "resumeAt a row's checkpoint refused");
    Read result;
    CsvReader::Row row;
    for (;;) {
        result.last = reader.next(row);
        checkMemory(baseline, inputBytes, "CsvReader holds more memory than its input warrants");
        if (result.last != CsvReader::Status::Row)
            break;
        FUZZ_CHECK(qsizetype(row.fields.size()) <= options.maxFields, "more fields than maxFields");
        Row copy;
        for (const std::string_view field : row.fields)
            copy.fields.emplace_back(field);
        copy.line = row.line;
        copy.endOffset = row.endOffset;
        copy.endLine = row.endLine;
        copy.problem = row.problem;
        FUZZ_CHECK(copy.line >= 1 && copy.endLine >= copy.line, "row lines out of order");
        FUZZ_CHECK(result.rows.empty() || (copy.endOffset > result.rows.back().endOffset &&
                                           copy.line >= result.rows.back().endLine),
                   "rows do not move forward");
        FUZZ_CHECK(copy.endOffset <= qint64(inputBytes), "checkpoint past the end of the input");
        result.rows.push_back(std::move(copy));
    }
    if (result.last == CsvReader::Status::Error)
        result.error = reader.errorText();
    FUZZ_CHECK(reader.next(row) == result.last, "the end of the file is not sticky");
    return result;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Input in(data, size);
    // The dialects UploadParams accepts (migrationrequest.cpp checkCsvCharacter): any ASCII
    // character but a line end as delimiter or quote, quote '\0' for none (TSV).
    auto character = [&](uint8_t raw) {
        char c = char(raw & 0x7f);
        return c == '\n' || c == '\r' ? ',' : c;
    };
    CsvReader::Options options;
    switch (in.byte() % 4) {
    case 0:
        break; // RFC 4180
    case 1:
        options = tsvOptions();
        break;
    case 2:
        options.delimiter = character(in.byte());
        break;
    default:
        options.delimiter = character(in.byte());
        options.quote = character(in.byte());
        break;
    }
    if (in.flag())
        options.maxRecordBytes = 1 + in.upTo(256);
    if (in.flag())
        options.maxFields = 1 + in.upTo(16);
    const uint32_t seed = in.byte();
    const QByteArray input = in.restBytes();
    const size_t bytes = size_t(input.size());

    auto whole = ByteSource::fromBytes(input, {});
    const Read reference = readAll(*whole, options, 0, 1, bytes);
    PieceSource pieces(input, seed);
    const Read pieced = readAll(pieces, options, 0, 1, bytes);
    if (std::getenv("FERRY_FUZZ_DEBUG")) {
        for (const Read *r : {&reference, &pieced})
            std::fprintf(stderr, "rows %zu last %d error %s\n", r->rows.size(), int(r->last),
                         qPrintable(r->error));
    }
    FUZZ_CHECK(pieced.rows == reference.rows, "rows depend on where the chunks end");
    FUZZ_CHECK(pieced.last == reference.last && pieced.error == reference.error,
               "the end depends on where the chunks end");
    if (reference.last == CsvReader::Status::Error) {
        FUZZ_CHECK(!reference.error.isEmpty(), "a refused file without a reason");
        FUZZ_CHECK(reference.error.contains(QLatin1String("line")) ||
                       reference.error.contains(QLatin1String("offset")),
                   "a refused file does not say where it failed");
    }

    // Every checkpoint resumes to the same rows (a few, for long files).
    const size_t count = reference.rows.size();
    const size_t step = count > 8 ? count / 8 : 1;
    for (size_t i = 0; i < count; i += step) {
        const Row &at = reference.rows[i];
        PieceSource resumed(input, seed + 1);
        const Read rest = readAll(resumed, options, at.endOffset, at.endLine, bytes);
        FUZZ_CHECK(rest.last == reference.last, "a resumed reader ends differently");
        FUZZ_CHECK(rest.rows.size() == count - i - 1, "a resumed reader reads another row count");
        for (size_t k = 0; k < rest.rows.size(); ++k)
            FUZZ_CHECK(rest.rows[k] == reference.rows[i + 1 + k],
                       "a resumed reader reads other rows");
    }
    return 0;
}
