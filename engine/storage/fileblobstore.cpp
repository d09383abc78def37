// FileBlobStore: placing, reading, removing and collecting blobs (writing: fileblobwriter.cpp).
#include "storage/fileblobstore.h"

#include "storage/blobfiles.h"

#include <QDir>
#include <QDirIterator>
#include <QFile>
#include <QRegularExpression>

#include <algorithm>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace Ferry {

namespace {

Error storageError(const QString &message)
{
    return makeError(ErrorCode::Storage, message,
                     QStringLiteral("Check the disk and that the blob directory is writable."));
}

QString errnoText()
{
    return QString::fromLocal8Bit(std::strerror(errno));
}

bool isShardName(const QString &name)
{
    return name.size() == 2 && isBlobId(name + QString(62, u'0'));
}

} // namespace

bool isBlobId(const QString &id)
{
    static const QRegularExpression pattern(
        QRegularExpression::anchoredPattern(QStringLiteral("[0-9a-f]{64}")));
    return pattern.match(id).hasMatch();
}

QString FileBlobStore::pathOf(const QString &id) const
{
    return m_root + u'/' + id.left(2) + u'/' + id;
}

Result<qint64> FileBlobStore::place(const QString &from, const QString &id, bool link)
{
    const QString dir = m_root + u'/' + id.left(2);
    const QString target = dir + u'/' + id;
    if (!QFileInfo::exists(dir)) {
        if (!QDir().mkpath(dir))
            return storageError(QStringLiteral("Cannot create %1.").arg(dir));
        // The new shard directory's entry in the root must survive a crash, or the blob in it
        // would not.
        if (!BlobFiles::syncPath(m_root))
            return storageError(QStringLiteral("Could not flush %1 to disk.").arg(m_root));
    }
    const QByteArray source = QFile::encodeName(from);
    const QByteArray destination = QFile::encodeName(target);
    // "Is it there, take it" is one step against removals (and other nodes' commits).
    BlobFiles::DirectoryLock lock(m_root);
    if (!lock.locked())
        return lock.error();
    if (QFileInfo::exists(target)) {
        if (!link)
            ::unlink(source.constData()); // the same content is already stored
        const qint64 now = BlobFiles::nowNs();
        const qint64 previous = BlobFiles::stampOf(target);
        auto renewed = BlobFiles::renewStamp(target, now);
        if (!renewed)
            return renewed;
        // Another upload took it within the lease period and may be on its way to a 202 with
        // no session written yet: this one must never delete it by lease. A lease that matches
        // no stamp; retention and collect() remove the blob once nobody refers to it.
        if (previous >= 0 && now - previous < m_options.leaseMs * 1'000'000)
            return SharedLease;
        return renewed;
    }
    if (link) {
        if (::link(source.constData(), destination.constData()) != 0) {
            if (errno == EXDEV || errno == EPERM || errno == EOPNOTSUPP || errno == EMLINK) {
                return makeError(ErrorCode::Unavailable,
                                 QStringLiteral("Cannot link into %1: %2").arg(dir, errnoText()));
            }
            return storageError(QStringLiteral("Cannot link the upload into place at %1: %2")
                                    .arg(target, errnoText()));
        }
    } else if (::rename(source.constData(), destination.constData()) != 0) {
        return storageError(
            QStringLiteral("Cannot move the upload into place at %1: %2").arg(target, errnoText()));
    }
    if (!BlobFiles::syncPath(dir)) {
        // Not durable: refused, so no client is told the upload is stored.
        ::unlink(destination.constData());
        return storageError(QStringLiteral("Could not flush %1 to disk.").arg(dir));
    }
    return BlobFiles::renewStamp(target, BlobFiles::nowNs());
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

namespace {

// A blob's file read through one buffer.
class FileBlobReader final : public BlobReader
{
public:
    explicit FileBlobReader(const QString &path) : m_file(path) {}

    Result<void> open()
    {
        if (!m_file.open(QIODevice::ReadOnly | QIODevice::Unbuffered)) {
            return makeError(
                m_file.exists() ? ErrorCode::Storage : ErrorCode::NotFound,
                QStringLiteral("Cannot open %1: %2").arg(m_file.fileName(), m_file.errorString()));
        }
        m_size = m_file.size();
        return {};
    }

    Result<QByteArrayView> read(qint64 maxBytes) override
    {
        const qsizetype want = qsizetype(std::clamp<qint64>(maxBytes, 1, 1 << 20));
        if (m_buffer.size() < want)
            m_buffer.resize(want);
        const qint64 n = m_file.read(m_buffer.data(), want);
        if (n < 0) {
            return makeError(
                ErrorCode::Storage,
                QStringLiteral("Cannot read %1: %2").arg(m_file.fileName(), m_file.errorString()));
        }
        return QByteArrayView(m_buffer.constData(), qsizetype(n));
    }

    Result<qint64> skip(qint64 count) override
    {
        const qint64 at = m_file.pos();
        const qint64 step = std::min(count, std::max<qint64>(0, m_size - at));
        if (!m_file.seek(at + step)) {
            return makeError(ErrorCode::Storage, QStringLiteral("Cannot seek in %1: %2")
                                                     .arg(m_file.fileName(), m_file.errorString()));
        }
        return step;
    }

    qint64 size() const override { return m_size; }

private:
    QFile m_file;
    QByteArray m_buffer;
    qint64 m_size = 0;
};

} // namespace

Result<std::unique_ptr<BlobReader>> FileBlobStore::open(const QString &id)
{
    auto path = localPath(id);
    if (!path)
        return path.error();
    auto reader = std::make_unique<FileBlobReader>(*path);
    if (auto opened = reader->open(); !opened)
        return opened.error();
    return std::unique_ptr<BlobReader>(std::move(reader));
}

bool FileBlobStore::contains(const QString &id)
{
    return isBlobId(id) && QFile::exists(pathOf(id));
}

// Under the directory lock: whether the blob was deleted.
Result<bool> FileBlobStore::removeUnlocked(const QString &id, qint64 lease)
{
    const QString path = pathOf(id);
    const qint64 stamp = BlobFiles::stampOf(path);
    if (stamp < 0)
        return false; // already gone
    if (lease != 0 ? stamp != lease : BlobFiles::nowNs() - stamp < m_options.leaseMs * 1'000'000)
        return false; // another upload took it since: it is theirs now
    if (::unlink(QFile::encodeName(path).constData()) != 0 && errno != ENOENT)
        return storageError(QStringLiteral("Cannot remove %1: %2").arg(path, errnoText()));
    (void)BlobFiles::syncPath(m_root + u'/' + id.left(2));
    return true;
}

Result<void> FileBlobStore::remove(const QString &id, qint64 lease)
{
    if (!isBlobId(id))
        return makeError(ErrorCode::InvalidArgument, QStringLiteral("Not a blob id."));
    BlobFiles::DirectoryLock lock(m_root);
    if (!lock.locked())
        return lock.error();
    if (auto removed = removeUnlocked(id, lease); !removed)
        return removed.error();
    return {};
}

Result<int> FileBlobStore::collectTemporary()
{
    const qint64 before = BlobFiles::nowNs() - m_options.leaseMs * 1'000'000;
    int removed = 0;
    QDirIterator it(m_root + QStringLiteral("/tmp"), QDir::Files | QDir::Hidden);
    while (it.hasNext()) {
        const QString path = it.next();
        if (BlobFiles::stampOf(path) >= before)
            continue;
        // A writer holds its file locked: a slow upload is not abandoned.
        const int fd = ::open(QFile::encodeName(path).constData(), O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        if (::flock(fd, LOCK_EX | LOCK_NB) == 0 &&
            ::unlink(QFile::encodeName(path).constData()) == 0)
            ++removed;
        ::close(fd);
    }
    return removed;
}

Result<BlobCollection>
FileBlobStore::collect(const std::function<Result<bool>(const QString &id)> &referenced)
{
    BlobCollection collection;
    auto temporary = collectTemporary();
    if (!temporary)
        return temporary.error();
    collection.temporaryFiles = *temporary;

    QStringList shards = QDir(m_root).entryList(QDir::Dirs | QDir::NoDotAndDotDot, QDir::Name);
    shards.removeIf([](const QString &name) { return !isShardName(name); });
    const qint64 before = BlobFiles::nowNs() - m_options.leaseMs * 1'000'000;
    int checks = 0;
    const int first = shards.isEmpty() ? 0 : m_nextShard.load() % int(shards.size());
    for (int n = 0; n < shards.size(); ++n) {
        const int shard = (first + n) % int(shards.size());
        if (checks >= m_options.maxChecksPerPass) {
            m_nextShard = shard; // the next pass goes on here
            return collection;
        }
        QDirIterator it(m_root + u'/' + shards[shard], QDir::Files);
        while (it.hasNext()) {
            const QString path = it.next();
            const QString id = it.fileName();
            if (!isBlobId(id) || BlobFiles::stampOf(path) >= before)
                continue;
            ++checks;
            auto used = referenced(id);
            if (!used)
                return used.error();
            if (*used)
                continue;
            // Re-checked under the lock: a commit that took it after the query renewed it.
            BlobFiles::DirectoryLock lock(m_root);
            if (!lock.locked())
                return lock.error();
            auto removed = removeUnlocked(id, 0);
            if (!removed)
                return removed.error();
            collection.blobs += *removed ? 1 : 0;
        }
    }
    m_nextShard = first;
    return collection;
}

} // namespace Ferry
