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
    // decided locally (RateLimiter).
    if (!query.exec(QStringLiteral("SET application_name = 'ferry-ratelimit'")) ||
        !query.exec(QStringLiteral("SET statement_timeout = %1")
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

// In ticks of 1/limit ms (L = limit, W = window in ms): a request adds W ticks to its key's TAT;
// it passes when TAT + W <= (now + W) * L, i.e. when the TAT it leaves is at most one window
// ahead of now. EXCLUDED.tat is the TAT a fresh key gets, now*L + W, so the condition reads
// r.tat <= EXCLUDED.tat + (W*L - 2W). `cur` reads the TAT before the statement, for the
// Retry-After of a refused request (the upsert returns no row then).
const QString s_checkSql =
    QStringLiteral("WITH cur AS (SELECT tat FROM rate_limits WHERE key = ?), "
                   "up AS (INSERT INTO rate_limits AS r (key, tat, reset_at) "
                   "VALUES (?, CAST(? AS NUMERIC) * ? + ?, ?) "
                   "ON CONFLICT (key) DO UPDATE "
                   "SET tat = GREATEST(r.tat + ?, EXCLUDED.tat), "
                   "reset_at = CAST(div(GREATEST(r.tat + ?, EXCLUDED.tat) + ? - 1, ?) AS BIGINT) "
                   "WHERE r.tat <= EXCLUDED.tat + ? "
                   "RETURNING tat), "
                   "nowt AS (SELECT CAST(? AS NUMERIC) * ? AS t) "
                   "SELECT (SELECT CAST(up.tat - nowt.t AS BIGINT) FROM up), "
                   "(SELECT CAST(GREATEST(cur.tat - nowt.t, 0) AS BIGINT) FROM cur) FROM nowt");

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

Result<RateLimitDecision>
PostgresRateLimit::check(const QString &key, qint64 nowMs, qint64 limit, qint64 windowMs)
{
    auto statement = m_pool.statement(s_checkSql);
    if (!statement) {
        m_pool.releaseThisThread(); // a broken connection: the next try opens a new one
        return statement.error();
    }
    QSqlQuery &q = **statement;
    const QString stored = storedKey(key, limit, windowMs);
    const qint64 windowTicks = windowMs * limit; // at most 31 days x 1e9: fits
    int i = 0;
    q.bindValue(i++, stored);
    q.bindValue(i++, stored);
    q.bindValue(i++, nowMs);
    q.bindValue(i++, limit);
    q.bindValue(i++, windowMs);
    q.bindValue(i++, nowMs + ceilDiv(windowMs, limit)); // a fresh key's reset
    q.bindValue(i++, windowMs);
    q.bindValue(i++, windowMs);
    q.bindValue(i++, limit);
    q.bindValue(i++, limit);
    q.bindValue(i++, windowTicks - 2 * windowMs);
    q.bindValue(i++, nowMs);
    q.bindValue(i++, limit);
    if (!q.exec() || !q.next()) {
        auto error = sqlError(q, QStringLiteral("checking the shared rate limit"));
        q.finish();
        m_pool.releaseThisThread();
        return error;
    }
    const QVariant passed = q.value(0);
    const QVariant before = q.value(1);
    q.finish();

    RateLimitDecision decision;
    if (!passed.isNull()) {
        // ahead: the new TAT - now, in ticks; in (0, W*L] for a request that passed.
        const qint64 ahead = passed.toLongLong();
        decision.allowed = true;
        decision.remaining = std::max<qint64>(0, (windowTicks - ahead) / windowMs);
        decision.resetSeconds = ceilDiv(ceilDiv(ahead, limit), 1000);
        return decision;
    }
    // Refused. The TAT read before the statement can only be behind the one that refused
    // (TATs only grow), so Retry-After is never more than needed; at least 1 s.
    const qint64 ahead = before.isNull() ? windowMs : before.toLongLong();
    decision.retryAfterSeconds =
        std::max<qint64>(1, ceilDiv(ceilDiv(ahead + windowMs - windowTicks, limit), 1000));
    decision.resetSeconds = ceilDiv(ceilDiv(ahead, limit), 1000);
    return decision;
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
