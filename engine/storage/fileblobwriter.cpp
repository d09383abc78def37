// FileBlobStore: writing blobs (create, the writer, adopt) and the free-disk floor.
#include "storage/fileblobstore.h"

#include "core/sha256.h"
#include "storage/blobfiles.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QStorageInfo>
#include <QTemporaryFile>

#include <cerrno>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace Ferry {

namespace {

Error diskFull(const QString &root, qint64 floor)
{
    return makeError(ErrorCode::InsufficientStorage,
                     QStringLiteral("Not enough free disk space for uploads in %1 (Ferry keeps at "
                                    "least %2 MB free).")
                         .arg(root)
                         .arg(floor >> 20),
                     QStringLiteral("Free some space or delete old datasets, then try again."));
}

Error writeFailed(const QString &what)
{
    return makeError(ErrorCode::Storage, what, QStringLiteral("Check the disk."));
}

class FileBlobWriter final : public BlobWriter
{
public:
    explicit FileBlobWriter(FileBlobStore &store)
        : m_store(store), m_file(store.root() + QStringLiteral("/tmp/upload-XXXXXX"))
    {}

    Result<void> open()
    {
        if (!m_file.open()) {
            return makeError(ErrorCode::Storage,
                             QStringLiteral("Cannot create an upload file in %1: %2")
                                 .arg(m_store.root(), m_file.errorString()),
                             QStringLiteral("Check that the data directory is writable."));
        }
        // Held while the file is written: collect() leaves locked temporary files alone.
        (void)::flock(m_file.handle(), LOCK_EX | LOCK_NB);
        return {};
    }

    Result<void> write(const char *data, qint64 size) override
    {
        // Check the floor every 8 MiB, not on every small write.
        if ((m_written >> 23) != ((m_written + size) >> 23)) {
            if (auto room = m_store.checkSpace(size); !room)
                return room.error();
        }
        if (m_file.write(data, size) != size)
            return writeFailed(
                QStringLiteral("Writing the upload failed: %1").arg(m_file.errorString()));
        m_hash.addData(QByteArrayView(data, size));
        m_written += size;
        return {};
    }

    QString contentId() const override { return QString::fromLatin1(m_hash.result().toHex()); }

    Result<BlobInfo> commit() override
    {
        if (!m_file.flush() || ::fsync(m_file.handle()) != 0)
            return writeFailed(QStringLiteral("Could not flush the upload to disk."));
        const QString id = contentId();
        auto lease = m_store.place(m_file.fileName(), id, false);
        if (!lease)
            return lease.error();    // the temporary file goes with the writer
        m_file.setAutoRemove(false); // renamed away, or removed by place() when a duplicate
        m_file.close();
        return BlobInfo{id, m_written, *lease};
    }

    qint64 written() const override { return m_written; }

private:
    FileBlobStore &m_store;
    QTemporaryFile m_file; // removed on destruction unless committed
    Sha256 m_hash;
    qint64 m_written = 0;
};

} // namespace

FileBlobStore::FileBlobStore(QString root, qint64 freeDiskFloorBytes)
    : FileBlobStore(std::move(root), freeDiskFloorBytes, Options())
{}

FileBlobStore::FileBlobStore(QString root, qint64 freeDiskFloorBytes, Options options)
    : m_root(std::move(root)), m_floor(freeDiskFloorBytes), m_options(options)
{}

Result<void> FileBlobStore::checkSpace(qint64 bytes)
{
    // The root may not exist yet (nothing stored): its file system is that of its nearest
    // existing ancestor.
    QString existing = m_root;
    while (!QFileInfo::exists(existing) && existing.contains(u'/'))
        existing = existing.left(existing.lastIndexOf(u'/'));
    const QStorageInfo disk(existing.isEmpty() ? QStringLiteral("/") : existing);
    if (disk.bytesAvailable() - qMax<qint64>(0, bytes) < m_floor)
        return diskFull(m_root, m_floor);
    return {};
}

Result<std::unique_ptr<BlobWriter>> FileBlobStore::create(qint64 expectedSize)
{
    if (!QDir().mkpath(m_root + QStringLiteral("/tmp"))) {
        return makeError(ErrorCode::Storage, QStringLiteral("Cannot create %1/tmp.").arg(m_root),
                         QStringLiteral("Check that the data directory is writable."));
    }
    if (auto room = checkSpace(expectedSize); !room)
        return room.error();
    auto writer = std::make_unique<FileBlobWriter>(*this);
    if (auto opened = writer->open(); !opened)
        return opened.error();
    return std::unique_ptr<BlobWriter>(std::move(writer));
}

Result<BlobInfo> FileBlobStore::adopt(const QString &path)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly)) {
        return makeError(
            ErrorCode::Storage,
            QStringLiteral("Cannot read the upload's data: %1").arg(file.errorString()));
    }
    // Hashed once, read only: the bytes are not written a second time.
    Sha256 hash;
    QByteArray buffer(1 << 20, Qt::Uninitialized);
    qint64 size = 0;
    while (true) {
        const qint64 n = file.read(buffer.data(), buffer.size());
        if (n < 0)
            return writeFailed(
                QStringLiteral("Reading the upload's data failed: %1").arg(file.errorString()));
        if (n == 0)
            break;
        hash.addData(QByteArrayView(buffer.constData(), n));
        size += n;
    }
    file.close();
    const QString id = QString::fromLatin1(hash.result().toHex());
    auto lease = place(path, id, true);
    if (lease)
        return BlobInfo{id, size, *lease};
    if (lease.error().code != ErrorCode::Unavailable)
        return lease.error();
    // No hard links here (another file system, or none supported): a copy after all.
    if (!file.open(QIODevice::ReadOnly))
        return writeFailed(QStringLiteral("Cannot read the upload's data."));
    auto writer = create(size);
    if (!writer)
        return writer.error();
    while (true) {
        const qint64 n = file.read(buffer.data(), buffer.size());
        if (n < 0)
            return writeFailed(QStringLiteral("Reading the upload's data failed."));
        if (n == 0)
            break;
        if (auto written = (*writer)->write(buffer.constData(), n); !written)
            return written.error();
    }
    return (*writer)->commit();
}

} // namespace Ferry
