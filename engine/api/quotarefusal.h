#pragma once

#include "http/httptypes.h"
#include "quota/uploadquota.h"

namespace Ferry::Api {

// The 429 answer to an upload a monthly quota refused, the same for every upload route: which
// limit, its value, what this month has used of it, what the upload asked for, and when the
// quota resets (also as Retry-After), so a client or a person can act on it.
//   {"success": false, "error": "Quota exceeded", "code": "quota_exceeded", "message": "...",
//    "quota": {"limit": "uploads"|"bytes", "max": N, "used": N, "requested": N,
//              "resetsAt": "2027-01-01T00:00:00Z"}}
Http::Response quotaExceeded(const QuotaDecision &decision, qint64 nowMs);

} // namespace Ferry::Api
