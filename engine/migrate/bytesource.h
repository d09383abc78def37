#pragma once

#include "core/error.h"
#include "storage/blobstore.h"

#include <QString>

#include <memory>
#include <string_view>

namespace Ferry {

// A forward-only stream of the bytes of an uploaded file, decompressed on the fly when it is
// gzip. Offsets count decompressed bytes from the start of the file; a reader checkpoints them
// and a resumed job skips back to one.
class ByteSource
{
public:
    virtual ~ByteSource() = default;

    // The next chunk (at most maxBytes, at least 1 unless at the end): empty at the end of the
    // stream or on error (see error()). The view stays valid until the next call.
    virtual std::string_view read(qsizetype maxBytes) = 0;
    // Decompressed bytes handed out so far.
    virtual qint64 offset() const = 0;
    // Skips forward to a decompressed offset (inflating and discarding for gzip). Only forward.
    virtual Result<void> skipTo(qint64 offset) = 0;
    // A file-level error (I/O, corrupt gzip, the decompressed-size limit passed).
    virtual const std::optional<Error> &error() const = 0;

    struct Options
    {
        // gzip: refused once the decompressed size passes this (a gzip bomb is not expanded).
        qint64 maxDecompressedBytes = qint64(16) << 30;
        qsizetype bufferBytes = 1 << 20;
    };
    // Opens a file; gzip is detected from its magic bytes (1f 8b), whatever its name.
    static Result<std::unique_ptr<ByteSource>> openFile(const QString &path, Options options);
    // Opens a stored blob (a file, or chunk rows in PostgreSQL), read piece by piece; gzip as
    // openFile().
    static Result<std::unique_ptr<ByteSource>>
    openBlob(BlobStore &blobs, const QString &id, Options options);
    static Result<std::unique_ptr<ByteSource>> fromReader(std::unique_ptr<BlobReader> reader,
                                                          Options options);
    // For tests and in-memory data.
    static std::unique_ptr<ByteSource> fromBytes(QByteArray bytes, Options options);
};

} // namespace Ferry
