// SqlStore: monthly upload quotas. Usage = stored uploads (quota_usage) + reservations of
// uploads in flight (quota_reservations). Every check-and-count is one write transaction; on
// PostgreSQL it first locks the user's row, so nodes checking the same user's quota take turns
// (SQLite gets this from its single writer).
#include "sqlstore.h"

#include "store/sqlhelpers.h"

#include <QSqlQuery>

namespace Ferry {

namespace {

std::optional<qint64> optionalValue(const QVariant &value)
{
    return value.isNull() ? std::nullopt : std::optional<qint64>(value.toLongLong());
}

QVariant toVariant(std::optional<qint64> value)
{
    return value ? QVariant(*value) : QVariant(QMetaType::fromType<qint64>());
}

// Used in the period, reservations included; `except` leaves one reservation out. Reservations
// count whatever period they were made in: they are uploads in flight now, and settle into the
// period they finish in.
Result<QuotaUsage>
readUsage(QSqlDatabase db, qint64 userId, const QString &period, qint64 except = 0)
{
    QSqlQuery q(db);
    // Plain '?' placeholders: Qt counts them itself, so numbered ones cannot repeat.
    q.prepare(QStringLiteral(
        "SELECT COALESCE((SELECT uploads FROM quota_usage WHERE user_id = ? AND period = ?), 0),"
        " COALESCE((SELECT bytes FROM quota_usage WHERE user_id = ? AND period = ?), 0),"
        " (SELECT COUNT(*) FROM quota_reservations WHERE user_id = ? AND id <> ?),"
        " (SELECT COALESCE(SUM(bytes), 0) FROM quota_reservations WHERE user_id = ? AND id <> ?)"));
    for (int i = 0; i < 2; ++i) {
        q.addBindValue(userId);
        q.addBindValue(period);
    }
    for (int i = 0; i < 2; ++i) {
        q.addBindValue(userId);
        q.addBindValue(except);
    }
    if (!q.exec() || !q.next())
        return sqlError(q, QStringLiteral("reading quota usage"));
    QuotaUsage usage;
    usage.reservedUploads = q.value(2).toLongLong();
    usage.uploads = q.value(0).toLongLong() + usage.reservedUploads;
    usage.bytes = q.value(1).toLongLong() + q.value(3).toLongLong();
    return usage;
}

// Nodes checking the same user's quota take turns on the user's row (PostgreSQL). SQLite has
// one writer at a time, already in its turn here: no statement to run.
Result<void> lockUser(const SqlDialect &sql, QSqlDatabase db, qint64 userId)
{
    if (sql.forUpdate().isEmpty())
        return {};
    QSqlQuery q(db);
    q.prepare(QStringLiteral("SELECT 1 FROM users WHERE id = ?") + sql.forUpdate());
    q.addBindValue(userId);
    if (!q.exec())
        return sqlError(q, QStringLiteral("locking a user's quota"));
    return {};
}

} // namespace

Result<QuotaLimitOverrides> SqlStore::quotaLimits(qint64 userId)
{
    auto db = this->db();
    if (!db)
        return db.error();
    QSqlQuery q(*db);
    q.prepare(QStringLiteral("SELECT uploads_limit, bytes_limit FROM users WHERE id = ?"));
    q.addBindValue(userId);
    if (!q.exec())
        return sqlError(q, QStringLiteral("reading quota limits"));
    if (!q.next())
        return makeError(ErrorCode::NotFound, QStringLiteral("No such user."));
    return QuotaLimitOverrides{optionalValue(q.value(0)), optionalValue(q.value(1))};
}

Result<void> SqlStore::setQuotaLimits(qint64 userId, const QuotaLimitOverrides &limits)
{
    auto changed = writeStatement(
        QStringLiteral("UPDATE users SET uploads_limit = ?, bytes_limit = ? WHERE id = ?"),
        {toVariant(limits.uploads), toVariant(limits.bytes), userId},
        QStringLiteral("changing quota limits"));
    if (!changed)
        return changed.error();
    if (*changed == 0)
        return makeError(ErrorCode::NotFound, QStringLiteral("No such user."));
    return {};
}

Result<QuotaUsage> SqlStore::quotaUsage(qint64 userId, const QString &period)
{
    auto db = this->db();
    if (!db)
        return db.error();
    return readUsage(*db, userId, period);
}

Result<QuotaReserveResult> SqlStore::reserveQuota(qint64 userId,
                                                  const QString &period,
                                                  qint64 bytes,
                                                  qint64 uploadsLimit,
                                                  qint64 bytesLimit,
                                                  qint64 now,
                                                  const QString &owner)
{
    WriteTransaction write(*this);
    if (auto begun = write.begin(); !begun)
        return begun.error();
    if (auto locked = lockUser(m_sql, write.db(), userId); !locked)
        return locked.error();
    auto usage = readUsage(write.db(), userId, period);
    if (!usage)
        return usage.error();
    if (uploadsLimit >= 0 && usage->uploads + 1 > uploadsLimit)
        return QuotaReserveResult{QuotaOutcome::UploadsExceeded, 0};
    if (bytesLimit >= 0 && usage->bytes + bytes > bytesLimit)
        return QuotaReserveResult{QuotaOutcome::BytesExceeded, 0};
    QSqlQuery q(write.db());
    q.prepare(
        QStringLiteral("INSERT INTO quota_reservations (user_id, period, bytes, created_at, owner) "
                       "VALUES (?, ?, ?, ?, COALESCE(?, '')) RETURNING id"));
    q.addBindValue(userId);
    q.addBindValue(period);
    q.addBindValue(bytes);
    q.addBindValue(now);
    q.addBindValue(owner);
    if (!q.exec() || !q.next())
        return sqlError(q, QStringLiteral("reserving quota"));
    const qint64 id = q.value(0).toLongLong();
    q.finish();
    if (auto committed = write.commit(); !committed)
        return committed.error();
    return QuotaReserveResult{QuotaOutcome::Granted, id};
}

Result<QuotaOutcome> SqlStore::settleQuota(qint64 reservationId,
                                           qint64 bytes,
                                           qint64 bytesLimit,
                                           const QString &settlePeriod)
{
    WriteTransaction write(*this);
    if (auto begun = write.begin(); !begun)
        return begun.error();
    QSqlQuery q(write.db());
    q.prepare(QStringLiteral("SELECT user_id, period, bytes FROM quota_reservations WHERE id = ?") +
              m_sql.forUpdate());
    q.addBindValue(reservationId);
    if (!q.exec())
        return sqlError(q, QStringLiteral("reading a quota reservation"));
    if (!q.next()) {
        return makeError(ErrorCode::NotFound,
                         QStringLiteral("The quota reservation %1 is gone.").arg(reservationId),
                         QStringLiteral("The engine restarted while the upload was received; "
                                        "upload again."));
    }
    const qint64 userId = q.value(0).toLongLong();
    // Charged to, and checked against, the period it settles in.
    const QString period = settlePeriod.isEmpty() ? q.value(1).toString() : settlePeriod;
    const qint64 reserved = q.value(2).toLongLong();
    q.finish();
    if (auto locked = lockUser(m_sql, write.db(), userId); !locked)
        return locked.error();
    QuotaOutcome outcome = QuotaOutcome::Granted;
    if (bytes > reserved && bytesLimit >= 0) {
        auto others = readUsage(write.db(), userId, period, reservationId);
        if (!others)
            return others.error();
        if (others->bytes + bytes > bytesLimit)
            outcome = QuotaOutcome::BytesExceeded;
    }
    QSqlQuery remove(write.db());
    remove.prepare(QStringLiteral("DELETE FROM quota_reservations WHERE id = ?"));
    remove.addBindValue(reservationId);
    if (!remove.exec())
        return sqlError(remove, QStringLiteral("settling quota"));
    if (outcome == QuotaOutcome::Granted) {
        QSqlQuery add(write.db());
        add.prepare(QStringLiteral(
            "INSERT INTO quota_usage (user_id, period, uploads, bytes) VALUES (?, ?, 1, ?) "
            "ON CONFLICT (user_id, period) DO UPDATE SET uploads = quota_usage.uploads + 1, "
            "bytes = quota_usage.bytes + excluded.bytes"));
        add.addBindValue(userId);
        add.addBindValue(period);
        add.addBindValue(bytes);
        if (!add.exec())
            return sqlError(add, QStringLiteral("settling quota"));
    }
    if (auto committed = write.commit(); !committed)
        return committed.error();
    return outcome;
}

Result<void> SqlStore::releaseQuota(qint64 reservationId)
{
    auto released = writeStatement(QStringLiteral("DELETE FROM quota_reservations WHERE id = ?"),
                                   {reservationId}, QStringLiteral("releasing quota"));
    return released ? Result<void>() : Result<void>(released.error());
}

Result<void> SqlStore::refundQuota(qint64 userId, const QString &period, qint64 bytes)
{
    const QString greatest = m_sql.greatest();
    auto refunded =
        writeStatement(QStringLiteral("UPDATE quota_usage SET uploads = %1(uploads - 1, 0), "
                                      "bytes = %1(bytes - ?, 0) WHERE user_id = ? AND period = ?")
                           .arg(greatest),
                       {bytes, userId, period}, QStringLiteral("refunding quota"));
    return refunded ? Result<void>() : Result<void>(refunded.error());
}

Result<QuotaOutcome>
SqlStore::chargeQuotaBytes(qint64 userId, const QString &period, qint64 bytes, qint64 bytesLimit)
{
    WriteTransaction write(*this);
    if (auto begun = write.begin(); !begun)
        return begun.error();
    if (auto locked = lockUser(m_sql, write.db(), userId); !locked)
        return locked.error();
    auto usage = readUsage(write.db(), userId, period);
    if (!usage)
        return usage.error();
    if (bytes > 0 && bytesLimit >= 0 && usage->bytes + bytes > bytesLimit)
        return QuotaOutcome::BytesExceeded;
    QSqlQuery add(write.db());
    add.prepare(QStringLiteral("INSERT INTO quota_usage (user_id, period, uploads, bytes) "
                               "VALUES (?, ?, 0, %1(CAST(? AS BIGINT), 0)) "
                               "ON CONFLICT (user_id, period) "
                               "DO UPDATE SET bytes = %1(quota_usage.bytes + CAST(? AS BIGINT), 0)")
                    .arg(m_sql.greatest()));
    add.addBindValue(userId);
    add.addBindValue(period);
    add.addBindValue(bytes);
    add.addBindValue(bytes);
    if (!add.exec())
        return sqlError(add, QStringLiteral("charging decompressed bytes"));
    if (auto committed = write.commit(); !committed)
        return committed.error();
    return QuotaOutcome::Granted;
}

Result<int> SqlStore::releaseOrphanedQuotaReservations(qint64 createdBefore, bool everyNode)
{
    return writeStatement(
        QStringLiteral(
            "DELETE FROM quota_reservations WHERE created_at < ? AND (owner = ''"
            " OR (owner LIKE 'node:%' AND (CAST(? AS INTEGER) = 1"
            "     OR NOT EXISTS (SELECT 1 FROM nodes n WHERE 'node:' || n.id = owner)))"
            " OR (owner LIKE 'tus:%'"
            "     AND NOT EXISTS (SELECT 1 FROM tus_uploads t WHERE 'tus:' || t.id = owner)))"),
        {createdBefore, everyNode ? 1 : 0},
        QStringLiteral("releasing orphaned quota reservations"));
}

Result<int> SqlStore::releaseAllQuotaReservations()
{
    return writeStatement(QStringLiteral("DELETE FROM quota_reservations"), {},
                          QStringLiteral("releasing quota reservations"));
}

Result<void> SqlStore::resetQuotaUsage(qint64 userId, const QString &period)
{
    auto reset =
        writeStatement(QStringLiteral("DELETE FROM quota_usage WHERE user_id = ? AND period = ?"),
                       {userId, period}, QStringLiteral("resetting quota usage"));
    return reset ? Result<void>() : Result<void>(reset.error());
}

} // namespace Ferry
