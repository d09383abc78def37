#include "quota/quotaledger.h"

#include "core/nodeid.h"
#include "quota/tierpolicy.h"

#include <QDateTime>
#include <QLoggingCategory>

namespace Ferry {

Q_LOGGING_CATEGORY(lcQuota, "ferry.quota")

QuotaLedger::QuotaLedger(Store &store, const Clock &clock, QString nodeId)
    : m_store(store), m_clock(clock), m_nodeId(nodeId.isEmpty() ? makeNodeId() : std::move(nodeId))
{}

QString QuotaLedger::periodOf(qint64 ms)
{
    return QDateTime::fromMSecsSinceEpoch(ms, Qt::UTC).toString(u"yyyy-MM");
}

qint64 QuotaLedger::nextPeriodStartMs(qint64 ms)
{
    const QDate date = QDateTime::fromMSecsSinceEpoch(ms, Qt::UTC).date();
    const QDate next = QDate(date.year(), date.month(), 1).addMonths(1);
    return QDateTime(next, QTime(0, 0), Qt::UTC).toMSecsSinceEpoch();
}

Result<User> QuotaLedger::userById(qint64 userId)
{
    auto user = m_store.userById(userId);
    if (!user)
        return user.error();
    if (!user->has_value())
        return makeError(ErrorCode::NotFound, QStringLiteral("No user %1.").arg(userId));
    return **user;
}

QuotaDecision QuotaLedger::refusal(QuotaOutcome outcome, const QuotaStatus &status, qint64 bytes)
{
    QuotaDecision decision;
    decision.granted = false;
    decision.resetsAtMs = status.resetsAtMs;
    const bool uploads = outcome == QuotaOutcome::UploadsExceeded;
    decision.limitName = uploads ? QStringLiteral("uploads") : QStringLiteral("bytes");
    decision.limit = uploads ? status.uploadsLimit : status.bytesLimit;
    decision.used = uploads ? status.uploadsUsed : status.bytesUsed;
    decision.requested = uploads ? 1 : qMax<qint64>(bytes, 0);
    decision.message = uploads ? QStringLiteral("Monthly upload limit exceeded")
                               : QStringLiteral("Monthly upload byte limit exceeded");
    return decision;
}

Result<QuotaDecision> QuotaLedger::reserve(qint64 userId, qint64 bytes)
{
    return reserveAs(userId, bytes, QStringLiteral("node:") + m_nodeId);
}

Result<QuotaDecision>
QuotaLedger::reserveForUpload(qint64 userId, qint64 bytes, const QString &tusUploadId)
{
    return reserveAs(userId, bytes, QStringLiteral("tus:") + tusUploadId);
}

Result<QuotaDecision> QuotaLedger::reserveAs(qint64 userId, qint64 bytes, const QString &owner)
{
    auto user = userById(userId);
    if (!user)
        return user.error();
    auto status = this->status(*user);
    if (!status)
        return status.error();
    const qint64 now = m_clock.nowMs();
    auto reserved = m_store.reserveQuota(userId, status->period, qMax<qint64>(bytes, 0),
                                         status->uploadsLimit, status->bytesLimit, now, owner);
    if (!reserved)
        return reserved.error();
    if (reserved->outcome != QuotaOutcome::Granted)
        return refusal(reserved->outcome, *status, bytes);
    QuotaDecision decision;
    decision.granted = true;
    decision.resetsAtMs = status->resetsAtMs;
    decision.reservation =
        QuotaReservation{userId, status->period, qMax<qint64>(bytes, 0), reserved->reservationId};
    return decision;
}

Result<QuotaDecision> QuotaLedger::settle(const QuotaReservation &reservation, qint64 actualBytes)
{
    auto user = userById(reservation.userId);
    if (!user)
        return user.error();
    auto status = this->status(*user);
    if (!status)
        return status.error();
    // Charged to the month it settles in (status->period), and checked against that month.
    auto settled =
        m_store.settleQuota(reservation.id, actualBytes, status->bytesLimit, status->period);
    if (!settled)
        return settled.error();
    if (*settled != QuotaOutcome::Granted)
        return refusal(*settled, *status, actualBytes);
    QuotaDecision decision;
    decision.granted = true;
    decision.reservation = reservation;
    decision.reservation.bytes = actualBytes;
    decision.reservation.period = status->period; // where a refund must take it from
    decision.reservation.settled = true;
    decision.resetsAtMs = status->resetsAtMs;
    return decision;
}

void QuotaLedger::release(const QuotaReservation &reservation)
{
    if (reservation.id == 0)
        return;
    if (auto released = releaseNow(reservation); !released) {
        qCWarning(lcQuota).noquote()
            << "releasing a quota reservation failed (tried again every minute):"
            << released.error().toString();
        if (m_pendingReleases.keep(reservation)) {
            qCWarning(lcQuota) << "more than" << MaxPendingReleases
                               << "quota releases unwritten: the oldest stays charged";
        }
    }
}

Result<void> QuotaLedger::releaseNow(const QuotaReservation &reservation)
{
    return reservation.settled
               ? m_store.refundQuota(reservation.userId, reservation.period, reservation.bytes)
               : m_store.releaseQuota(reservation.id);
}

qsizetype QuotaLedger::retryPendingReleases()
{
    const auto outcome = m_pendingReleases.retry(
        [this](const QuotaReservation &reservation) { return releaseNow(reservation); },
        [](const QuotaReservation &) { return false; });
    if (outcome.refusal) {
        qCWarning(lcQuota).noquote()
            << "quota releases still unwritten:" << outcome.refusal->toString();
    }
    if (outcome.written > 0)
        qCInfo(lcQuota) << "wrote" << outcome.written << "quota releases the store refused earlier";
    return outcome.pending;
}

qsizetype QuotaLedger::pendingReleaseCount() const
{
    return m_pendingReleases.size();
}

Result<QuotaDecision> QuotaLedger::chargeImportBytes(qint64 userId, qint64 bytes)
{
    auto user = userById(userId);
    if (!user)
        return user.error();
    auto status = this->status(*user);
    if (!status)
        return status.error();
    QuotaDecision decision;
    decision.granted = true;
    decision.resetsAtMs = status->resetsAtMs;
    if (bytes == 0)
        return decision; // negative: given back (an undone import), never refused
    auto charged = m_store.chargeQuotaBytes(userId, status->period, bytes, status->bytesLimit);
    if (!charged)
        return charged.error();
    if (*charged != QuotaOutcome::Granted)
        return refusal(*charged, *status, bytes);
    return decision;
}

Result<int> QuotaLedger::releaseOrphans(bool engineStart)
{
    const qint64 now = m_clock.nowMs();
    return m_store.releaseOrphanedQuotaReservations(engineStart ? now + 1 : now - OrphanGraceMs,
                                                    engineStart);
}

Result<QuotaStatus> QuotaLedger::status(const User &user)
{
    const qint64 now = m_clock.nowMs();
    QuotaStatus status;
    status.period = periodOf(now);
    status.resetsAtMs = nextPeriodStartMs(now);
    const QDate today = QDateTime::fromMSecsSinceEpoch(now, Qt::UTC).date();
    status.periodStartMs =
        QDateTime(QDate(today.year(), today.month(), 1), QTime(0, 0), Qt::UTC).toMSecsSinceEpoch();
    auto overrides = m_store.quotaLimits(user.id);
    if (!overrides)
        return overrides.error();
    const TierPolicy policy = tierPolicy(user.tier);
    status.uploadsLimitIsDefault = !overrides->uploads.has_value();
    status.bytesLimitIsDefault = !overrides->bytes.has_value();
    status.uploadsLimit = overrides->uploads.value_or(policy.monthlyUploads);
    status.bytesLimit = overrides->bytes.value_or(policy.monthlyBytes);
    auto usage = m_store.quotaUsage(user.id, status.period);
    if (!usage)
        return usage.error();
    status.uploadsUsed = usage->uploads;
    status.bytesUsed = usage->bytes;
    return status;
}

Result<void>
QuotaLedger::setLimits(qint64 userId, std::optional<qint64> uploads, std::optional<qint64> bytes)
{
    for (const auto &[name, value] : {std::pair{"uploads", uploads}, std::pair{"bytes", bytes}}) {
        if (value && *value < -1) {
            return makeError(
                ErrorCode::InvalidArgument,
                QStringLiteral("The %1 limit %2 is negative.").arg(QLatin1String(name)).arg(*value),
                QStringLiteral("Use 0 or more, -1 for unlimited, or 'default' for the tier's."));
        }
    }
    return m_store.setQuotaLimits(userId, QuotaLimitOverrides{uploads, bytes});
}

Result<void> QuotaLedger::resetUsage(qint64 userId)
{
    return m_store.resetQuotaUsage(userId, periodOf(m_clock.nowMs()));
}

} // namespace Ferry
