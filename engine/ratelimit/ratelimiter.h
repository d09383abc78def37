#pragma once

#include "core/clock.h"
#include "core/error.h"
#include "ratelimit/ratelimitdecision.h"
#include "ratelimit/sharedratelimit.h"
#include "store/ratelimitbackend.h"

#include <QByteArray>
#include <QHashFunctions>
#include <QJsonObject>
#include <QMutex>
#include <QString>

#include <atomic>
#include <chrono>
#include <memory>
#include <set>
#include <unordered_map>

namespace Ferry {

// `limit` requests per `window` for each key (client address), at most `maxKeys` keys tracked.
struct RateLimitPolicy
{
    static constexpr qint64 MaxLimit = 1'000'000'000;
    static constexpr std::chrono::seconds MaxWindow{31LL * 24 * 3600};

    QString name = QStringLiteral("default"); // the policy's name in the RateLimit headers
    qint64 limit = 50;
    std::chrono::seconds window{15 * 60};
    qint64 maxKeys = 100'000;

    Result<void> validate() const;
};

// Per-key GCRA (generic cell rate algorithm, as in ATM networks and redis-cell): each key keeps one
// "theoretical arrival time" (TAT). A request passes when TAT - window + window/limit <= now,
// and then moves TAT on by window/limit. That is a sliding window: a burst of `limit` requests,
// then one more every window/limit, with no fixed window edge to double a burst at.
//
// Thread-safe. Memory is bounded by policy.maxKeys: a new key beyond it evicts the key with the
// smallest TAT, i.e. first one whose quota is already fully back (forgetting it changes nothing),
// else the one closest to being fully back (least state lost; an attacker flooding fresh addresses
// evicts its own fresh keys before the state of a client that is actually being limited).
//
// Cluster-wide: with a shared backend (setSharedBackend; PostgresRateLimit when --db is
// PostgreSQL) check() decides from this node's share of the client's quota, which a pool thread
// refills from the backend in batches (SharedRateLimit: no round trip per request, and never a
// wait on the network thread), so the limit holds across every node on the database up to a
// stated overshoot. When the backend cannot decide (database unreachable), requests are decided
// by this in-memory state instead, with a logged warning, and the backend is tried again after
// SharedRetryMs: the limit then holds per node (at most nodes x limit in total) rather than
// failing open for everyone or refusing every request.
class RateLimiter final
{
public:
    static Result<std::unique_ptr<RateLimiter>> create(const RateLimitPolicy &policy,
                                                       const Clock &clock);
    ~RateLimiter();
    Q_DISABLE_COPY_MOVE(RateLimiter)

    RateLimitDecision check(const QString &key);
    RateLimitDecision check(const QString &key, qint64 nowMs);

    // Forgets the keys whose quota is fully back by nowMs; returns how many. Optional housekeeping:
    // correctness and the memory bound never depend on it.
    qint64 purgeReset(qint64 nowMs);

    qint64 trackedKeys() const;

    // --- Cluster-wide limit: a shared backend asked first (null: in memory only) ---
    void setSharedBackend(std::shared_ptr<RateLimitBackend> backend);
    // True while the shared backend is set and answered its last request.
    bool usingSharedBackend() const;
    static constexpr qint64 SharedRetryMs = SharedRateLimit::RetryMs;
    // Tests: waits until no refill from the shared backend is in flight.
    void waitForSharedRefills();
    // --- end cluster-wide limit ---
    RateLimitPolicy policy() const;
    // Replaces the policy at once (the console's Settings page). Every client starts over with a
    // full quota under the new policy: a TAT computed for the old interval means nothing under
    // the new one. Refuses an invalid policy and keeps the current one.
    Result<void> setPolicy(const RateLimitPolicy &policy);

    // IETF draft-ietf-httpapi-ratelimit-headers: `"default";q=50;w=900`.
    QByteArray policyHeaderValue() const;
    // `"default";r=<remaining>;t=<seconds>`.
    QByteArray headerValue(const RateLimitDecision &decision) const;
    static QByteArray retryAfterHeaderValue(const RateLimitDecision &decision);
    // The 429 body: {"success": false, "error": "Too many requests", "message": "Rate limit
    // exceeded. Please try again later.", "code": "rate_limited"}.
    static QJsonObject tooManyRequestsBody();

    static constexpr char PolicyHeaderName[] = "RateLimit-Policy";
    static constexpr char HeaderName[] = "RateLimit";
    static constexpr char RetryAfterHeaderName[] = "Retry-After";

private:
    // A time in ms plus frac/limit ms: window/limit rarely divides evenly, and rounding it would
    // let limit+1 through or only limit-1.
    struct Tat
    {
        qint64 ms = 0;
        qint64 frac = 0; // in [0, limit)

        friend auto operator<=>(const Tat &, const Tat &) = default;
    };
    struct Slot
    {
        Tat tat;
        const QString *key = nullptr; // the map's own key, stable while the entry lives
        bool operator<(const Slot &other) const { return tat < other.tat; }
    };
    // A multiset inserts after equal elements, so keys with equal TATs leave oldest first.
    using Order = std::multiset<Slot>;
    // Seeded per process: clients choose their addresses, so they must not choose hash collisions.
    struct KeyHash
    {
        size_t operator()(const QString &key) const { return qHash(key, QHashSeed::globalSeed()); }
    };
    using Entries = std::unordered_map<QString, Order::iterator, KeyHash>;

    RateLimiter(const RateLimitPolicy &policy, const Clock &clock);
    Tat plusInterval(Tat tat) const;
    void store(Entries::iterator entry, const QString &key, Tat tat);

    void usePolicy(const RateLimitPolicy &policy); // under m_mutex (or in the constructor)

    const Clock &m_clock;
    mutable QMutex m_mutex; // guards everything below
    RateLimitPolicy m_policy;
    QByteArray m_policyHeader; // the RateLimit-Policy value
    QByteArray m_headerPrefix; // `"<name>";r=`
    qint64 m_windowMs = 0;
    qint64 m_intervalMs = 0;   // window/limit, whole ms
    qint64 m_intervalFrac = 0; // and the remainder, in 1/limit ms
    Entries m_entries;
    Order m_order;

    // Cluster-wide limit: set before requests arrive and read without the mutex.
    std::unique_ptr<SharedRateLimit> m_shared;
};

} // namespace Ferry
