#pragma once

#include "quota/uploadquota.h"

namespace Ferry {

// One upload's quota reservation, given back unless the upload succeeded: whatever path an
// upload leaves by (refused, failed, client gone), the destructor releases what is still held.
// No quota (null): everything is granted and nothing is held.
class QuotaHold final
{
public:
    QuotaHold() = default;
    QuotaHold(UploadQuota *quota, QuotaReservation reservation);
    ~QuotaHold();
    QuotaHold(QuotaHold &&other) noexcept;
    QuotaHold &operator=(QuotaHold &&other) noexcept;
    Q_DISABLE_COPY(QuotaHold)

    // The upload was stored with actualBytes: settles the reservation at that size. A refusal
    // (a body of unannounced size past the limit) leaves nothing held. Still held afterwards:
    // release() undoes the settled upload when it cannot be queued after all.
    Result<QuotaDecision> settle(qint64 actualBytes);
    void release();
    // The upload succeeded: the (settled) reservation stays counted.
    void keep();
    bool holding() const { return m_quota && m_held; }

private:
    UploadQuota *m_quota = nullptr;
    QuotaReservation m_reservation;
    bool m_held = false;
};

} // namespace Ferry
