#pragma once

#include "core/clock.h"
#include "ratelimit/ratelimitdecision.h"
#include "store/ratelimitbackend.h"

#include <QHash>
#include <QMutex>
#include <QThreadPool>

#include <atomic>
#include <memory>
#include <optional>

namespace Ferry {

// How much of a client's quota a node holds: requests taken ahead from the shared state for a
// busy client (at least `batch`, at most `maxAhead`), and `credit` requests it lets through
// before the shared state has answered.
struct SharedShareSizes
{
    qint64 batch = 1;
    qint64 credit = 1;
    qint64 maxAhead = 1;
    // batch and credit limit/25 (2 for 50 per window), from 1 to 1000; maxAhead limit/25, at
    // least batch (the same up to a limit of 25,000).
    static SharedShareSizes forLimit(qint64 limit);
    // What a refill takes ahead for a client that passed `hits` requests since the last one:
    // nothing for a slow client (one request), else twice those hits, so that the next interval
    // is covered even when its round trip takes twice as long, within [batch, maxAhead]. A client
    // sending 60,000 requests a second under a high limit ran through a fixed 1,000 in 16 ms,
    // less than a round trip on a busy machine, and got 429s it had not earned.
    qint64 aheadFor(qint64 hits) const;
};

// The cluster-wide rate limit without a database round trip per request. Each node decides its
// clients' requests from a local share of their quota, which a pool thread refills from the
// shared backend (PostgresRateLimit) in batches:
//  - a request spends a token the node already holds; failing that, while the backend has not
//    said the client's quota is spent, it is let through on credit (at most `credit` unpaid per
//    client and node), and a refill is sent. The refill takes the debt plus, for a client that
//    sent more than one request since the last refill, tokens ahead (aheadFor: twice what it sent
//    since the last refill, within [batch, maxAhead]); the debt is paid first. A slow client
//    thus costs one round trip per request, off the network thread; a busy one one per `batch`
//    requests or more.
//  - when the backend grants fewer than asked, the client is refused here until the backend's
//    next token is due (no round trips meanwhile) and unpaid debt is paid from later grants.
// So across N nodes a client gets at most what one GCRA allows plus N x credit at any instant
// (the debts not paid yet), and in any stretch of time at most N x (maxAhead + credit) more
// (tokens taken ahead are spent a little later). docs/architecture.md, "Rate limit".
//
// check() never blocks on the backend: it returns nullopt when it cannot decide (backend down
// since its last refill failed, or the table of clients full of ones with refills in flight);
// RateLimiter then decides by its in-memory state. Memory: at most maxKeys clients.
class SharedRateLimit final
{
public:
    SharedRateLimit(std::shared_ptr<RateLimitBackend> backend, const Clock &clock, qint64 maxKeys);
    ~SharedRateLimit(); // waits for refills in flight
    Q_DISABLE_COPY_MOVE(SharedRateLimit)

    static constexpr qint64 RetryMs = 5'000; // after a failed refill: local until then

    std::optional<RateLimitDecision>
    check(const QString &key, qint64 nowMs, qint64 limit, qint64 windowMs);
    // The policy changed: every client starts over (refills in flight are ignored).
    void reset();
    // False after a refill failed, until one succeeds again.
    bool available() const { return !m_down.load(); }
    // Tests and shutdown: waits until no refill is in flight.
    void waitForRefills();
    qint64 refills() const { return m_refills.load(std::memory_order_relaxed); }

private:
    struct Share
    {
        qint64 tokens = 0;         // taken from the backend, not spent yet
        qint64 debt = 0;           // let through on credit, not paid by the backend yet
        qint64 hits = 0;           // requests passed since the last refill was sent
        qint64 remaining = -1;     // the backend's last word (-1: not asked yet)
        qint64 refusedUntilMs = 0; // the backend had nothing left: refuse until then
        qint64 resetAtMs = 0;      // when the client's full quota is back, as last known
        bool refilling = false;
    };

    void startRefill(const QString &key, Share &share, qint64 limit, qint64 windowMs);
    void refill(const QString &key, qint64 limit, qint64 windowMs, quint64 generation);
    bool makeRoom(qint64 nowMs); // under m_mutex

    std::shared_ptr<RateLimitBackend> m_backend;
    const Clock &m_clock;
    const qint64 m_maxKeys;
    QMutex m_mutex; // guards everything below
    QHash<QString, Share> m_shares;
    quint64 m_generation = 0; // moved on by reset()
    qint64 m_lastSweepMs = 0;
    std::atomic<qint64> m_downUntilMs{0};
    std::atomic<bool> m_down{false};
    std::atomic<qint64> m_refills{0};
    QThreadPool m_pool; // last: destroyed (and waited for) first
};

} // namespace Ferry
