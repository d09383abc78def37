// ByteSource (engine/migrate/bytesource): plain bytes and gzip (one or more members, maybe
// corrupt or truncated), read in pieces of random size, with a random decompressed-size cap and
// buffer size. Properties: plain bytes come out unchanged; gzip comes out as zlib inflates it,
// or as a prefix of that followed by an error that says where; the cap is never passed; skipTo
// lands on the same bytes as reading; memory stays at the buffers, whatever the ratio.

#include "fuzzinput.h"

#include <zlib.h>

using namespace Ferry;
using namespace Ferry::Fuzz;

namespace {

struct Inflated
{
    QByteArray bytes;
    bool ok = false;
};

// The reference: zlib's inflate over the whole input, member after member (RFC 1952), stopping
// at the first error. Bounded so that a bomb in the corpus cannot take the fuzzer's memory.
Inflated inflateAll(const QByteArray &input, qint64 limit)
{
    Inflated result;
    z_stream stream{};
    if (inflateInit2(&stream, 15 + 16) != Z_OK)
        return result;
    stream.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(input.constData()));
    stream.avail_in = uInt(input.size());
    char out[4096];
    for (;;) {
        stream.next_out = reinterpret_cast<Bytef *>(out);
        stream.avail_out = sizeof out;
        const int rc = inflate(&stream, Z_NO_FLUSH);
        result.bytes.append(out, qsizetype(sizeof out - stream.avail_out));
        if (result.bytes.size() > limit)
            break; // past the cap: the source must refuse; the rest does not matter
        if (rc == Z_STREAM_END) {
            if (stream.avail_in == 0) {
                result.ok = true;
                break;
            }
            inflateReset(&stream);
            continue;
        }
        if (rc != Z_OK)
            break; // corrupt, or truncated (Z_BUF_ERROR with no input left)
    }
    inflateEnd(&stream);
    return result;
}

QByteArray gzip(const QByteArray &bytes, int level)
{
    z_stream stream{};
    if (deflateInit2(&stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return {};
    QByteArray out(qsizetype(deflateBound(&stream, uLong(bytes.size()))) + 64, '\0');
    stream.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(bytes.constData()));
    stream.avail_in = uInt(bytes.size());
    stream.next_out = reinterpret_cast<Bytef *>(out.data());
    stream.avail_out = uInt(out.size());
    deflate(&stream, Z_FINISH);
    out.truncate(qsizetype(stream.total_out));
    deflateEnd(&stream);
    return out;
}

struct Drained
{
    QByteArray bytes;
    bool failed = false;
    QString error;
};

Drained drain(ByteSource &source, Pieces &pieces, size_t inputBytes, qint64 cap)
{
    const qint64 start = source.offset();
    const size_t baseline = allocatedBytes();
    Drained result;
    result.bytes.reserve(qsizetype(std::min<qint64>(cap, 1 << 20)));
    for (;;) {
        const size_t want = pieces.next(1 << 16);
        const std::string_view chunk = source.read(qsizetype(want));
        FUZZ_CHECK(chunk.size() <= want, "read() handed out more than asked for");
        if (chunk.empty())
            break;
        result.bytes.append(chunk.data(), qsizetype(chunk.size()));
        FUZZ_CHECK(source.offset() == start + qint64(result.bytes.size()),
                   "offset() does not count the bytes handed out");
        // The source's own memory: its buffers, not the decompressed size.
        checkMemory(baseline + size_t(result.bytes.capacity()), inputBytes,
                    "ByteSource holds memory beyond its buffers");
    }
    if (source.error()) {
        result.failed = true;
        result.error = source.error()->toString();
    }
    return result;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Input in(data, size);
    const unsigned mode = in.byte() % 4; // 0 as is, 1 gzip it, 2 gzip and truncate, 3 two members
    ByteSource::Options options;
    options.bufferBytes = 1 + qsizetype(in.upTo(4096));
    options.maxDecompressedBytes = in.flag() ? qint64(in.upTo(60000)) : qint64(1) << 20;
    const unsigned cut = in.upTo(65535);
    const uint32_t seed = in.byte();
    QByteArray input = in.restBytes();
    if (mode == 1) {
        input = gzip(input, 1 + int(seed % 9));
    } else if (mode == 2) {
        input = gzip(input, 6);
        input.truncate(qsizetype(cut % (input.size() + 1)));
    } else if (mode == 3) {
        const qsizetype half = input.size() / 2;
        input = gzip(input.left(half), 6) + gzip(input.mid(half), 1);
    }
    const bool isGzip = input.size() >= 2 && uchar(input[0]) == 0x1f && uchar(input[1]) == 0x8b;
    const qint64 cap = options.maxDecompressedBytes;

    auto source = ByteSource::fromBytes(input, options);
    Pieces pieces(seed);
    const Drained out = drain(*source, pieces, size_t(input.size()), cap);
    FUZZ_CHECK(source->offset() == out.bytes.size(), "offset() is not the bytes handed out");
    FUZZ_CHECK(source->read(1).empty(), "read() after the end gave bytes");

    if (!isGzip) {
        FUZZ_CHECK(!out.failed, "plain bytes failed");
        FUZZ_CHECK(out.bytes == input, "plain bytes came out changed");
    } else {
        FUZZ_CHECK(out.bytes.size() <= cap, "gzip expanded past maxDecompressedBytes");
        const Inflated reference = inflateAll(input, cap);
        FUZZ_CHECK(reference.bytes.startsWith(out.bytes),
                   "gzip came out as other bytes than zlib's");
        if (reference.ok && reference.bytes.size() <= cap) {
            FUZZ_CHECK(!out.failed, "valid gzip within the cap was refused");
            FUZZ_CHECK(out.bytes == reference.bytes, "valid gzip came out short");
        } else {
            FUZZ_CHECK(out.failed, "corrupt, truncated or oversized gzip was not refused");
            FUZZ_CHECK(out.error.contains(QLatin1String("offset")) ||
                           out.error.contains(QLatin1String("bytes")),
                       "a gzip refusal does not say where or what");
        }
    }

    // skipTo() reaches the same bytes as reading up to there.
    if (!out.bytes.isEmpty()) {
        const qint64 to = qint64(seed) * 7919 % (out.bytes.size() + 1);
        auto skipping = ByteSource::fromBytes(input, options);
        const Result<void> skipped = skipping->skipTo(to);
        FUZZ_CHECK(skipped.ok(), "skipTo a reachable offset failed");
        FUZZ_CHECK(skipping->offset() == to, "skipTo landed elsewhere");
        Pieces again(seed + 1);
        const Drained rest = drain(*skipping, again, size_t(input.size()), cap);
        if (std::getenv("FERRY_FUZZ_DEBUG"))
            std::fprintf(stderr, "out %lld failed %d (%s) to %lld rest %lld failed %d (%s)\n",
                         qint64(out.bytes.size()), out.failed, qPrintable(out.error), to,
                         qint64(rest.bytes.size()), rest.failed, qPrintable(rest.error));
        FUZZ_CHECK(rest.bytes == out.bytes.mid(to), "skipTo then read gives other bytes");
        if (to > 0 && !rest.failed)
            FUZZ_CHECK(!skipping->skipTo(0).ok(), "skipTo backwards accepted");
    }
    return 0;
}
