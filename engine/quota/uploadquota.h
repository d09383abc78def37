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
    // When refused: which limit ("uploads" or "bytes"), its value, what the month had used of
    // it before this request, and what this request asked for (1 upload, or its bytes).
    QString limitName;
    qint64 limit = 0;
    qint64 used = 0;
    qint64 requested = 0;
};

// The seam between the upload routes and the monthly quotas. Reservation is atomic: of two
// concurrent uploads at the limit exactly one is granted. An upload that is refused or fails
// to store releases its reservation; a stored one settles it at its real size.
class UploadQuota
{
public:
    virtual ~UploadQuota() = default;
    // One upload of `bytes` (0 when the size is not known yet, e.g. a chunked body), held for a
    // request in flight on this node: released by the node's next start, or by any node once
    // this one is gone from the cluster registry, if it is not settled or released before.
    virtual Result<QuotaDecision> reserve(qint64 userId, qint64 bytes) = 0;
    // The same for a resumable (tus) upload: held as long as the upload's row exists, across
    // restarts, so that its completion can still settle it.
    virtual Result<QuotaDecision>
    reserveForUpload(qint64 userId, qint64 bytes, const QString &tusUploadId)
    {
        Q_UNUSED(tusUploadId)
        return reserve(userId, bytes);
    }
    // The upload was stored with actualBytes. Refused (granted=false) when that passes the byte
    // limit (a body whose size was not announced); the reservation is then released.
    virtual Result<QuotaDecision> settle(const QuotaReservation &reservation,
                                         qint64 actualBytes) = 0;
    // Gives back a reservation; a settled one (its upload could not be queued after all) is
    // taken out of the usage again.
    virtual void release(const QuotaReservation &reservation) = 0;
};

// The seam between an import and the monthly byte quota: what a job reads beyond what its upload
// was charged (the decompressed size of a compressed upload) is charged as it is read.
class ImportQuota
{
public:
    virtual ~ImportQuota() = default;
    // Adds `bytes` to the user's usage this month; refused (granted=false, nothing added) when
    // that passes the byte limit. Negative bytes give back (down to 0), never refused.
    virtual Result<QuotaDecision> chargeImportBytes(qint64 userId, qint64 bytes) = 0;
};

} // namespace Ferry
