#include "clock.h"

#include <QDateTime>

namespace Ferry {

qint64 SystemClock::nowMs() const
{
    return QDateTime::currentMSecsSinceEpoch();
}

} // namespace Ferry
