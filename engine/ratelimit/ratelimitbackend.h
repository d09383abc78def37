#pragma once

#include "core/error.h"
#include "ratelimit/ratelimitdecision.h"

#include <QString>

namespace Ferry {

// Where the rate limiter keeps its per-key state when it must be shared by several processes
// (nodes on one PostgreSQL database). RateLimiter keeps the policy, the headers and its own
// in-memory state, and asks the backend first when it has one (RateLimiter::setSharedBackend).
//
// Implementations are thread-safe: RateLimiter::check runs on every network thread at once.
class RateLimitBackend
{
public:
    virtual ~RateLimitBackend() = default;

    // Decides one request of `key` at nowMs under `limit` requests per `windowMs`, atomically
    // for every process sharing the backend (GCRA, as RateLimiter does in memory). A refused
    // request leaves the key's state alone. An error means "could not decide" (database
    // unreachable): the caller decides locally instead.
    virtual Result<RateLimitDecision>
    check(const QString &key, qint64 nowMs, qint64 limit, qint64 windowMs) = 0;

    // Housekeeping: forgets the keys whose quota is fully back by nowMs; returns how many.
    virtual Result<qint64> purgeReset(qint64 nowMs) = 0;
};

} // namespace Ferry
