#include "migrate/bytesource.h"

#include <QFile>

#include <zlib.h>

#include <algorithm>
#include <limits>

namespace Ferry {

namespace {

// Where the stored (possibly compressed) bytes come from: a file or memory.
class RawInput
{
public:
    virtual ~RawInput() = default;
    // Up to maxBytes (at least 1 unless at the end); empty at the end or on error.
    virtual std::string_view read(qsizetype maxBytes) = 0;
    // Skips up to count bytes and says how many it skipped (fewer at the end).
    virtual qint64 skip(qint64 count) = 0;
    virtual qint64 offset() const = 0;

    std::optional<Error> error;
};

class FileInput final : public RawInput
{
public:
    FileInput(const QString &path, qsizetype bufferBytes)
        : m_file(path)
        , m_buffer(std::make_unique_for_overwrite<char[]>(size_t(bufferBytes)))
        , m_bufferBytes(bufferBytes)
    {}

    QFile &file() { return m_file; }

    std::string_view read(qsizetype maxBytes) override
    {
        if (error)
            return {};
        const qint64 n = m_file.read(m_buffer.get(), std::min(maxBytes, m_bufferBytes));
        if (n < 0) {
            error = makeError(
                ErrorCode::Storage,
                QStringLiteral("Cannot read %1: %2").arg(m_file.fileName(), m_file.errorString()));
            return {};
        }
        m_offset += n;
        return {m_buffer.get(), size_t(n)};
    }

    qint64 skip(qint64 count) override
    {
        const qint64 step = std::min(count, std::max<qint64>(0, m_file.size() - m_offset));
        if (!m_file.seek(m_offset + step)) {
            error =
                makeError(ErrorCode::Storage, QStringLiteral("Cannot seek in %1: %2")
                                                  .arg(m_file.fileName(), m_file.errorString()));
            return 0;
        }
        m_offset += step;
        return step;
    }

    qint64 offset() const override { return m_offset; }

private:
    QFile m_file;
    std::unique_ptr<char[]> m_buffer;
    qsizetype m_bufferBytes;
    qint64 m_offset = 0;
};

// A blob store's reader. The first piece may be read ahead (to see gzip's magic bytes) and is
// handed out first.
class BlobInput final : public RawInput
{
public:
    explicit BlobInput(std::unique_ptr<BlobReader> reader) : m_reader(std::move(reader)) {}

    // The first bytes, without consuming them.
    QByteArrayView peek()
    {
        if (!m_peeked) {
            m_peeked = true;
            m_ahead = take(1 << 16);
        }
        return m_ahead;
    }

    std::string_view read(qsizetype maxBytes) override
    {
        if (error)
            return {};
        QByteArrayView piece;
        if (!m_ahead.isEmpty()) {
            piece = m_ahead.first(std::min(maxBytes, m_ahead.size()));
            m_ahead = m_ahead.sliced(piece.size());
        } else {
            m_peeked = true;
            piece = take(maxBytes);
        }
        m_offset += piece.size();
        return {piece.data(), size_t(piece.size())};
    }

    qint64 skip(qint64 count) override
    {
        qint64 skipped = 0;
        if (!m_ahead.isEmpty()) {
            const qsizetype step = qsizetype(std::min<qint64>(count, m_ahead.size()));
            m_ahead = m_ahead.sliced(step);
            skipped = step;
        }
        m_peeked = true;
        if (skipped < count) {
            auto more = m_reader->skip(count - skipped);
            if (!more)
                error = more.error();
            else
                skipped += *more;
        }
        m_offset += skipped;
        return skipped;
    }

    qint64 offset() const override { return m_offset; }

private:
    QByteArrayView take(qint64 maxBytes)
    {
        auto piece = m_reader->read(maxBytes);
        if (!piece) {
            error = piece.error();
            return {};
        }
        return *piece;
    }

    std::unique_ptr<BlobReader> m_reader;
    QByteArrayView m_ahead; // read ahead by peek(), not handed out yet (the reader's buffer)
    bool m_peeked = false;
    qint64 m_offset = 0;
};

class MemoryInput final : public RawInput
{
public:
    explicit MemoryInput(QByteArray bytes) : m_bytes(std::move(bytes)) {}

    std::string_view read(qsizetype maxBytes) override
    {
        const qsizetype n = std::min(maxBytes, m_bytes.size() - m_offset);
        std::string_view chunk(m_bytes.constData() + m_offset, size_t(n));
        m_offset += n;
        return chunk;
    }

    qint64 skip(qint64 count) override
    {
        const qint64 step = std::min<qint64>(count, m_bytes.size() - m_offset);
        m_offset += qsizetype(step);
        return step;
    }

