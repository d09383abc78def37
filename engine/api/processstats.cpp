#include "api/processstats.h"

#include <QFile>
#include <QList>

#include <unistd.h>

namespace Ferry {

std::optional<double> cpuSecondsFromStat(QByteArrayView stat, long ticksPerSecond)
{
    const qsizetype close = stat.lastIndexOf(')');
    if (close < 0 || ticksPerSecond <= 0)
        return std::nullopt;
    // After ")": state is field 3, so utime (14) and stime (15) are the 12th and 13th.
    const QList<QByteArray> fields = stat.sliced(close + 1).toByteArray().simplified().split(' ');
    if (fields.size() < 13)
        return std::nullopt;
    bool userOk = false;
    bool systemOk = false;
    const qint64 user = fields[11].toLongLong(&userOk);
    const qint64 system = fields[12].toLongLong(&systemOk);
    if (!userOk || !systemOk)
        return std::nullopt;
    return double(user + system) / double(ticksPerSecond);
}

std::optional<double> processCpuSeconds()
{
    QFile file(QStringLiteral("/proc/self/stat"));
    if (!file.open(QIODevice::ReadOnly))
        return std::nullopt;
    return cpuSecondsFromStat(file.readAll(), sysconf(_SC_CLK_TCK));
}

} // namespace Ferry
