#include "ui/jobs/durationtext.h"

namespace Ferry {

QString durationText(qint64 ms)
{
    if (ms < 0)
        return {};
    if (ms < 1000) // most imports of a few thousand rows: "0.0 s" would say nothing
        return QStringLiteral("%1 ms").arg(ms);
    if (ms < 10'000)
        return QStringLiteral("%1 s").arg(double(ms) / 1000.0, 0, 'f', 1);
    const qint64 s = ms / 1000;
    if (s < 3600)
        return QStringLiteral("%1m %2s").arg(s / 60).arg(s % 60, 2, 10, QLatin1Char('0'));
    return QStringLiteral("%1h %2m").arg(s / 3600).arg((s / 60) % 60, 2, 10, QLatin1Char('0'));
}

} // namespace Ferry
