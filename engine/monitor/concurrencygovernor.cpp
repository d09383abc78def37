#include "concurrencygovernor.h"

#include <QStringList>

namespace Ferry {

ConcurrencyGovernor::ConcurrencyGovernor(Config config) : m_config(config) {}

QString ConcurrencyGovernor::megabytes(qint64 bytes)
{
    return QStringLiteral("%1 MB").arg(double(bytes) / double(1 << 20), 0, 'f', 0);
}

ConcurrencyGovernor::Decision ConcurrencyGovernor::update(const Reading &reading)
{
    const int configured = qMax(1, reading.configuredMax);
    if (m_limit < 0)
        m_limit = configured; // the first reading starts from the operator's maximum
    const int before = m_limit;
    const bool pausedBefore = m_claimingPaused;
    QStringList reasons;

    if (m_throttled && m_limit >= configured) {
        m_throttled = false;
        reasons << QStringLiteral("the configured maximum %1 is at or below the throttled limit "
                                  "%2: throttle ended")
                       .arg(configured)
                       .arg(m_limit);
    }
    if (!m_throttled) {
        if (m_limit != configured && reasons.isEmpty())
            reasons << QStringLiteral("the configured maximum changed to %1").arg(configured);
        m_limit = configured;
    }

    if (reading.rssBytes >= 0) {
        const QString rss = megabytes(reading.rssBytes);
        if (reading.rssBytes > m_config.highWaterBytes) {
            m_belowLowSinceMs.reset();
            if (m_limit > 1) {
                --m_limit;
                m_throttled = true;
                reasons << QStringLiteral("RSS %1 above the high-water mark %2: concurrency %3 -> "
                                          "%4")
                               .arg(rss, megabytes(m_config.highWaterBytes))
                               .arg(m_limit + 1)
                               .arg(m_limit);
            }
        } else if (reading.rssBytes < m_config.lowWaterBytes) {
            if (!m_belowLowSinceMs)
                m_belowLowSinceMs = reading.nowMs;
            if (m_throttled && reading.nowMs - *m_belowLowSinceMs >= m_config.holdMs) {
                ++m_limit;
                m_belowLowSinceMs = reading.nowMs; // the next step waits a full hold again
                QString reason = QStringLiteral("RSS %1 below the low-water mark %2 for %3 s: "
                                                "concurrency %4 -> %5")
                                     .arg(rss, megabytes(m_config.lowWaterBytes))
                                     .arg(m_config.holdMs / 1000)
                                     .arg(m_limit - 1)
                                     .arg(m_limit);
                if (m_limit >= configured) {
                    m_limit = configured;
                    m_throttled = false;
                    reason += QStringLiteral(" (the configured maximum; throttle ended)");
                }
                reasons << reason;
            }
        } else {
            m_belowLowSinceMs.reset(); // between the marks: hold steady, restart the recovery clock
        }
    }

    if (reading.freeDiskBytes >= 0 && m_config.minFreeDiskBytes > 0) {
        const qint64 resumeAt = m_config.minFreeDiskBytes + m_config.minFreeDiskBytes / 10;
        if (!m_claimingPaused && reading.freeDiskBytes < m_config.minFreeDiskBytes) {
            m_claimingPaused = true;
            reasons << QStringLiteral("free disk %1 below the floor %2: claiming paused")
                           .arg(megabytes(reading.freeDiskBytes),
                                megabytes(m_config.minFreeDiskBytes));
        } else if (m_claimingPaused && reading.freeDiskBytes >= resumeAt) {
            m_claimingPaused = false;
            reasons << QStringLiteral("free disk %1 back above %2: claiming resumed")
                           .arg(megabytes(reading.freeDiskBytes), megabytes(resumeAt));
        }
    } else if (m_config.minFreeDiskBytes <= 0 && m_claimingPaused) {
        m_claimingPaused = false;
        reasons << QStringLiteral("no free-disk floor: claiming resumed");
    }

    Decision decision;
    decision.effectiveLimit = m_limit;
    decision.throttled = m_throttled;
    decision.claimingPaused = m_claimingPaused;
    decision.limitChanged = before != m_limit;
    decision.claimingChanged = pausedBefore != m_claimingPaused;
    if (decision.limitChanged || decision.claimingChanged)
        decision.reason = reasons.join(QStringLiteral("; "));
    return decision;
}

void ConcurrencyGovernor::setWatermarks(qint64 highWaterBytes, qint64 lowWaterBytes)
{
    m_config.highWaterBytes = highWaterBytes;
    m_config.lowWaterBytes = lowWaterBytes;
}

Result<void> ConcurrencyGovernor::validateWatermarks(qint64 highWaterBytes, qint64 lowWaterBytes)
{
    if (lowWaterBytes <= 0 || highWaterBytes <= lowWaterBytes) {
        return makeError(ErrorCode::InvalidArgument,
                         QStringLiteral("Memory marks %1 (high) and %2 (low) do not fit.")
                             .arg(megabytes(highWaterBytes), megabytes(lowWaterBytes)),
                         QStringLiteral("The low-water mark must be above 0 and below the "
                                        "high-water mark."));
    }
    return {};
}

} // namespace Ferry
