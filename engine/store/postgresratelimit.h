#pragma once

#include "store/connectionpool.h"
#include "store/databaseconfig.h"
#include "store/ratelimitbackend.h"

#include <atomic>

namespace Ferry {

// The cluster-wide rate limit on PostgreSQL: one GCRA theoretical arrival time per key in the
// UNLOGGED table rate_limits (migrations 0010, 0011). A node takes a batch of requests' worth of a
// key's quota with one statement, an INSERT ... ON CONFLICT (key) DO UPDATE that takes as many as
// are left (up to the batch): the row lock orders the nodes' takes of one key, a take that finds
// nothing left leaves the TAT alone, and the statement returns what the node needs to hand out
// (SharedRateLimit, on its own pool: never on a network thread).
//
// TATs are kept in ticks of 1/limit ms, so window/limit needs no rounding (exactly `limit` pass
// in a burst) and keys are prefixed with "<limit>/<window seconds> ": a policy change starts every
// client over, as RateLimiter::setPolicy does in memory, and nodes configured differently never
// misread each other's rows.
//
// Connections: its own small ConnectionPool (one connection per network thread that asks, at most
// maxConnections), separate from the store's so a store busy with jobs cannot starve the limiter.
// Each connection has a connect timeout and a statement timeout (below), so an unreachable
// database costs a bounded wait, after which RateLimiter decides locally.
class PostgresRateLimit final : public RateLimitBackend
{
public:
    static constexpr int DefaultMaxConnections = 8;
    static constexpr int ConnectTimeoutSeconds = 2;
    static constexpr int StatementTimeoutMs = 1'000;

    // The table must exist (the store migrates before the engine starts). Connects lazily.
    explicit PostgresRateLimit(DatabaseConfig config, int maxConnections = DefaultMaxConnections);
    ~PostgresRateLimit() override;
    Q_DISABLE_COPY_MOVE(PostgresRateLimit)

    Result<RateLimitGrant>
    take(const QString &key, qint64 nowMs, qint64 limit, qint64 windowMs, qint64 wanted) override;
    Result<qint64> purgeReset(qint64 nowMs) override;

    // The key as stored: the policy's prefix and the client's key.
    static QString storedKey(const QString &key, qint64 limit, qint64 windowMs);

    // Statements sent to the database (take and purge): tests compare it with the requests.
    qint64 roundTrips() const { return m_roundTrips.load(std::memory_order_relaxed); }

private:
    ConnectionPool m_pool;
    std::atomic<qint64> m_roundTrips{0};
};

} // namespace Ferry
