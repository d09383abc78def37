#pragma once

#include "ratelimit/ratelimitbackend.h"
#include "store/connectionpool.h"
#include "store/databaseconfig.h"

namespace Ferry {

// The cluster-wide rate limit on PostgreSQL: one GCRA theoretical arrival time per key in the
// UNLOGGED table rate_limits (migration 0010), decided by one statement per request, an
// INSERT ... ON CONFLICT (key) DO UPDATE ... WHERE <allowed>: the row lock orders concurrent
// requests of one key from every node, a refused request updates nothing (its TAT stays), and
// the statement returns what the RateLimit headers need.
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

    Result<RateLimitDecision>
    check(const QString &key, qint64 nowMs, qint64 limit, qint64 windowMs) override;
    Result<qint64> purgeReset(qint64 nowMs) override;

    // The key as stored: the policy's prefix and the client's key.
    static QString storedKey(const QString &key, qint64 limit, qint64 windowMs);

private:
    ConnectionPool m_pool;
};

} // namespace Ferry