    qint64 offset() const override { return m_offset; }

private:
    QByteArray m_bytes;
    qsizetype m_offset = 0;
};

Error pastTheEnd(qint64 offset, qint64 size)
{
    return makeError(
        ErrorCode::InvalidArgument,
        QStringLiteral("Cannot skip to offset %1: the data ends at %2.").arg(offset).arg(size));
}

Error backwards(qint64 offset, qint64 current)
{
    return makeError(ErrorCode::InvalidArgument,
                     QStringLiteral("Cannot skip back to offset %1 from %2: the stream only "
                                    "goes forward.")
                         .arg(offset)
                         .arg(current));
}

// Uncompressed data: the raw bytes as they are.
class PlainSource final : public ByteSource
{
public:
    PlainSource(std::unique_ptr<RawInput> input, qsizetype bufferBytes)
        : m_input(std::move(input)), m_bufferBytes(bufferBytes)
    {}

    std::string_view read(qsizetype maxBytes) override
    {
        return m_input->read(std::min(maxBytes, m_bufferBytes));
    }

    qint64 offset() const override { return m_input->offset(); }

    Result<void> skipTo(qint64 offset) override
    {
        const qint64 current = m_input->offset();
        if (offset < current)
            return backwards(offset, current);
        const qint64 skipped = m_input->skip(offset - current);
        if (m_input->error)
            return *m_input->error;
        if (skipped < offset - current)
            return pastTheEnd(offset, m_input->offset());
        return {};
    }

    const std::optional<Error> &error() const override { return m_input->error; }

private:
    std::unique_ptr<RawInput> m_input;
    qsizetype m_bufferBytes;
};

// gzip, inflated as it is read: memory stays at one input and one output buffer whatever the
// compression ratio, and the decompressed size is capped (a bomb stops at the cap).
class GzipSource final : public ByteSource
{
public:
    GzipSource(std::unique_ptr<RawInput> input, ByteSource::Options options)
        : m_input(std::move(input))
        , m_options(options)
        , m_out(std::make_unique_for_overwrite<char[]>(size_t(options.bufferBytes)))
    {
        m_stream.zalloc = Z_NULL;
        m_stream.zfree = Z_NULL;
        m_stream.opaque = Z_NULL;
        m_stream.next_in = Z_NULL;
        m_stream.avail_in = 0;
        // 15 + 16: a gzip header and trailer around a deflate stream with a 32 KiB window.
        if (inflateInit2(&m_stream, 15 + 16) != Z_OK)
            m_error = makeError(ErrorCode::Internal, QStringLiteral("Cannot initialise zlib."));
        else
            m_initialised = true;
    }

    ~GzipSource() override
    {
        if (m_initialised)
            inflateEnd(&m_stream);
    }

    std::string_view read(qsizetype maxBytes) override
    {
        if (m_error || m_finished || maxBytes <= 0)
            return {};
        // zlib counts in uInt; the buffer is never near 4 GiB anyway.
        const auto want = uInt(std::min<qsizetype>({maxBytes, m_options.bufferBytes, 1 << 30}));
        m_stream.next_out = reinterpret_cast<Bytef *>(m_out.get());
        m_stream.avail_out = want;
        while (m_stream.avail_out == want) {
            if (m_stream.avail_in == 0 && !m_inputEnded && !fillInput())
                return {};
            if (m_betweenMembers) {
                if (m_stream.avail_in == 0) {
                    if (m_inputEnded) {
                        m_finished = true;
                        break;
                    }
                    continue;
                }
                // Another member follows (concatenated gzip files are one stream: RFC 1952).
                inflateReset(&m_stream);
                m_betweenMembers = false;
            }
            const int rc = inflate(&m_stream, Z_NO_FLUSH);
            if (rc == Z_STREAM_END) {
                m_betweenMembers = true;
            } else if (rc == Z_BUF_ERROR) {
                // No progress possible: more input is needed, and there is none.
                if (m_stream.avail_in == 0 && m_inputEnded) {
                    m_error = makeError(
                        ErrorCode::InvalidArgument,
                        QStringLiteral("The gzip data is truncated: it ends at compressed offset "
                                       "%1 in the middle of a member.")
                            .arg(compressedOffset()),
                        QStringLiteral("Upload the whole file again."));
                    break;
                }
            } else if (rc != Z_OK) {
                const QString reason = m_stream.msg ? QString::fromUtf8(m_stream.msg)
                                                    : QStringLiteral("zlib error %1").arg(rc);
                m_error = makeError(ErrorCode::InvalidArgument,
                                    QStringLiteral("The gzip data is corrupt at compressed "
                                                   "offset %1: %2.")
                                        .arg(compressedOffset())
                                        .arg(reason));
                break;
            }
        }
        // The bytes inflated before an error still come out (the error ends the next read), so
        // how much of a damaged file is read does not depend on the sizes asked for.
        qint64 produced = want - m_stream.avail_out;
        if (m_offset + produced > m_options.maxDecompressedBytes) {
            // Up to the cap the bytes come out, whatever the sizes asked for; the refusal ends
            // the next read.
            m_error = makeError(ErrorCode::InvalidArgument,
                                QStringLiteral("The file expands past %1 bytes when decompressed; "
                                               "a gzip bomb is refused.")
                                    .arg(m_options.maxDecompressedBytes));
            produced = m_options.maxDecompressedBytes - m_offset;
        }
        if (produced == 0 && m_error)
            return {};
        m_offset += produced;
        return {m_out.get(), size_t(produced)};
    }

