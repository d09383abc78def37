#include "procprobe.h"

#include <QFile>
#include <QStorageInfo>

#include <unistd.h>

namespace Ferry {

namespace {

Error malformed(const QString &path, const QString &what)
{
    return makeError(ErrorCode::Internal,
                     QStringLiteral("Cannot read %1 from %2: unexpected format.").arg(what, path),
                     QStringLiteral("The resource monitor skips this value until it reads."));
}

// "Key:   12345 kB" lines (status, meminfo): the value in bytes.
Result<qint64> kilobytesField(const QByteArray &text, const QByteArray &key, const QString &path)
{
    const QByteArray prefix = key + ':';
    for (const QByteArray &line : text.split('\n')) {
        if (!line.startsWith(prefix))
            continue;
        const QList<QByteArray> parts = line.mid(prefix.size()).simplified().split(' ');
        bool ok = false;
        const qint64 value = parts.value(0).toLongLong(&ok);
        if (!ok || value < 0 || parts.size() != 2 || parts.at(1) != "kB")
            return malformed(path, QString::fromLatin1(key));
        return value * 1024;
    }
    return malformed(path, QString::fromLatin1(key));
}

} // namespace

ProcProbe::ProcProbe(QString diskPath, QString procRoot, qint64 ticksPerSecond)
    : m_diskPath(std::move(diskPath))
    , m_procRoot(std::move(procRoot))
    , m_ticksPerSecond(ticksPerSecond > 0 ? ticksPerSecond : qint64(sysconf(_SC_CLK_TCK)))
{}

Result<QByteArray> ProcProbe::read(const QString &relativePath) const
{
    // /proc files report size 0: read until the end, not by size.
    QFile file(m_procRoot + u'/' + relativePath);
    if (!file.open(QIODevice::ReadOnly)) {
        return makeError(
            ErrorCode::Internal,
            QStringLiteral("Cannot open %1: %2.").arg(file.fileName(), file.errorString()),
            QStringLiteral("The resource monitor skips this value."));
    }
    return file.readAll();
}

Result<qint64> ProcProbe::processRssBytes()
{
    const QString path = QStringLiteral("self/status");
    auto text = read(path);
    if (!text)
        return text.error();
    return kilobytesField(*text, "VmRSS", m_procRoot + u'/' + path);
}

Result<qint64> ProcProbe::processCpuTimeMs()
{
    const QString path = QStringLiteral("self/stat");
    auto text = read(path);
    if (!text)
        return text.error();
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so the fields start
    // after the last ')'. utime and stime are fields 14 and 15 (proc(5)), 12th and 13th after it.
    const qsizetype close = text->lastIndexOf(')');
    if (close < 0)
        return malformed(m_procRoot + u'/' + path, QStringLiteral("utime/stime"));
    const QList<QByteArray> fields = text->mid(close + 1).simplified().split(' ');
    constexpr int UtimeIndex = 14 - 3;
    constexpr int StimeIndex = 15 - 3;
    if (fields.size() <= StimeIndex)
        return malformed(m_procRoot + u'/' + path, QStringLiteral("utime/stime"));
    bool userOk = false;
    bool systemOk = false;
    const qint64 user = fields.at(UtimeIndex).toLongLong(&userOk);
    const qint64 system = fields.at(StimeIndex).toLongLong(&systemOk);
    if (!userOk || !systemOk || user < 0 || system < 0)
        return malformed(m_procRoot + u'/' + path, QStringLiteral("utime/stime"));
    return (user + system) * 1000 / m_ticksPerSecond;
}

Result<SystemMemory> ProcProbe::systemMemory()
{
    const QString path = QStringLiteral("meminfo");
    auto text = read(path);
    if (!text)
        return text.error();
    auto total = kilobytesField(*text, "MemTotal", m_procRoot + u'/' + path);
    if (!total)
        return total.error();
    auto available = kilobytesField(*text, "MemAvailable", m_procRoot + u'/' + path);
    if (!available)
        return available.error();
    if (*available > *total)
        return malformed(m_procRoot + u'/' + path, QStringLiteral("MemAvailable"));
    return SystemMemory{*total, *available};
}

Result<qint64> ProcProbe::freeDiskBytes()
{
    const QStorageInfo storage(m_diskPath);
    if (!storage.isValid() || !storage.isReady()) {
        return makeError(ErrorCode::Internal,
                         QStringLiteral("Cannot read the free space of %1.").arg(m_diskPath),
                         QStringLiteral("Check that the data directory exists."));
    }
    return storage.bytesAvailable();
}

} // namespace Ferry
