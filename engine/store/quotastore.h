#pragma once
// Monthly upload quotas: limits, usage and reservations (engine/quota/quotaledger.h).

#include "core/error.h"
#include "store/quotarecords.h"

namespace Ferry {

class QuotaStore
{
public:
    virtual ~QuotaStore() = default;

    // Limits of -1 mean unlimited.
    virtual Result<QuotaLimitOverrides> quotaLimits(qint64 userId) = 0;
    virtual Result<void> setQuotaLimits(qint64 userId, const QuotaLimitOverrides &limits) = 0;
    virtual Result<QuotaUsage> quotaUsage(qint64 userId, const QString &period) = 0;
    // Atomically: refused when one more upload, or `bytes` more, would pass a limit; otherwise
    // a reservation is recorded (counted as used until settled or released). Reservations count
    // against the current period whatever period they were made in (they are in flight now).
    // owner: what the reservation lives as long as: "node:<node id>" (a request on that node) or
    // "tus:<upload id>" (a resumable upload, which outlives restarts); see
    // releaseOrphanedQuotaReservations.
    virtual Result<QuotaReserveResult> reserveQuota(qint64 userId,
                                                    const QString &period,
                                                    qint64 bytes,
                                                    qint64 uploadsLimit,
                                                    qint64 bytesLimit,
                                                    qint64 now,
                                                    const QString &owner = {}) = 0;
    // The upload was stored with `bytes`: the reservation becomes usage of `period` (the
    // period it settles in; empty: the one it was reserved in), checked against that period.
    // Refused (nothing counted, the reservation released) when more bytes than reserved would
    // pass bytesLimit.
    virtual Result<QuotaOutcome> settleQuota(qint64 reservationId,
                                             qint64 bytes,
                                             qint64 bytesLimit,
                                             const QString &period = {}) = 0;
    virtual Result<void> releaseQuota(qint64 reservationId) = 0;
    // Takes one settled upload of `bytes` back out of the period's usage.
    virtual Result<void> refundQuota(qint64 userId, const QString &period, qint64 bytes) = 0;
    // Adds `bytes` to the period's usage (an import's decompressed bytes beyond what its upload
    // was charged) unless that passes bytesLimit (-1: unlimited): then nothing is added.
    virtual Result<QuotaOutcome>
    chargeQuotaBytes(qint64 userId, const QString &period, qint64 bytes, qint64 bytesLimit) = 0;
    // Every reservation (tests; an engine start now uses releaseOrphanedQuotaReservations).
    virtual Result<int> releaseAllQuotaReservations() = 0;
    // Reservations whose owner is gone, made before createdBefore: a node's whose row is no
    // longer in `nodes` (dead, per the cluster registry; everyNode: every node's, for an engine
    // start on an exclusive store, where no other process can hold one), a tus upload's whose
    // row is gone (expired, deleted, completed), and those without an owner (made before
    // migration 0012). Returns how many.
    virtual Result<int> releaseOrphanedQuotaReservations(qint64 createdBefore, bool everyNode) = 0;
    virtual Result<void> resetQuotaUsage(qint64 userId, const QString &period) = 0;

protected:
    QuotaStore() = default;
    Q_DISABLE_COPY_MOVE(QuotaStore)
};

} // namespace Ferry
