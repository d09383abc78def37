#pragma once

#include <QByteArrayView>

#include <optional>

namespace Ferry {

// CPU time this process used (user + system), in seconds, from the text of /proc/self/stat:
// fields 14 and 15 (utime, stime) in clock ticks. The command name (field 2) may hold spaces and
// parentheses, so fields are counted from the last ')'. nullopt when the text does not parse.
std::optional<double> cpuSecondsFromStat(QByteArrayView stat, long ticksPerSecond);
// The same for this process now (sysconf(_SC_CLK_TCK) ticks per second).
std::optional<double> processCpuSeconds();

} // namespace Ferry
