#include "backoff.h"

#include <QRandomGenerator>

#include <cmath>

namespace Ferry {

Backoff::Backoff(qint64 baseMs, qint64 capMs, std::function<double()> random)
    : m_baseMs(qMax<qint64>(0, baseMs))
    , m_capMs(qMax<qint64>(0, capMs))
    , m_random(random ? std::move(random)
                      : [] { return QRandomGenerator::global()->generateDouble(); })
{}

qint64 Backoff::ceilingMs(int attempt) const
{
    const int exponent = qBound(0, attempt - 1, 40); // 2^40 * base overflows nothing, caps anyway
    const double ceiling = double(m_baseMs) * std::ldexp(1.0, exponent);
    return qint64(qMin(ceiling, double(m_capMs)));
}

qint64 Backoff::delayMs(int attempt) const
{
    const double unit = qBound(0.0, m_random(), 1.0);
    return qint64(std::floor(unit * double(ceilingMs(attempt))));
}

} // namespace Ferry
