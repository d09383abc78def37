#include "fileblobstore.h"

#include "core/sha256.h"

#include <QDir>
#include <QFile>
#include <QRegularExpression>
#include <QStorageInfo>
#include <QTemporaryFile>

#include <fcntl.h>
#include <unistd.h>

namespace Ferry {

namespace {

bool syncPath(const QString &path)
{
    const int fd = ::open(QFile::encodeName(path).constData(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    const bool ok = ::fsync(fd) == 0;
    ::close(fd);
    return ok;
}

Error diskFull(const QString &root, qint64 floor)
{
    return makeError(ErrorCode::InsufficientStorage,
                     QStringLiteral("Not enough free disk space for uploads in %1 (Ferry keeps at "
                                    "least %2 MB free).")
                         .arg(root)
                         .arg(floor >> 20),
                     QStringLiteral("Free some space or delete old datasets, then try again."));
}

class FileBlobWriter final : public BlobWriter
{
public:
    FileBlobWriter(QString root, QString finalDir, qint64 floor)
        : m_root(std::move(root))
        , m_finalDir(std::move(finalDir))
        , m_floor(floor)
        , m_file(m_root + QStringLiteral("/tmp/upload-XXXXXX"))
    {}

    Result<void> open()
    {
        if (!m_file.open()) {
            return makeError(ErrorCode::Storage,
                             QStringLiteral("Cannot create an upload file in %1: %2")
                                 .arg(m_root, m_file.errorString()),
                             QStringLiteral("Check that the data directory is writable."));
        }
        return {};
    }

    Result<void> write(const char *data, qint64 size) override
    {
        // Check the floor every 8 MiB, not on every small write.
        if ((m_written >> 23) != ((m_written + size) >> 23)) {
            const QStorageInfo disk(m_root);
            if (disk.bytesAvailable() - size < m_floor)
                return diskFull(m_root, m_floor);
        }
        if (m_file.write(data, size) != size) {
            return makeError(
                ErrorCode::Storage,
                QStringLiteral("Writing the upload failed: %1").arg(m_file.errorString()),
                QStringLiteral("Check the disk."));
        }
        m_hash.addData(QByteArrayView(data, size));
        m_written += size;
        return {};
    }

    Result<BlobInfo> commit() override
    {
        if (!m_file.flush() || ::fsync(m_file.handle()) != 0) {
            return makeError(ErrorCode::Storage,
                             QStringLiteral("Could not flush the upload to disk."),
                             QStringLiteral("Check the disk."));
        }
        const QString id = QString::fromLatin1(m_hash.result().toHex());
        const QString dir = m_finalDir + u'/' + id.left(2);
        const QString target = dir + u'/' + id;
        if (!QDir().mkpath(dir)) {
            return makeError(ErrorCode::Storage, QStringLiteral("Cannot create %1.").arg(dir),
                             QStringLiteral("Check that the data directory is writable."));
        }
        m_file.close();
        if (QFile::exists(target)) {
            m_file.remove(); // the same content is already stored
        } else {
            if (::rename(QFile::encodeName(m_file.fileName()).constData(),
                         QFile::encodeName(target).constData()) != 0) {
                return makeError(
                    ErrorCode::Storage,
                    QStringLiteral("Cannot move the upload into place at %1.").arg(target),
                    QStringLiteral("Check the disk."));
            }
            m_file.setAutoRemove(false);
            syncPath(dir);
        }
        return BlobInfo{id, m_written};
    }

    qint64 written() const override { return m_written; }

private:
    QString m_root;
    QString m_finalDir;
    qint64 m_floor;
    QTemporaryFile m_file; // removed on destruction unless committed
    Sha256 m_hash;
    qint64 m_written = 0;
};

} // namespace

bool isBlobId(const QString &id)
{
    static const QRegularExpression pattern(QStringLiteral("^[0-9a-f]{64}$"));
    return pattern.match(id).hasMatch();
}

FileBlobStore::FileBlobStore(QString root, qint64 freeDiskFloorBytes)
    : m_root(std::move(root)), m_floor(freeDiskFloorBytes)
{}

QString FileBlobStore::pathOf(const QString &id) const
{
    return m_root + u'/' + id.left(2) + u'/' + id;
}

Result<std::unique_ptr<BlobWriter>> FileBlobStore::create(qint64 expectedSize)
{
    if (!QDir().mkpath(m_root + QStringLiteral("/tmp"))) {
        return makeError(ErrorCode::Storage, QStringLiteral("Cannot create %1/tmp.").arg(m_root),
                         QStringLiteral("Check that the data directory is writable."));
    }
    const QStorageInfo disk(m_root);
    if (disk.bytesAvailable() - qMax<qint64>(0, expectedSize) < m_floor)
        return diskFull(m_root, m_floor);
    auto writer = std::make_unique<FileBlobWriter>(m_root, m_root, m_floor);
    if (auto opened = writer->open(); !opened)
        return opened.error();
    return std::unique_ptr<BlobWriter>(std::move(writer));
}

Result<QString> FileBlobStore::localPath(const QString &id)
{
    if (!isBlobId(id) || !QFile::exists(pathOf(id))) {
        return makeError(ErrorCode::NotFound,
                         QStringLiteral("Upload %1 is not stored.").arg(id.left(80)),
                         QStringLiteral("Upload the file again."));
    }
    return pathOf(id);
}

bool FileBlobStore::contains(const QString &id)
{
    return isBlobId(id) && QFile::exists(pathOf(id));
}

Result<void> FileBlobStore::remove(const QString &id)
{
    if (!isBlobId(id))
        return makeError(ErrorCode::InvalidArgument, QStringLiteral("Not a blob id."));
    QFile::remove(pathOf(id));
    return {};
}

} // namespace Ferry
