#pragma once

#include "core/error.h"

namespace Ferry {

struct SystemMemory
{
    qint64 totalBytes = 0;
    qint64 availableBytes = 0; // what can be allocated without swapping (MemAvailable)
};

// Where the resource monitor reads the machine from. ProcProbe is the Linux implementation
// (/proc and statvfs); tests inject fixtures or a double. Called on the monitor's thread only.
class SystemProbe
{
public:
    virtual ~SystemProbe() = default;

    virtual Result<qint64> processRssBytes() = 0;
    // User plus system CPU time this process has used since it started.
    virtual Result<qint64> processCpuTimeMs() = 0;
    virtual Result<SystemMemory> systemMemory() = 0;
    // Free bytes for an unprivileged writer on the data directory's file system.
    virtual Result<qint64> freeDiskBytes() = 0;
};

} // namespace Ferry
