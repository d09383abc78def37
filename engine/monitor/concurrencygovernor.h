#pragma once

#include "core/error.h"

#include <QString>

#include <optional>

namespace Ferry {

// Adaptive concurrency, as pure logic: fed one reading a tick, it decides how many jobs may run
// and whether claiming must pause for disk. ResourceMonitor applies its decisions to the
// Dispatcher. The rules (the seed's, with hysteresis so it does not flap):
//  - RSS above the high-water mark: the limit drops by one every tick, down to 1.
//  - RSS between the marks: nothing changes, and the recovery clock restarts.
//  - RSS below the low-water mark continuously for holdMs: the limit rises by one; each further
//    step needs another holdMs below low water, up to the operator's configured maximum, where
//    the throttle ends.
//  - Free disk below minFreeDiskBytes: claiming pauses (running jobs finish). It resumes once
//    free disk is back above the floor plus a tenth of it.
// The operator's maximum is an input, not state: lowering it below the throttled limit takes
// effect at once (and the throttle follows it); raising it while throttled leaves the throttled
// limit alone and recovery climbs to the new maximum.
class ConcurrencyGovernor final
{
public:
    struct Config
    {
        qint64 highWaterBytes = qint64(500) << 20;
        qint64 lowWaterBytes = qint64(400) << 20;
        qint64 holdMs = 30'000;
        qint64 minFreeDiskBytes = qint64(256) << 20; // 0: never pause for disk
    };
    struct Reading
    {
        qint64 nowMs = 0;
        qint64 rssBytes = -1;      // -1: unknown this tick (memory rules skip it)
        qint64 freeDiskBytes = -1; // -1: unknown this tick (disk rule skips it)
        int configuredMax = 1;
    };
    struct Decision
    {
        int effectiveLimit = 1;
        bool throttled = false; // effectiveLimit is the governor's, below the configured maximum
        bool claimingPaused = false;
        bool limitChanged = false;
        bool claimingChanged = false;
        QString reason; // why, when something changed (for the log and the console)
    };

    explicit ConcurrencyGovernor(Config config);

    Decision update(const Reading &reading);
    const Config &config() const { return m_config; }
    // New memory marks, used from the next update (the throttle state carries over).
    void setWatermarks(qint64 highWaterBytes, qint64 lowWaterBytes);
    // high > low > 0.
    static Result<void> validateWatermarks(qint64 highWaterBytes, qint64 lowWaterBytes);

    static QString megabytes(qint64 bytes);

private:
    Config m_config;
    int m_limit = -1; // -1 until the first reading
    bool m_throttled = false;
    bool m_claimingPaused = false;
    std::optional<qint64> m_belowLowSinceMs;
};

} // namespace Ferry
