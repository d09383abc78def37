#pragma once

#include "core/error.h"
#include "storage/blobstore.h"

#include <QByteArrayView>

#include <memory>

namespace Ferry {

// One PATCH appending to a tus upload's stored bytes, holding the upload exclusively (across
// nodes) until it ends. write() runs on the network thread and never waits for the database;
// finish() does (on a worker).
class TusPartAppend
{
public:
    virtual ~TusPartAppend() = default; // ends the hold; what finish() did not commit is lost
    virtual Result<void> write(QByteArrayView data) = 0;
    // Commits what was written and ends the hold: the offset now durable (the upload's offset in
    // the store, also on error: what was committed before the error counts).
    virtual Result<qint64> finish(qint64 nowMs) = 0;
    virtual qint64 offset() const = 0; // bytes accepted so far (not all committed)
    // As BlobWriter::readyForMore: a future while the chunks waiting for the database are at
    // their bound.
    virtual std::optional<QFuture<void>> readyForMore() { return std::nullopt; }
};

// Where a store keeps unfinished tus uploads' bytes when not in <blob-dir>/tus/<id>.part files
// (TusUploads' own): PostgresBlobStore, in the database. The upload's row is the store's
// (tus_uploads); this adds its bytes and the append hold.
class TusPartStore
{
public:
    virtual ~TusPartStore() = default;
    // After the row exists: room for its bytes.
    virtual Result<void> createPart(const QString &uploadId) = 0;
    // Takes the upload's append hold at `offset`: Conflict when another PATCH (on any node)
    // holds it, or when offset is not the committed offset.
    virtual Result<std::unique_ptr<TusPartAppend>>
    beginPartAppend(const QString &uploadId, qint64 offset, qint64 nowMs) = 0;
    // The complete upload's bytes become a blob (hashed as they are read; not copied). The bytes
    // of uploads whose rows are gone go with BlobStore::collect().
    virtual Result<BlobInfo> completePart(const QString &uploadId) = 0;

protected:
    TusPartStore() = default;
};

} // namespace Ferry
