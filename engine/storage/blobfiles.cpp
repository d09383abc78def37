#include "storage/blobfiles.h"

#include <QDir>
#include <QFile>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace Ferry::BlobFiles {

DirectoryLock::DirectoryLock(const QString &root) : m_root(root)
{
    if (!QDir().mkpath(root)) {
        m_errno = errno;
        return;
    }
    const QByteArray path = QFile::encodeName(root + QStringLiteral("/.lock"));
    m_fd = ::open(path.constData(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (m_fd < 0) {
        m_errno = errno;
        return;
    }
    int result;
    do {
        result = ::flock(m_fd, LOCK_EX);
    } while (result != 0 && errno == EINTR);
    if (result != 0) {
        m_errno = errno;
        ::close(m_fd);
        m_fd = -1;
    }
}

DirectoryLock::~DirectoryLock()
{
    if (m_fd >= 0)
        ::close(m_fd); // releases the lock
}

Error DirectoryLock::error() const
{
    return makeError(ErrorCode::Storage,
                     QStringLiteral("Cannot lock the upload directory %1: %2")
                         .arg(m_root, QString::fromLocal8Bit(std::strerror(m_errno))),
                     QStringLiteral("Check that the blob directory is writable."));
}

bool syncPath(const QString &path)
{
    const int fd = ::open(QFile::encodeName(path).constData(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    const bool ok = ::fsync(fd) == 0;
    ::close(fd);
    return ok;
}

qint64 stampOf(const QString &path)
{
    struct stat info
    {};
    if (::stat(QFile::encodeName(path).constData(), &info) != 0)
        return -1;
    return qint64(info.st_mtim.tv_sec) * 1'000'000'000 + info.st_mtim.tv_nsec;
}

qint64 nowNs()
{
    timespec now{};
    ::clock_gettime(CLOCK_REALTIME, &now);
    return qint64(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
}

Result<qint64> renewStamp(const QString &path, qint64 now)
{
    const QByteArray name = QFile::encodeName(path);
    const qint64 old = stampOf(path);
    // A whole second past the old stamp: file systems that keep seconds only still see a change.
    qint64 stamp = std::max(now, old + 1'000'000'000);
    for (int attempt = 0; attempt < 2; ++attempt) {
        timespec times[2];
        times[0].tv_sec = 0;
        times[0].tv_nsec = UTIME_OMIT;
        times[1].tv_sec = time_t(stamp / 1'000'000'000);
        times[1].tv_nsec = long(stamp % 1'000'000'000);
        if (::utimensat(AT_FDCWD, name.constData(), times, 0) != 0) {
            return makeError(ErrorCode::Storage,
                             QStringLiteral("Cannot update %1: %2")
                                 .arg(path, QString::fromLocal8Bit(std::strerror(errno))),
                             QStringLiteral("Check the blob directory."));
        }
        const qint64 stored = stampOf(path);
        if (stored > old)
            return stored;
        stamp += 1'000'000'000;
    }
    return makeError(
        ErrorCode::Storage,
        QStringLiteral("The file system of %1 does not keep modification times.").arg(path));
}

} // namespace Ferry::BlobFiles
