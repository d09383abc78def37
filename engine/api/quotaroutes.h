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

private:
    QuotaLedger &m_ledger;
};

} // namespace Ferry
