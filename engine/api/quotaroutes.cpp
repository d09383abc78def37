#include "api/quotaroutes.h"

#include "quota/quotajson.h"

#include <QJsonObject>

namespace Ferry {

QuotaRoutes::QuotaRoutes(QuotaLedger &ledger) : m_ledger(ledger) {}

QList<ApiRoute> QuotaRoutes::routes()
{
    // GET /api/v1/quota (auth)
    //   200 {"success": true, "quota": {...}} (quotaJson)
    ApiRoute get;
    get.method = "GET";
    get.path = "/api/v1/quota";
    get.offload = true;
    get.handle = [this](const ApiCall &call) {
        auto status = m_ledger.status(call.user());
        if (!status)
            return call.respond(Api::fromError(status.error()));
        call.respond(Api::json(200, {{QStringLiteral("success"), true},
                                     {QStringLiteral("quota"), quotaJson(call.user(), *status)}}));
    };
    return {get};
}

} // namespace Ferry
