#include "quotajson.h"

namespace Ferry {

QJsonObject quotaJson(const User &user, const QuotaStatus &status)
{
    auto limit = [](qint64 value) { return value < 0 ? QJsonValue() : QJsonValue(value); };
    return {
        {QStringLiteral("period"), status.period},
        {QStringLiteral("periodStart"), status.periodStartMs},
        {QStringLiteral("resetsAt"), status.resetsAtMs},
        {QStringLiteral("tier"), user.tier},
        {QStringLiteral("uploads"),
         QJsonObject{{QStringLiteral("used"), status.uploadsUsed},
                     {QStringLiteral("limit"), limit(status.uploadsLimit)}}},
        {QStringLiteral("bytes"), QJsonObject{{QStringLiteral("used"), status.bytesUsed},
                                              {QStringLiteral("limit"), limit(status.bytesLimit)}}},
    };
}

} // namespace Ferry
