#pragma once

#include "store/records.h"

#include <QByteArray>

#include <string>

namespace Ferry {

// A job as the API shows it, written as JSON text directly (GET /api/v1/jobs/{id} is the API's
// hottest answer): {"id", "type", "status", "priority", "attempts", "maxAttempts", "sessionId",
// "progress", "error", "result", "createdAt", "startedAt", "finishedAt"}.
void appendJobJson(std::string &out, const Job &job);
// {"success": true, "job": {...}}
QByteArray jobBody(const Job &job);

} // namespace Ferry
