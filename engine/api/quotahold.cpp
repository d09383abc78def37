#include "quotahold.h"

#include <utility>

namespace Ferry {

QuotaHold::QuotaHold(UploadQuota *quota, QuotaReservation reservation)
    : m_quota(quota), m_reservation(std::move(reservation)), m_held(quota != nullptr)
{}

QuotaHold::~QuotaHold()
{
    release();
}

QuotaHold::QuotaHold(QuotaHold &&other) noexcept
    : m_quota(other.m_quota)
    , m_reservation(std::move(other.m_reservation))
    , m_held(std::exchange(other.m_held, false))
{}

QuotaHold &QuotaHold::operator=(QuotaHold &&other) noexcept
{
    if (this != &other) {
        release();
        m_quota = other.m_quota;
        m_reservation = std::move(other.m_reservation);
        m_held = std::exchange(other.m_held, false);
    }
    return *this;
}

Result<QuotaDecision> QuotaHold::settle(qint64 actualBytes)
{
    if (!holding()) {
        QuotaDecision granted;
        granted.granted = true;
        return granted;
    }
    auto decision = m_quota->settle(m_reservation, actualBytes);
    if (!decision) {
        release();
        return decision;
    }
    if (decision->granted && decision->reservation.userId != 0)
        m_reservation = decision->reservation;
    else
        m_held = false; // settle() released it
    return decision;
}

void QuotaHold::release()
{
    if (!holding())
        return;
    m_held = false;
    m_quota->release(m_reservation);
}

void QuotaHold::keep()
{
    m_held = false;
}

} // namespace Ferry
