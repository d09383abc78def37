#pragma once

#include "quota/uploadquota.h"

#include <QThreadPool>

#include <memory>

namespace Ferry {

// One upload's quota reservation, given back unless the upload succeeded: whatever path an
// upload leaves by (refused, failed, client gone), the destructor releases what is still held.
// No quota (null): everything is granted and nothing is held.
//
// A network thread never waits for the database: reserveInBackground() asks on a pool and
// returns at once; settle() (on a worker, once the body is in) waits for that answer, and a
// refusal comes back from settle() as its refusal. Releases run on the pool too, so a hold that
// dies on a network thread (client gone) does not wait for the SQLite writer or PostgreSQL.
class QuotaHold final
{
public:
    QuotaHold() = default;
    // A reservation already made (held at once).
    QuotaHold(UploadQuota *quota, QuotaReservation reservation);
    // Reserves `bytes` for userId on `pool` (default: the global pool); pending until then.
    static QuotaHold reserveInBackground(UploadQuota *quota,
                                         qint64 userId,
                                         qint64 bytes,
                                         QThreadPool *pool = nullptr);
    ~QuotaHold();
    QuotaHold(QuotaHold &&other) noexcept;
    QuotaHold &operator=(QuotaHold &&other) noexcept;
    Q_DISABLE_COPY(QuotaHold)

    // The upload was stored with actualBytes: settles the reservation at that size (after
    // waiting for a reservation still pending). A refusal (the reservation refused, or a body of
    // unannounced size past the limit) leaves nothing held. Still held afterwards: release()
    // undoes the settled upload when it cannot be queued after all. Blocks: call it on a worker.
    Result<QuotaDecision> settle(qint64 actualBytes);
    // Gives back what is held, on the pool; a pending reservation is given back once made.
    void release();
    // The upload succeeded: the (settled) reservation stays counted.
    void keep();
    bool holding() const { return m_quota && m_held; }
    // Non-blocking: the background reservation has answered and refused (a body may stop early).
    bool refused() const;

private:
    struct Pending;

    UploadQuota *m_quota = nullptr;
    QuotaReservation m_reservation;
    bool m_held = false;
    std::shared_ptr<Pending> m_pending; // while the background reservation is not taken in
    QThreadPool *m_pool = nullptr;
};

} // namespace Ferry
