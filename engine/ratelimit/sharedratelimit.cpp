#include "ratelimit/sharedratelimit.h"

#include <QLoggingCategory>
#include <QMutexLocker>

#include <algorithm>

namespace Ferry {

Q_DECLARE_LOGGING_CATEGORY(lcRateLimit)

namespace {

qint64 ceilDiv(qint64 numerator, qint64 denominator)
{
    return numerator <= 0 ? 0 : (numerator + denominator - 1) / denominator;
}

} // namespace

SharedShareSizes SharedShareSizes::forLimit(qint64 limit)
{
    const qint64 batch = std::clamp<qint64>(limit / 25, 1, 1000);
    return {batch, batch, std::max(batch, limit / 25)};
}

qint64 SharedShareSizes::aheadFor(qint64 hits) const
{
    if (hits <= 1)
        return 0;
    return std::clamp(hits > maxAhead / 2 ? maxAhead : 2 * hits, batch, maxAhead);
}

SharedRateLimit::SharedRateLimit(std::shared_ptr<RateLimitBackend> backend,
                                 const Clock &clock,
                                 qint64 maxKeys)
    : m_backend(std::move(backend)), m_clock(clock), m_maxKeys(std::max<qint64>(1, maxKeys))
{
    m_pool.setObjectName(QStringLiteral("ferry-ratelimit"));
    // Two threads, kept: each holds one database connection of the backend's pool.
    m_pool.setMaxThreadCount(2);
    m_pool.setExpiryTimeout(-1);
    // Connects before the first client: a refill that must first open its connection takes
    // long enough for a busy new client to run out of credit (429, Retry-After 1) meanwhile. A
    // purge of nothing (reset_at <= 0) is the cheapest statement that opens it.
    m_pool.start([backend = m_backend] { (void)backend->purgeReset(0); });
}

SharedRateLimit::~SharedRateLimit()
{
    m_pool.waitForDone();
}

void SharedRateLimit::waitForRefills()
{
    m_pool.waitForDone();
}

void SharedRateLimit::reset()
{
    const QMutexLocker locker(&m_mutex);
    m_shares.clear();
    ++m_generation;
}

// Forgets the clients with nothing in flight and nothing owed (their held tokens are only given
// up: a later request takes new ones). At most once a second, so a table full of clients with
// refills in flight costs no sweep per request.
bool SharedRateLimit::makeRoom(qint64 nowMs)
{
    if (nowMs - m_lastSweepMs < 1'000 && nowMs >= m_lastSweepMs)
        return false;
    m_lastSweepMs = nowMs;
    m_shares.removeIf([](const auto &entry) {
        const Share &share = entry.value();
        return !share.refilling && share.debt == 0;
    });
    return qint64(m_shares.size()) < m_maxKeys;
}

std::optional<RateLimitDecision>
SharedRateLimit::check(const QString &key, qint64 nowMs, qint64 limit, qint64 windowMs)
{
    if (nowMs < m_downUntilMs.load(std::memory_order_relaxed))
        return std::nullopt;
    const SharedShareSizes sizes = SharedShareSizes::forLimit(limit);
    const QMutexLocker locker(&m_mutex);
    auto it = m_shares.find(key);
    if (it == m_shares.end()) {
        if (qint64(m_shares.size()) >= m_maxKeys && !makeRoom(nowMs))
            return std::nullopt;
        it = m_shares.insert(key, Share{});
    }
    Share &share = *it;
    RateLimitDecision decision;
    auto refuse = [&](qint64 retryAfterMs) {
        decision.retryAfterSeconds = std::max<qint64>(1, ceilDiv(retryAfterMs, 1000));
        decision.resetSeconds = ceilDiv(share.resetAtMs - nowMs, 1000);
        return decision;
    };
    if (share.tokens > 0) {
        --share.tokens;
    } else if (nowMs < share.refusedUntilMs) {
        return refuse(share.refusedUntilMs - nowMs);
    } else if (share.debt < sizes.credit) {
        ++share.debt;
    } else {
        // Owed as much as it may be: the refill on its way (or sent now) settles it.
        if (!share.refilling)
            startRefill(key, share, limit, windowMs);
        return refuse(1'000);
    }
    ++share.hits;
    decision.allowed = true;
    const qint64 known = share.remaining < 0 ? limit : share.remaining;
    decision.remaining = std::max<qint64>(0, known + share.tokens - share.debt);
    if (share.remaining < 0)
        share.resetAtMs = nowMs + ceilDiv(share.debt * windowMs, limit);
    decision.resetSeconds = ceilDiv(share.resetAtMs - nowMs, 1000);
    if (!share.refilling && (share.debt > 0 || share.tokens == 0))
        startRefill(key, share, limit, windowMs);
    return decision;
}

void SharedRateLimit::startRefill(const QString &key, Share &share, qint64 limit, qint64 windowMs)
{
    share.refilling = true;
    m_pool.start([this, key, limit, windowMs, generation = m_generation] {
        refill(key, limit, windowMs, generation);
    });
}

// On the pool: one round trip for what the client owes and, for a busy client, a batch ahead.
void SharedRateLimit::refill(const QString &key, qint64 limit, qint64 windowMs, quint64 generation)
{
    const SharedShareSizes sizes = SharedShareSizes::forLimit(limit);
    qint64 wanted = 0;
    {
        const QMutexLocker locker(&m_mutex);
        auto it = m_shares.find(key);
        if (generation != m_generation || it == m_shares.end())
            return;
        wanted = it->debt + sizes.aheadFor(it->hits) - it->tokens;
        it->hits = 0;
        if (wanted <= 0) {
            it->refilling = false;
            return;
        }
    }
    const qint64 now = m_clock.nowMs();
    m_refills.fetch_add(1, std::memory_order_relaxed);
    auto grant = m_backend->take(key, now, limit, windowMs, wanted);

    const QMutexLocker locker(&m_mutex);
    auto it = m_shares.find(key);
    const bool current = generation == m_generation && it != m_shares.end();
    if (!grant) {
        // Decided locally until RetryMs has passed: an outage costs one failed attempt per
        // interval, not one per request; what was let through on credit is forgiven.
        m_downUntilMs.store(now + RetryMs, std::memory_order_relaxed);
        if (!m_down.exchange(true)) {
            qCWarning(lcRateLimit).noquote()
                << "the shared rate limit is unavailable, limiting per node until it is back:"
                << grant.error().toString();
        }
        m_shares.clear();
        return;
    }
    if (m_down.exchange(false))
        qCInfo(lcRateLimit) << "the shared rate limit is back: limiting across nodes";
    if (!current)
        return;
    Share &share = *it;
    const qint64 paid = std::min(grant->granted, share.debt);
    share.debt -= paid;
    share.tokens += grant->granted - paid;
    share.remaining = grant->remaining;
    share.resetAtMs = now + grant->resetMs;
    // Nothing left: no credit and no round trip until the backend's next token is due.
    if (grant->remaining == 0)
        share.refusedUntilMs = now + std::max<qint64>(1, grant->retryAfterMs);
    share.refilling = false;
    // More owed since this refill was sent, and the backend may still have some: go again.
    if (share.debt > 0 && share.refusedUntilMs <= now)
        startRefill(key, share, limit, windowMs);
}

} // namespace Ferry
