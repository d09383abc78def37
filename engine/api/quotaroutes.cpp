#include "api/quotaroutes.h"

#include <QJsonObject>

namespace Ferry {

QuotaRoutes::QuotaRoutes(QuotaLedger &ledger) : m_ledger(ledger) {}

QJsonObject QuotaRoutes::toJson(const User &user, const QuotaStatus &status)
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

QList<ApiRoute> QuotaRoutes::routes()
{
    // GET /api/v1/quota (auth)
    //   200 {"success": true, "quota": {...}} (toJson)
    ApiRoute get;
    get.method = "GET";
    get.path = "/api/v1/quota";
    get.offload = true;
    get.handle = [this](const ApiCall &call) {
        auto status = m_ledger.status(call.user());
        if (!status)
            return call.respond(Api::fromError(status.error()));
        call.respond(Api::json(200, {{QStringLiteral("success"), true},
                                     {QStringLiteral("quota"), toJson(call.user(), *status)}}));
    };
    return {get};
}

} // namespace Ferry
