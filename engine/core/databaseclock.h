#pragma once

#include "core/clock.h"

#include <atomic>
#include <functional>

namespace Ferry {

// The database's clock, read on this node: the node's own clock plus an offset learned from
// round trips to the database (issue 17). Several nodes on one PostgreSQL compare times that
// each of them writes (lease expiries, heartbeats, the leader lease, run_at, quota months,
// rate-limit windows); if every node took its own clock, one whose clock is minutes off would
// steal other nodes' leases or lose its own. With this clock every node's "now" is the
// database's, off by at most half the round trip it was learned from (milliseconds), whatever
// the node's clock says. Learned at engine start and at every cluster heartbeat, so a node whose
// clock is stepped is corrected within a heartbeat. On SQLite (one machine) nothing is learned
// and it is the node's clock. Thread-safe.
class DatabaseClock final : public Clock
{
public:
    explicit DatabaseClock(const Clock &local) : m_local(local) {}

    qint64 nowMs() const override { return m_local.nowMs() + m_offsetMs.load(); }
    // This node's own clock, to time a round trip for learn().
    qint64 localNowMs() const { return m_local.nowMs(); }
    // The database read its clock as databaseMs during a round trip that began at sentAt and
    // ended at receivedAt (localNowMs): it did so somewhere in between, so the midpoint is the
    // best guess, off by at most half the round trip.
    void learn(qint64 sentAt, qint64 databaseMs, qint64 receivedAt);
    // One round trip through readDatabase (answers the database's time in ms since the epoch),
    // timed and learned; its error when the database cannot answer (the offset stays).
    template<typename Read>
    auto learnFrom(Read &&readDatabase)
    {
        const qint64 sentAt = localNowMs();
        auto databaseMs = readDatabase();
        if (databaseMs)
            learn(sentAt, *databaseMs, localNowMs());
        return databaseMs;
    }
    // The database's clock minus this node's (ms); 0 until learned.
    qint64 offsetMs() const { return m_offsetMs.load(); }

private:
    const Clock &m_local;
    std::atomic<qint64> m_offsetMs{0};
};

} // namespace Ferry
