#pragma once

#include "monitor/systemprobe.h"

#include <QString>

namespace Ferry {

// SystemProbe on Linux: the process from <procRoot>/self/status (VmRSS) and
// <procRoot>/self/stat (utime + stime), the machine from <procRoot>/meminfo, the disk from
// statvfs on diskPath. procRoot is "/proc" in the engine and a fixture directory in tests. A
// missing or malformed file is an error naming the file, never a made-up number.
class ProcProbe final : public SystemProbe
{
public:
    // ticksPerSecond: the unit of utime/stime (sysconf(_SC_CLK_TCK) when 0).
    explicit ProcProbe(QString diskPath,
                       QString procRoot = QStringLiteral("/proc"),
                       qint64 ticksPerSecond = 0);

    Result<qint64> processRssBytes() override;
    Result<qint64> processCpuTimeMs() override;
    Result<SystemMemory> systemMemory() override;
    Result<qint64> freeDiskBytes() override;

private:
    Result<QByteArray> read(const QString &relativePath) const;

    QString m_diskPath;
    QString m_procRoot;
    qint64 m_ticksPerSecond;
};

} // namespace Ferry
