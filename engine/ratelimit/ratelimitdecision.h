#pragma once

#include <QtGlobal>

namespace Ferry {

// The answer to one request. remaining and resetSeconds feed the RateLimit header;
// retryAfterSeconds (>= 1) is set only when the request is refused.
struct RateLimitDecision
{
    bool allowed = false;
    qint64 remaining = 0;         // requests that would still pass right now
    qint64 resetSeconds = 0;      // until the full quota is back, rounded up
    qint64 retryAfterSeconds = 0; // until the next request passes, rounded up; 0 when allowed
};

} // namespace Ferry
