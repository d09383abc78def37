#pragma once

#include "core/clock.h"
#include "core/pendingwrites.h"
#include "quota/uploadquota.h"
#include "store/store.h"

#include <QList>

namespace Ferry {

// Where a user stands this month.
struct QuotaStatus
{
    QString period; // "YYYY-MM" (UTC)
    qint64 periodStartMs = 0;
    qint64 resetsAtMs = 0;  // start of the next month
    qint64 uploadsUsed = 0; // uploads being received count as used
    qint64 bytesUsed = 0;
    qint64 uploadsLimit = 0; // -1: unlimited
    qint64 bytesLimit = 0;
    bool uploadsLimitIsDefault = true; // from the tier, not set for this user
    bool bytesLimitIsDefault = true;
};

// Monthly per-user upload quotas over the store: limits per user (or the tier's defaults),
// usage per calendar month in UTC, taken from the clock at each call, so the month rolls over
// with no scheduled task. Thread-safe; every check-and-count is one store transaction.
//
// Reservations belong to what they were made for (store.h, releaseOrphanedQuotaReservations): a
// request on this node (nodeId, as in the cluster registry) or a tus upload. An upload is charged
// to, and checked against, the month it settles in. A release or refund the store refuses (the
// database away) is kept and written by retryPendingReleases(), so a live node does not keep
// its users charged for uploads that failed.
class QuotaLedger final : public UploadQuota, public ImportQuota
{
public:
    // nodeId: this process's id in the cluster registry (empty: a fresh one).
    QuotaLedger(Store &store, const Clock &clock, QString nodeId = {});

    // A reservation whose owner is gone is released after this long (a request that reserved
    // before its node's first heartbeat keeps it).
    static constexpr qint64 OrphanGraceMs = 5 * 60'000;

    Result<QuotaDecision> reserve(qint64 userId, qint64 bytes) override;
    Result<QuotaDecision>
    reserveForUpload(qint64 userId, qint64 bytes, const QString &tusUploadId) override;
    Result<QuotaDecision> settle(const QuotaReservation &reservation, qint64 actualBytes) override;
    void release(const QuotaReservation &reservation) override;
    Result<QuotaDecision> chargeImportBytes(qint64 userId, qint64 bytes) override;

    // Releases the reservations whose owner is gone (store.h). engineStart: on an exclusive
    // store (SQLite) at engine start, every node's reservation (no request survives a restart);
    // else those of nodes missing from the registry, older than OrphanGraceMs.
    Result<int> releaseOrphans(bool engineStart);
    const QString &nodeId() const { return m_nodeId; }

    // At most this many unwritten releases are kept (the oldest go first, logged).
    static constexpr qsizetype MaxPendingReleases = 100'000;
    // Writes the releases the store refused earlier; returns how many are still unwritten.
    // A refund (of a settled upload) whose commit succeeded but was reported as failed is
    // refunded twice: the user's favour, in a case that needs the connection to drop inside a
    // commit.
    qsizetype retryPendingReleases();
    qsizetype pendingReleaseCount() const;

    Result<QuotaStatus> status(const User &user);
    // -1: unlimited; std::nullopt: back to the tier's default. Negative values other than -1
    // are refused.
    Result<void>
    setLimits(qint64 userId, std::optional<qint64> uploads, std::optional<qint64> bytes);
    // Forgets this month's usage (reservations of uploads in flight stay).
    Result<void> resetUsage(qint64 userId);

    static QString periodOf(qint64 ms);
    static qint64 nextPeriodStartMs(qint64 ms);

private:
    Result<User> userById(qint64 userId);
    static QuotaDecision refusal(QuotaOutcome outcome, const QuotaStatus &status, qint64 bytes);
    Result<QuotaDecision> reserveAs(qint64 userId, qint64 bytes, const QString &owner);
    Result<void> releaseNow(const QuotaReservation &reservation);

    Store &m_store;
    const Clock &m_clock;
    const QString m_nodeId;
    PendingWrites<QuotaReservation> m_pendingReleases{MaxPendingReleases};
};

} // namespace Ferry
