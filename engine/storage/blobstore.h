#pragma once

#include "core/error.h"

#include <QByteArrayView>
#include <QFuture>
#include <QString>

#include <functional>
#include <memory>
#include <optional>

namespace Ferry {

struct BlobInfo
{
    QString id; // lowercase hex SHA-256 of the content: equal uploads share one blob
    qint64 size = 0;
    // The commit's claim on the blob until its session exists: remove(id, lease) deletes the blob
    // only while no later upload took it (see BlobStore::remove).
    qint64 lease = 0;
};

// An upload being written. Nothing is visible until commit() returns: the bytes are on disk
// (fsync'd) under their final name. Destroying an uncommitted writer removes what it wrote.
class BlobWriter
{
public:
    virtual ~BlobWriter() = default;
    virtual Result<void> write(const char *data, qint64 size) = 0;
    // The id the content will have once committed (its hash so far), without committing: lets
    // a caller decide (an idempotency key) before the blob is stored.
    virtual QString contentId() const = 0;
    virtual Result<BlobInfo> commit() = 0;
    virtual qint64 written() const = 0;
    // None when write() may be called again now; else a future that finishes once the writer
    // caught up (a database-backed writer's queue of chunks is full). Lets the HTTP layer stop
    // reading the body instead of blocking its thread (Http::BodyConsumer::readyForMore).
    virtual std::optional<QFuture<void>> readyForMore() { return std::nullopt; }
};

// A stored blob, read forward in pieces: memory stays at one piece whatever the blob's size (a
// file's buffer, or one chunk row of PostgreSQL).
class BlobReader
{
public:
    virtual ~BlobReader() = default;
    // The next piece, at most maxBytes (at least 1 unless at the end): empty at the end. The view
    // stays valid until the next call.
    virtual Result<QByteArrayView> read(qint64 maxBytes) = 0;
    // Skips up to count bytes; how many were skipped (fewer at the end).
    virtual Result<qint64> skip(qint64 count) = 0;
    virtual qint64 size() const = 0;
};

// What one garbage-collection pass removed.
struct BlobCollection
{
    int temporaryFiles = 0; // abandoned partial writes
    int blobs = 0;          // blobs no session refers to
};

// Uploaded files, content-addressed. FileBlobStore keeps them under --blob-dir;
// PostgresBlobStore in the database, as chunk rows (several nodes, one PostgreSQL, no shared
// directory).
//
// De-duplication against deletion: equal content shares one blob, so an upload that is refused
// must not delete the blob another upload has just committed (and answered 202 for) before that
// upload's session refers to it. A commit therefore takes a lease on the blob, atomically with
// the check whether it exists; remove() deletes only blobs nobody took since (see remove()).
class BlobStore
{
public:
    virtual ~BlobStore() = default;
    // expectedSize (or -1 when unknown) is checked against the free-disk floor up front.
    virtual Result<std::unique_ptr<BlobWriter>> create(qint64 expectedSize) = 0;
    // InsufficientStorage when writing `bytes` more would cross the free-disk floor: the check
    // every write path (plain uploads, tus appends) makes.
    virtual Result<void> checkSpace(qint64 bytes) = 0;
    // Takes the (fsync'd, complete) file at `path` into the store without copying it where the
    // store can (a hard link on the same file system); `path` itself stays for the caller.
    virtual Result<BlobInfo> adopt(const QString &path) = 0;
    // The blob's content as a stream. NotFound when it is not stored.
    virtual Result<std::unique_ptr<BlobReader>> open(const QString &id) = 0;
    virtual bool contains(const QString &id) = 0;
    // Deletes a blob the caller found unreferenced (no session refers to it). With the lease of
    // the caller's own commit: only when no other upload committed the same content since. With
    // none (0: retention, collection): only when nobody committed it within the lease period.
    // Either way a blob that another upload may still be about to refer to stays.
    virtual Result<void> remove(const QString &id, qint64 lease = 0) = 0;
    // Removes abandoned temporary files and blobs that `referenced` says no session refers to,
    // both only when untouched for the lease period. Safe against concurrent commits.
    virtual Result<BlobCollection>
    collect(const std::function<Result<bool>(const QString &id)> &referenced) = 0;
};

bool isBlobId(const QString &id);

} // namespace Ferry
