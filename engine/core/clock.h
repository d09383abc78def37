#pragma once

#include <QtGlobal>

#include <atomic>

namespace Ferry {

// Wall-clock time in milliseconds since the Unix epoch (UTC). Injected everywhere time decides
// behaviour (backoff, leases, timeouts) so tests can move time by hand.
class Clock
{
public:
    virtual ~Clock() = default;
    virtual qint64 nowMs() const = 0;
};

class SystemClock final : public Clock
{
public:
    qint64 nowMs() const override;
};

// A clock that only moves when told to; thread-safe.
class ManualClock final : public Clock
{
public:
    explicit ManualClock(qint64 startMs = 1'700'000'000'000) : m_now(startMs) {}
    qint64 nowMs() const override { return m_now.load(); }
    void advance(qint64 ms) { m_now.fetch_add(ms); }
    void set(qint64 ms) { m_now.store(ms); }

private:
    std::atomic<qint64> m_now;
};

} // namespace Ferry
