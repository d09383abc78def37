#pragma once

#include <QMetaType>
#include <QtGlobal>

namespace Ferry {

// One reading of the engine's resources and load, taken by ResourceMonitor once a second (or
// one minute of them folded together by MetricHistory). A value the probe could not read is -1.
struct ResourceSample
{
    qint64 timestampMs = 0; // Unix epoch ms; for a minute row, the start of the minute
    qint64 rssBytes = -1;   // the engine process's resident memory
    double cpuPercent = -1; // process CPU time over wall time; 100 = one core busy
    qint64 systemMemTotalBytes = -1;
    qint64 systemMemAvailableBytes = -1;
    qint64 freeDiskBytes = -1; // on the file system of the data directory
    int activeJobs = 0;        // handlers running now
    int concurrencyLimit = 0;  // the effective limit (the governor's reduction applied)
    int configuredMax = 0;     // the operator's maximum
    qint64 queueDepth = 0;     // pending jobs
    double jobsCompletedPerMin = 0;
    double httpRequestsPerSec = 0;
    double http429PerSec = 0;
};

// The two resolutions kept in memory and in the store.
enum class MetricResolution {
    Second = 1,  // the last 15 minutes, one sample a second
    Minute = 60, // the last 24 hours, one row a minute
};

// What a chart asks for; each range answers from the resolution that covers it.
enum class MetricRange {
    LastMinute,    // 60 one-second samples
    Last15Minutes, // 900 one-second samples
    Last24Hours,   // 1440 one-minute rows
};

} // namespace Ferry

Q_DECLARE_METATYPE(Ferry::ResourceSample)
