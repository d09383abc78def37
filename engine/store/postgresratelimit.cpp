#include "postgresratelimit.h"

#include "store/postgresnative.h"
#include "store/sqlhelpers.h"

#include <QSqlQuery>

#include <algorithm>
#include <optional>

namespace Ferry {

namespace {

qint64 ceilDiv(qint64 numerator, qint64 denominator)
{
    return numerator <= 0 ? 0 : (numerator + denominator - 1) / denominator;
}

Result<void> initializeConnection(QSqlDatabase &db)
{
    QSqlQuery query(db);
    // A request must not wait long on a row lock or a slow server: past the timeout it is
    // decided locally (RateLimiter). The session keeps the node's name (sessionName).
    if (!query.exec(QStringLiteral("SET statement_timeout = %1")
                        .arg(PostgresRateLimit::StatementTimeoutMs))) {
        return sqlError(query, QStringLiteral("setting up the rate limit's connection"));
    }
    return {};
}

DatabaseConfig limiterConfig(DatabaseConfig config, int maxConnections)
{
    config.maxConnections = std::max(1, maxConnections);
    config.busyTimeoutMs = 1'000; // waiting for a free connection: then decide locally
    config.connectTimeoutSeconds = PostgresRateLimit::ConnectTimeoutSeconds;
    return config;
}

// In ticks of 1/limit ms (L = limit, W = window in ms): a request costs W ticks; a key's TAT may
// run at most one window (W*L ticks) ahead of now (T0 = now*L). Taking n requests at once: from
// base = max(TAT, T0), g = min(n, floor((T0 + W*L - base) / W)) pass and the TAT moves to
// base + g*W. A fresh key's row is inserted with g0 = min(n, L) taken; on conflict EXCLUDED
// carries that row, so T0 = EXCLUDED.tat - EXCLUDED.granted*W. `granted` (migration 0011) is
// how the statement returns g: RETURNING sees only the new row. W and L are the validated policy's
// integers, written into the text (a statement per policy, prepared once per connection).
QString takeSql(qint64 limit, qint64 windowMs)
{
    // %1 = W, %2 = L, %3 = W*L.
    const QString t0 = QStringLiteral("(EXCLUDED.tat - EXCLUDED.granted * %1)");
    const QString base = QStringLiteral("GREATEST(r.tat, %1)").arg(t0);
    const QString g = QStringLiteral("LEAST(EXCLUDED.granted, GREATEST(0, div(%1 + %3 - %2, %4)))")
                          .arg(t0, base, QStringLiteral("%3"), QStringLiteral("%1"));
    const QString tat = QStringLiteral("(%1 + %2 * %3)").arg(base, g, QStringLiteral("%1"));
    return QStringLiteral("INSERT INTO rate_limits AS r (key, tat, reset_at, granted) "
                          "VALUES (?, CAST(? AS NUMERIC) * %2 + CAST(? AS NUMERIC) * %1, ?, ?) "
                          "ON CONFLICT (key) DO UPDATE SET granted = ")
        .append(g)
        .append(QStringLiteral(", tat = "))
        .append(tat)
        .append(QStringLiteral(", reset_at = CAST(div("))
        .append(tat)
        .append(QStringLiteral(" + %2 - 1, %2) AS BIGINT) "
                               "RETURNING granted, CAST(tat - CAST(? AS NUMERIC) * %2 "
                               "AS BIGINT)"))
        .replace(QStringLiteral("%1"), QString::number(windowMs))
        .replace(QStringLiteral("%2"), QString::number(limit))
        .replace(QStringLiteral("%3"), QString::number(windowMs * limit));
}

} // namespace

PostgresRateLimit::PostgresRateLimit(DatabaseConfig config, int maxConnections)
    : m_pool(
          limiterConfig(std::move(config), maxConnections),
          [](QSqlDatabase &db) { return initializeConnection(db); },
          [](QSqlDatabase &db) { return postgresConnectionAlive(db); })
{}

PostgresRateLimit::~PostgresRateLimit() = default;

QString PostgresRateLimit::storedKey(const QString &key, qint64 limit, qint64 windowMs)
{
    return QString::number(limit) + u'/' + QString::number(windowMs / 1000) + u' ' + key;
}

Result<RateLimitGrant> PostgresRateLimit::take(
    const QString &key, qint64 nowMs, qint64 limit, qint64 windowMs, qint64 wanted)
{
    wanted = std::clamp<qint64>(wanted, 1, limit);
    auto statement = m_pool.statement(takeSql(limit, windowMs));
    if (!statement) {
        m_pool.releaseThisThread(); // a broken connection: the next try opens a new one
        return statement.error();
    }
    m_roundTrips.fetch_add(1, std::memory_order_relaxed);
    QSqlQuery &q = **statement;
    const qint64 freshReset = nowMs + ceilDiv(wanted * windowMs, limit);
    int i = 0;
    q.bindValue(i++, storedKey(key, limit, windowMs));
    q.bindValue(i++, nowMs);
    q.bindValue(i++, wanted);
    q.bindValue(i++, freshReset);
    q.bindValue(i++, wanted);
    q.bindValue(i++, nowMs);
    if (!q.exec() || !q.next()) {
        auto error = sqlError(q, QStringLiteral("taking from the shared rate limit"));
        q.finish();
        m_pool.releaseThisThread();
        return error;
    }
    RateLimitGrant grant;
    grant.granted = q.value(0).toLongLong();
    // ahead: the TAT - now, in ticks; at most W*L (one window).
    const qint64 ahead = q.value(1).toLongLong();
    q.finish();
    const qint64 windowTicks = windowMs * limit; // at most 31 days x 1e9: fits
    grant.remaining = std::max<qint64>(0, (windowTicks - ahead) / windowMs);
    grant.resetMs = ceilDiv(ahead, limit);
    // The next request fits once now*L has moved up to TAT + W - W*L.
    grant.retryAfterMs = ceilDiv(ahead + windowMs - windowTicks, limit);
    return grant;
}

Result<qint64> PostgresRateLimit::purgeReset(qint64 nowMs)
{
    auto db = m_pool.connection();
    if (!db)
        return db.error();
    std::optional<Error> error;
    qint64 purged = 0;
    {
        QSqlQuery q(*db);
        q.prepare(QStringLiteral("DELETE FROM rate_limits WHERE reset_at <= ?"));
        q.addBindValue(nowMs);
        if (q.exec())
            purged = q.numRowsAffected();
        else
            error = sqlError(q, QStringLiteral("forgetting rate limit keys whose quota is back"));
    }
    if (error) {
        m_pool.releaseThisThread();
        return *error;
    }
    return purged;
}

} // namespace Ferry
