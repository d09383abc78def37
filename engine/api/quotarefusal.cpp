#include "api/quotarefusal.h"

#include "quota/limitparser.h"

#include <QDateTime>
#include <QJsonObject>

namespace Ferry::Api {

Http::Response quotaExceeded(const QuotaDecision &decision, qint64 nowMs)
{
    const bool uploads = decision.limitName == u"uploads";
    const QString resetsAt =
        QDateTime::fromMSecsSinceEpoch(decision.resetsAtMs, Qt::UTC).toString(Qt::ISODate);
    const QString usage =
        uploads ? QStringLiteral("%1 of %2 uploads this month are used")
                      .arg(decision.used)
                      .arg(decision.limit)
                : QStringLiteral("%1 of %2 this month are used, and this upload is %3")
                      .arg(humanBytes(decision.used), humanBytes(decision.limit),
                           humanBytes(decision.requested));
    const QString message =
        (decision.message.isEmpty() ? QStringLiteral("Monthly upload quota exceeded")
                                    : decision.message) +
        (decision.limitName.isEmpty()
             ? QStringLiteral(". It resets at %1.").arg(resetsAt)
             : QStringLiteral(": %1. It resets at %2; an operator can raise the limit (ferry "
                              "quota set).")
                   .arg(usage, resetsAt));
    QJsonObject body{{QStringLiteral("success"), false},
                     {QStringLiteral("error"), QStringLiteral("Quota exceeded")},
                     {QStringLiteral("code"), QStringLiteral("quota_exceeded")},
                     {QStringLiteral("message"), message}};
    if (!decision.limitName.isEmpty()) {
        body.insert(QStringLiteral("quota"),
                    QJsonObject{{QStringLiteral("limit"), decision.limitName},
                                {QStringLiteral("max"), decision.limit},
                                {QStringLiteral("used"), decision.used},
                                {QStringLiteral("requested"), decision.requested},
                                {QStringLiteral("resetsAt"), resetsAt}});
    }
    Http::Response response = Http::Response::json(429, body);
    const qint64 waitMs = std::max<qint64>(0, decision.resetsAtMs - nowMs);
    response.setHeader("Retry-After",
                       QByteArray::number(std::max<qint64>(1, (waitMs + 999) / 1000)));
    return response;
}

} // namespace Ferry::Api