    qint64 offset() const override { return m_offset; }

    Result<void> skipTo(qint64 offset) override
    {
        if (offset < m_offset)
            return backwards(offset, m_offset);
        while (m_offset < offset) {
            const std::string_view chunk = read(qsizetype(
                std::min<qint64>(offset - m_offset, std::numeric_limits<qsizetype>::max())));
            if (chunk.empty())
                return m_error ? *m_error : pastTheEnd(offset, m_offset);
        }
        return {};
    }

    const std::optional<Error> &error() const override { return m_error; }

private:
    bool fillInput()
    {
        const std::string_view in = m_input->read(m_options.bufferBytes);
        if (m_input->error) {
            m_error = m_input->error;
            return false;
        }
        if (in.empty()) {
            m_inputEnded = true;
        } else {
            m_stream.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(in.data()));
            m_stream.avail_in = uInt(in.size());
        }
        return true;
    }

    qint64 compressedOffset() const { return m_input->offset() - m_stream.avail_in; }

    std::unique_ptr<RawInput> m_input;
    ByteSource::Options m_options;
    std::unique_ptr<char[]> m_out;
    z_stream m_stream{};
    qint64 m_offset = 0;
    std::optional<Error> m_error;
    bool m_initialised = false;
    bool m_inputEnded = false;
    bool m_betweenMembers = false;
    bool m_finished = false;
};

ByteSource::Options sane(ByteSource::Options options)
{
    options.bufferBytes = std::max<qsizetype>(1, options.bufferBytes);
    options.maxDecompressedBytes = std::max<qint64>(0, options.maxDecompressedBytes);
    return options;
}

bool isGzipMagic(const char *bytes, qint64 size)
{
    return size >= 2 && uchar(bytes[0]) == 0x1f && uchar(bytes[1]) == 0x8b;
}

} // namespace

Result<std::unique_ptr<ByteSource>> ByteSource::openFile(const QString &path, Options options)
{
    options = sane(options);
    auto input = std::make_unique<FileInput>(path, options.bufferBytes);
    QFile &file = input->file();
    if (!file.open(QIODevice::ReadOnly | QIODevice::Unbuffered)) {
        return makeError(file.exists() ? ErrorCode::Storage : ErrorCode::NotFound,
                         QStringLiteral("Cannot open %1: %2").arg(path, file.errorString()));
    }
    char magic[2];
    qint64 got = 0;
    while (got < 2) {
        const qint64 n = file.read(magic + got, 2 - got);
        if (n < 0)
            return makeError(ErrorCode::Storage,
                             QStringLiteral("Cannot read %1: %2").arg(path, file.errorString()));
        if (n == 0)
            break;
        got += n;
    }
    if (!file.seek(0))
        return makeError(ErrorCode::Storage,
                         QStringLiteral("Cannot seek in %1: %2").arg(path, file.errorString()));
    if (isGzipMagic(magic, got))
        return std::unique_ptr<ByteSource>(new GzipSource(std::move(input), options));
    return std::unique_ptr<ByteSource>(new PlainSource(std::move(input), options.bufferBytes));
}

Result<std::unique_ptr<ByteSource>>
ByteSource::openBlob(BlobStore &blobs, const QString &id, Options options)
{
    auto reader = blobs.open(id);
    if (!reader)
        return reader.error();
    return fromReader(std::move(*reader), options);
}

Result<std::unique_ptr<ByteSource>> ByteSource::fromReader(std::unique_ptr<BlobReader> reader,
                                                           Options options)
{
    options = sane(options);
    auto input = std::make_unique<BlobInput>(std::move(reader));
    const QByteArrayView head = input->peek();
    if (input->error)
        return *input->error;
    if (isGzipMagic(head.data(), head.size()))
        return std::unique_ptr<ByteSource>(new GzipSource(std::move(input), options));
    return std::unique_ptr<ByteSource>(new PlainSource(std::move(input), options.bufferBytes));
}

std::unique_ptr<ByteSource> ByteSource::fromBytes(QByteArray bytes, Options options)
{
    options = sane(options);
    const bool gzip = isGzipMagic(bytes.constData(), bytes.size());
    auto input = std::make_unique<MemoryInput>(std::move(bytes));
    if (gzip)
        return std::make_unique<GzipSource>(std::move(input), options);
    return std::make_unique<PlainSource>(std::move(input), options.bufferBytes);
}

} // namespace Ferry
