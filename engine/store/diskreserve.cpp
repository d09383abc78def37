#include "store/diskreserve.h"

#include <QDebug>
#include <QFileInfo>
#include <QLoggingCategory>

#include <cerrno>
#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

namespace Ferry {

Q_LOGGING_CATEGORY(lcDiskReserve, "ferry.store.disk")

DiskReserve::DiskReserve(QString path, qint64 floorBytes, qint64 reserveBytes)
    : m_path(std::move(path)), m_floor(qMax<qint64>(0, floorBytes)), m_bytes(reserveBytes)
{}

qint64 DiskReserve::freeBytes() const
{
    struct statvfs fs;
    const QByteArray dir = QFileInfo(m_path).absolutePath().toLocal8Bit();
    if (statvfs(dir.constData(), &fs) != 0)
        return -1;
    return qint64(fs.f_bavail) * qint64(fs.f_frsize);
}

bool DiskReserve::aboveFloor(qint64 pendingBytes) const
{
    if (m_floor <= 0)
        return true;
    const qint64 free = freeBytes();
    return free < 0 || free - qMax<qint64>(0, pendingBytes) >= m_floor;
}

void DiskReserve::ensure()
{
    const std::lock_guard lock(m_mutex);
    const QByteArray path = m_path.toLocal8Bit();
    if (::access(path.constData(), F_OK) == 0)
        return;
    const qint64 free = freeBytes();
    if (free >= 0 && free < 2 * m_bytes + m_floor)
        return; // no room to spare: taking it would fill the disk sooner
    const int fd = ::open(path.constData(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    // Real blocks (not a sparse file), so that deleting it gives room back.
    const int error = ::posix_fallocate(fd, 0, off_t(m_bytes));
    ::close(fd);
    if (error != 0) {
        ::unlink(path.constData());
        qCInfo(lcDiskReserve) << "could not set aside" << (m_bytes >> 20) << "MiB in" << m_path
                              << ":" << strerror(error);
    }
}

bool DiskReserve::release()
{
    const std::lock_guard lock(m_mutex);
    if (::unlink(m_path.toLocal8Bit().constData()) != 0)
        return false;
    qCWarning(lcDiskReserve) << "the disk is full: released the" << (m_bytes >> 20) << "MiB reserve"
                             << m_path
                             << "so that a failed import can be undone; it is taken again once "
                                "the disk has room";
    return true;
}

} // namespace Ferry
