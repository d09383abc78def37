#pragma once

#include "api/apiroute.h"
#include "quota/quotaledger.h"

namespace Ferry {

// GET /api/v1/quota: the caller's monthly quota.
class QuotaRoutes final : public ApiRouteGroup
{
public:
    explicit QuotaRoutes(QuotaLedger &ledger);
    QList<ApiRoute> routes() override;

    // {"period", "periodStart", "resetsAt", "tier", "uploads": {"used", "limit"},
    //  "bytes": {"used", "limit"}}; a limit of null means unlimited.
    static QJsonObject toJson(const User &user, const QuotaStatus &status);

private:
    QuotaLedger &m_ledger;
};

} // namespace Ferry
