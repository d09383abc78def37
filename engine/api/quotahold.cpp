#include "quotahold.h"

#include <QMutex>
#include <QWaitCondition>

#include <optional>
#include <utility>

namespace Ferry {

// The background reservation's answer, shared by the hold and the pool thread. A hold that gives
// up before the answer sets `abandoned`: the pool thread then releases what it got.
struct QuotaHold::Pending
{
    QMutex mutex;
    QWaitCondition answered;
    std::optional<Result<QuotaDecision>> result;
    bool abandoned = false;
};

namespace {

QThreadPool *poolOrGlobal(QThreadPool *pool)
{
    return pool ? pool : QThreadPool::globalInstance();
}

} // namespace

QuotaHold::QuotaHold(UploadQuota *quota, QuotaReservation reservation)
    : m_quota(quota), m_reservation(std::move(reservation)), m_held(quota != nullptr)
{}

QuotaHold
QuotaHold::reserveInBackground(UploadQuota *quota, qint64 userId, qint64 bytes, QThreadPool *pool)
{
    QuotaHold hold;
    if (!quota)
        return hold;
    hold.m_quota = quota;
    hold.m_held = true;
    hold.m_pool = poolOrGlobal(pool);
    hold.m_pending = std::make_shared<Pending>();
    hold.m_pool->start([quota, userId, bytes, pending = hold.m_pending] {
        Result<QuotaDecision> decision = quota->reserve(userId, bytes);
        QMutexLocker locker(&pending->mutex);
        if (pending->abandoned) {
            locker.unlock();
            if (decision && decision->granted)
                quota->release(decision->reservation);
            return;
        }
        pending->result.emplace(std::move(decision));
        pending->answered.wakeAll();
    });
    return hold;
}

QuotaHold::~QuotaHold()
{
    release();
}

QuotaHold::QuotaHold(QuotaHold &&other) noexcept
    : m_quota(other.m_quota)
    , m_reservation(std::move(other.m_reservation))
    , m_held(std::exchange(other.m_held, false))
    , m_pending(std::move(other.m_pending))
    , m_pool(other.m_pool)
{}

QuotaHold &QuotaHold::operator=(QuotaHold &&other) noexcept
{
    if (this != &other) {
        release();
        m_quota = other.m_quota;
        m_reservation = std::move(other.m_reservation);
        m_held = std::exchange(other.m_held, false);
        m_pending = std::move(other.m_pending);
        m_pool = other.m_pool;
    }
    return *this;
}

bool QuotaHold::refused() const
{
    if (!m_pending)
        return false;
    QMutexLocker locker(&m_pending->mutex);
    return m_pending->result && (!*m_pending->result || !(*m_pending->result)->granted);
}

Result<QuotaDecision> QuotaHold::settle(qint64 actualBytes)
{
    if (m_pending) {
        std::shared_ptr<Pending> pending = std::exchange(m_pending, nullptr);
        QMutexLocker locker(&pending->mutex);
        while (!pending->result)
            pending->answered.wait(&pending->mutex);
        Result<QuotaDecision> reserved = std::move(*pending->result);
        locker.unlock();
        if (!reserved || !reserved->granted) {
            m_held = false; // nothing was reserved
            return reserved;
        }
        m_reservation = reserved->reservation;
    }
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
    UploadQuota *quota = m_quota;
    if (std::shared_ptr<Pending> pending = std::exchange(m_pending, nullptr)) {
        QMutexLocker locker(&pending->mutex);
        if (!pending->result) {
            pending->abandoned = true; // the pool thread releases it once made
            return;
        }
        Result<QuotaDecision> reserved = std::move(*pending->result);
        locker.unlock();
        if (!reserved || !reserved->granted)
            return;
        m_reservation = reserved->reservation;
    }
    if (m_pool) {
        m_pool->start([quota, reservation = m_reservation] { quota->release(reservation); });
        return;
    }
    quota->release(m_reservation);
}

void QuotaHold::keep()
{
    m_held = false;
    m_pending.reset();
}

} // namespace Ferry
