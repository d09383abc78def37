#include "ratelimiter.h"

#include <QLoggingCategory>
#include <QMutexLocker>

#include <algorithm>
#include <charconv>

namespace Ferry {

Q_LOGGING_CATEGORY(lcRateLimit, "ferry.ratelimit")

namespace {

qint64 ceilDiv(qint64 numerator, qint64 denominator)
{
    return numerator <= 0 ? 0 : (numerator + denominator - 1) / denominator;
}

bool isValidPolicyName(const QString &name)
{
    // A structured-field string (RFC 8941): printable ASCII; quotes and backslashes would need
    // escaping, so they are simply refused.
    return !name.isEmpty() && name.size() <= 64 &&
           std::all_of(name.cbegin(), name.cend(), [](QChar c) {
               return c.unicode() >= 0x20 && c.unicode() < 0x7f && c != u'"' && c != u'\\';
           });
}

} // namespace

Result<void> RateLimitPolicy::validate() const
{
    if (limit <= 0 || limit > MaxLimit) {
        return makeError(ErrorCode::Config,
                         QStringLiteral("Invalid rate limit %1 requests per window.").arg(limit),
                         QStringLiteral("Expected a whole number from 1 to %1.").arg(MaxLimit));
    }
    if (window.count() <= 0 || window > MaxWindow) {
        return makeError(
            ErrorCode::Config,
            QStringLiteral("Invalid rate limit window of %1 seconds.").arg(window.count()),
            QStringLiteral("Expected a number of seconds from 1 to %1 (31 days).")
                .arg(MaxWindow.count()));
    }
    if (maxKeys <= 0) {
        return makeError(
            ErrorCode::Config, QStringLiteral("Invalid rate limit key capacity %1.").arg(maxKeys),
            QStringLiteral("Expected at least 1 tracked client (the default is 100000)."));
    }
    if (!isValidPolicyName(name)) {
        return makeError(ErrorCode::Config,
                         QStringLiteral("Invalid rate limit policy name '%1'.").arg(name),
                         QStringLiteral("Expected 1 to 64 printable ASCII characters without "
                                        "quotes or backslashes."));
    }
    return {};
}

Result<std::unique_ptr<RateLimiter>> RateLimiter::create(const RateLimitPolicy &policy,
                                                         const Clock &clock)
{
    if (auto valid = policy.validate(); !valid)
        return valid.error();
    return std::unique_ptr<RateLimiter>(new RateLimiter(policy, clock));
}

RateLimiter::RateLimiter(const RateLimitPolicy &policy, const Clock &clock) : m_clock(clock)
{
    usePolicy(policy);
}

RateLimiter::~RateLimiter() = default;

void RateLimiter::usePolicy(const RateLimitPolicy &policy)
{
    m_policy = policy;
    m_policyHeader = '"' + policy.name.toLatin1() + "\";q=" + QByteArray::number(policy.limit) +
                     ";w=" + QByteArray::number(qint64(policy.window.count()));
    m_headerPrefix = '"' + policy.name.toLatin1() + "\";r=";
    m_windowMs = qint64(policy.window.count()) * 1000;
    m_intervalMs = m_windowMs / policy.limit;
    m_intervalFrac = m_windowMs % policy.limit;
    m_entries.clear();
    m_order.clear();
    m_entries.reserve(size_t(std::min<qint64>(policy.maxKeys, 1024)));
}

RateLimitPolicy RateLimiter::policy() const
{
    const QMutexLocker locker(&m_mutex);
    return m_policy;
}

Result<void> RateLimiter::setPolicy(const RateLimitPolicy &policy)
{
    if (auto valid = policy.validate(); !valid)
        return valid;
    const QMutexLocker locker(&m_mutex);
    usePolicy(policy);
    if (m_shared)
        m_shared->reset();
    return {};
}

RateLimiter::Tat RateLimiter::plusInterval(Tat tat) const
{
    tat.ms += m_intervalMs;
    tat.frac += m_intervalFrac;
    if (tat.frac >= m_policy.limit) {
        tat.frac -= m_policy.limit;
        ++tat.ms;
    }
    return tat;
}

RateLimitDecision RateLimiter::check(const QString &key)
{
    return check(key, m_clock.nowMs());
}

void RateLimiter::setSharedBackend(std::shared_ptr<RateLimitBackend> backend)
{
    qint64 maxKeys = 0;
    {
        const QMutexLocker locker(&m_mutex);
        maxKeys = m_policy.maxKeys;
    }
    m_shared =
        backend ? std::make_unique<SharedRateLimit>(std::move(backend), m_clock, maxKeys) : nullptr;
}

bool RateLimiter::usingSharedBackend() const
{
    return m_shared && m_shared->available();
}

void RateLimiter::waitForSharedRefills()
{
    if (m_shared)
        m_shared->waitForRefills();
}

RateLimitDecision RateLimiter::check(const QString &key, qint64 nowMs)
{
    if (m_shared) {
        qint64 limit = 0;
        qint64 windowMs = 0;
        {
            const QMutexLocker locker(&m_mutex);
            limit = m_policy.limit;
            windowMs = m_windowMs;
        }
        if (auto shared = m_shared->check(key, nowMs, limit, windowMs))
            return *shared;
    }
    const QMutexLocker locker(&m_mutex);
    const auto entry = m_entries.find(key);
    const Tat now{nowMs, 0};
    const Tat tat = entry == m_entries.end() ? now : std::max(entry->second->tat, now);
    const Tat next = plusInterval(tat);
    const Tat allowAt{next.ms - m_windowMs, next.frac};

    RateLimitDecision decision;
    if (allowAt > now) {
        // Refused requests leave the state alone, so hammering does not push recovery back.
        decision.retryAfterSeconds =
            std::max<qint64>(1, ceilDiv(allowAt.ms - nowMs + (allowAt.frac > 0 ? 1 : 0), 1000));
        decision.resetSeconds = ceilDiv(tat.ms - nowMs + (tat.frac > 0 ? 1 : 0), 1000);
        return decision;
    }
    store(entry, key, next);
    decision.allowed = true;
    // Requests that still fit: (window - (next - now)) / (window / limit), in 1/limit ms units.
    // Passing means next - now <= window, so the product stays below window * limit.
    const qint64 aheadMs = next.ms - nowMs;
    decision.remaining = ((m_windowMs - aheadMs) * m_policy.limit - next.frac) / m_windowMs;
    decision.resetSeconds = ceilDiv(aheadMs + (next.frac > 0 ? 1 : 0), 1000);
    return decision;
}

void RateLimiter::store(Entries::iterator entry, const QString &key, Tat tat)
{
    if (entry != m_entries.end()) {
        // Re-key the existing node in place: no allocation on the hot path.
        auto node = m_order.extract(entry->second);
        node.value().tat = tat;
        entry->second = m_order.insert(std::move(node));
        return;
    }
    if (qint64(m_entries.size()) >= m_policy.maxKeys) {
        const auto victim = m_order.begin();
        m_entries.erase(*victim->key);
        m_order.erase(victim);
    }
    const auto inserted = m_entries.emplace(key, m_order.end()).first;
    inserted->second = m_order.insert(Slot{tat, &inserted->first});
}

qint64 RateLimiter::purgeReset(qint64 nowMs)
{
    const QMutexLocker locker(&m_mutex);
    qint64 purged = 0;
    const Tat now{nowMs, 0};
    while (!m_order.empty() && m_order.begin()->tat <= now) {
        m_entries.erase(*m_order.begin()->key);
        m_order.erase(m_order.begin());
        ++purged;
    }
    return purged;
}

qint64 RateLimiter::trackedKeys() const
{
    const QMutexLocker locker(&m_mutex);
    return qint64(m_entries.size());
}

QByteArray RateLimiter::policyHeaderValue() const
{
    const QMutexLocker locker(&m_mutex);
    return m_policyHeader; // shared, not copied
}

QByteArray RateLimiter::headerValue(const RateLimitDecision &decision) const
{
    // Once per answer: one allocation, no formatting library.
    char remaining[24];
    char reset[24];
    const char *remainingEnd = std::to_chars(remaining, remaining + 24, decision.remaining).ptr;
    const char *resetEnd = std::to_chars(reset, reset + 24, decision.resetSeconds).ptr;
    QByteArray value;
    value.reserve(32 + 52);
    {
        const QMutexLocker locker(&m_mutex);
        value.append(m_headerPrefix);
    }
    value.append(remaining, remainingEnd - remaining);
    value.append(";t=", 3);
    value.append(reset, resetEnd - reset);
    return value;
}

QByteArray RateLimiter::retryAfterHeaderValue(const RateLimitDecision &decision)
{
    return QByteArray::number(decision.retryAfterSeconds);
}

QJsonObject RateLimiter::tooManyRequestsBody()
{
    return QJsonObject{
        {QStringLiteral("success"), false},
        {QStringLiteral("error"), QStringLiteral("Too many requests")},
        {QStringLiteral("message"), QStringLiteral("Rate limit exceeded. Please try again later.")},
        {QStringLiteral("code"), QStringLiteral("rate_limited")},
    };
}

} // namespace Ferry
