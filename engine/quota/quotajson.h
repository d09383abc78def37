#pragma once
// A user's quota as JSON: one shape for GET /api/v1/quota and `ferry quota show --json`.

#include "quota/quotaledger.h"

#include <QJsonObject>

namespace Ferry {

// {"period", "periodStart", "resetsAt", "tier", "uploads": {"used", "limit"},
//  "bytes": {"used", "limit"}}; a limit of null means unlimited.
QJsonObject quotaJson(const User &user, const QuotaStatus &status);

} // namespace Ferry
