#pragma once

#include "storage/blobstore.h"

#include <atomic>

namespace Ferry {

// Blobs as files: <root>/<first two hex digits>/<sha256>. Writes go to <root>/tmp, are
// fsync'd, then renamed into place and the directory fsync'd (a new shard directory's parent
// too), so a blob is either whole or absent after a crash; a failed fsync refuses the upload.
// Below the free-disk floor new uploads are refused before a byte is written, and a write that
// would cross it stops with a clear error.
//
// Leases (BlobStore::remove): a blob's modification time is its lease stamp, renewed under the
// directory lock (BlobFiles::DirectoryLock, shared with other processes and nodes) by every
// commit that takes it, new or de-duplicated. A removal checks the stamp under the same lock.
class FileBlobStore final : public BlobStore
{
public:
    // The lease of a commit that found the blob taken by another commit within the lease
    // period: remove() by this lease never deletes (the other may be acknowledged).
    static constexpr qint64 SharedLease = -1;

    struct Options
    {
        // How long a commit's claim protects a blob (and how old an abandoned temporary file or
        // unreferenced blob must be before collect() removes it).
        qint64 leaseMs = 15 * 60'000;
        // At most this many unreferenced-blob checks (store queries) per collect() pass; the
        // next pass goes on where this one stopped.
        int maxChecksPerPass = 5'000;
    };

    FileBlobStore(QString root, qint64 freeDiskFloorBytes);
    FileBlobStore(QString root, qint64 freeDiskFloorBytes, Options options);

    Result<std::unique_ptr<BlobWriter>> create(qint64 expectedSize) override;
    Result<void> checkSpace(qint64 bytes) override;
    Result<BlobInfo> adopt(const QString &path) override;
    Result<std::unique_ptr<BlobReader>> open(const QString &id) override;
    // The blob's file (tests, and the tus uploads whose .part file becomes it by a link).
    Result<QString> localPath(const QString &id);
    bool contains(const QString &id) override;
    Result<void> remove(const QString &id, qint64 lease = 0) override;
    Result<BlobCollection>
    collect(const std::function<Result<bool>(const QString &id)> &referenced) override;

    QString root() const { return m_root; }
    qint64 freeDiskFloor() const { return m_floor; }
    const Options &options() const { return m_options; }

    // Puts the file at `from` (fsync'd) into place as blob `id`: renamed (move) or hard-linked
    // (link), under the directory lock; an equal blob already there is taken instead. Returns
    // the lease. For the writers and adopt().
    Result<qint64> place(const QString &from, const QString &id, bool link);

private:
    QString pathOf(const QString &id) const;
    Result<bool> removeUnlocked(const QString &id, qint64 lease);
    Result<int> collectTemporary();

    QString m_root;
    qint64 m_floor;
    Options m_options;
    std::atomic<int> m_nextShard = 0;
};

} // namespace Ferry
