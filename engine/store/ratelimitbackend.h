#pragma once

#include "core/error.h"

#include <QString>

namespace Ferry {

// What the shared state granted to one node's request for a batch of requests (tokens).
struct RateLimitGrant
{
    qint64 granted = 0;      // tokens taken, 0..wanted
    qint64 remaining = 0;    // tokens still there for the key after this grant
    qint64 resetMs = 0;      // until the key's full quota is back
    qint64 retryAfterMs = 0; // until the next token, when fewer than wanted were granted
};

// Where the rate limiter keeps its per-key state when it must be shared by several processes
// (nodes on one PostgreSQL database). RateLimiter keeps the policy, the headers and its own
// in-memory state; with a backend it takes tokens from it in batches (SharedRateLimit), never one
// round trip per request.
//
// Implementations are thread-safe and may block (they are called on a pool, never on a network
// thread).
class RateLimitBackend
{
public:
    virtual ~RateLimitBackend() = default;

    // Takes up to `wanted` requests' worth of `key`'s quota at nowMs under `limit` requests per
    // `windowMs` (GCRA, as RateLimiter does in memory: a burst of `limit`, then one more every
    // windowMs/limit), atomically for every process sharing the backend. An error means "could
    // not decide" (database unreachable): the caller decides locally instead.
    virtual Result<RateLimitGrant>
    take(const QString &key, qint64 nowMs, qint64 limit, qint64 windowMs, qint64 wanted) = 0;

    // Housekeeping: forgets the keys whose quota is fully back by nowMs; returns how many.
    virtual Result<qint64> purgeReset(qint64 nowMs) = 0;
};

} // namespace Ferry
