#pragma once

#include <QtGlobal>

#include <functional>

namespace Ferry {

// Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff And
// Jitter"): the wait before retry n is uniform in [0, min(cap, base * 2^(n-1))].
class Backoff final
{
public:
    // random() returns a value in [0, 1); injected so tests can pin it.
    Backoff(qint64 baseMs, qint64 capMs, std::function<double()> random = {});

    qint64 ceilingMs(int attempt) const;
    qint64 delayMs(int attempt) const;

private:
    qint64 m_baseMs;
    qint64 m_capMs;
    std::function<double()> m_random;
};

} // namespace Ferry
