#pragma once

#include "storage/blobstore.h"

namespace Ferry {

// Blobs as files: <root>/<first two hex digits>/<sha256>. Writes go to <root>/tmp, are
// fsync'd, then renamed into place (and the directory fsync'd), so a blob is either whole or
// absent after a crash. Below the free-disk floor new uploads are refused before a byte is
// written, and a write that would cross it stops with a clear error.
class FileBlobStore final : public BlobStore
{
public:
    FileBlobStore(QString root, qint64 freeDiskFloorBytes);

    Result<std::unique_ptr<BlobWriter>> create(qint64 expectedSize) override;
    Result<QString> localPath(const QString &id) override;
    bool contains(const QString &id) override;
    Result<void> remove(const QString &id) override;

    QString root() const { return m_root; }
    qint64 freeDiskFloor() const { return m_floor; }

private:
    QString pathOf(const QString &id) const;

    QString m_root;
    qint64 m_floor;
};

} // namespace Ferry
