#pragma once

#include "core/error.h"

#include <QString>

namespace Ferry {

// One upload's claim on its user's monthly quota (calendar month, UTC).
struct QuotaReservation
{
    qint64 userId = 0;
    QString period;       // "YYYY-MM"
    qint64 bytes = 0;     // bytes reserved so far
    qint64 id = 0;        // the implementation's handle, 0 when nothing is held
    bool settled = false; // counted as a stored upload: release() takes it back out
};

// What reserve() decided. A refusal is an answer, not an error: it says which limit and when the
// period resets (for Retry-After).
struct QuotaDecision
{
    bool granted = false;
    QuotaReservation reservation; // when granted
    qint64 resetsAtMs = 0;        // start of the next period, ms since the epoch (UTC)
    QString message;              // when refused: "Monthly upload limit exceeded", ...
};

// The seam between the upload routes and the monthly quotas. Reservation is atomic: of two
// concurrent uploads at the limit exactly one is granted. An upload that is refused or fails
// to store releases its reservation; a stored one settles it at its real size.
class UploadQuota
{
public:
    virtual ~UploadQuota() = default;
    // One upload of `bytes` (0 when the size is not known yet, e.g. a chunked body).
    virtual Result<QuotaDecision> reserve(qint64 userId, qint64 bytes) = 0;
    // The upload was stored with actualBytes. Refused (granted=false) when that passes the byte
    // limit (a body whose size was not announced); the reservation is then released.
    virtual Result<QuotaDecision> settle(const QuotaReservation &reservation,
                                         qint64 actualBytes) = 0;
    // Gives back a reservation; a settled one (its upload could not be queued after all) is
    // taken out of the usage again.
    // Gives back a reservation; a settled one (its upload could not be queued after all) is
    // taken out of the usage again.
    virtual void release(const QuotaReservation &reservation) = 0;
};

} // namespace Ferry
