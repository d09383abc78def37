#include "builtinhandlers.h"

#include <QDeadlineTimer>
#include <QThread>

namespace Ferry {

namespace {
constexpr qint64 MaxSleepMs = 3'600'000;
constexpr qint64 SliceMs = 10;
} // namespace

JobOutcome NoopHandler::run(JobContext &context)
{
    Q_UNUSED(context);
    return JobOutcome::completed();
}

Result<void> SleepHandler::validatePayload(const QJsonObject &payload) const
{
    const QJsonValue ms = payload.value(u"ms");
    if (!ms.isUndefined() && (!ms.isDouble() || ms.toDouble() < 0 || ms.toDouble() > MaxSleepMs)) {
        return makeError(
            ErrorCode::InvalidArgument,
            QStringLiteral("The sleep job's \"ms\" must be a number from 0 to %1.").arg(MaxSleepMs),
            QStringLiteral("Send a payload like {\"ms\": 500}."));
    }
    return {};
}

JobOutcome SleepHandler::run(JobContext &context)
{
    const qint64 total = qint64(context.payload().value(u"ms").toDouble(0));
    const QDeadlineTimer deadline(total);
    while (!deadline.hasExpired()) {
        if (context.isCancelled())
            return JobOutcome::cancelled();
        QThread::msleep(quint64(qMin(SliceMs, qMax<qint64>(1, deadline.remainingTime()))));
        context.reportProgress(total - deadline.remainingTime(), total, QStringLiteral("ms"));
    }
    return JobOutcome::completed({{QStringLiteral("sleptMs"), double(total)}});
}

void registerBuiltinHandlers(HandlerRegistry &registry)
{
    registry.add(QStringLiteral("noop"), std::make_shared<NoopHandler>());
    registry.add(QStringLiteral("sleep"), std::make_shared<SleepHandler>());
}

} // namespace Ferry
