#pragma once

#include <QString>
#include <QtGlobal>

#include <optional>

namespace Ferry {

// A user's own quota limits; empty: the tier's default (engine/quota/tierpolicy.h).
struct QuotaLimitOverrides
{
    std::optional<qint64> uploads;
    std::optional<qint64> bytes;
};

// What a user used in one period (calendar month, UTC): stored uploads plus reservations.
struct QuotaUsage
{
    qint64 uploads = 0;
    qint64 bytes = 0;
    qint64 reservedUploads = 0; // uploads being received now (part of uploads)
};

enum class QuotaOutcome { Granted, UploadsExceeded, BytesExceeded };

struct QuotaReserveResult
{
    QuotaOutcome outcome = QuotaOutcome::Granted;
    qint64 reservationId = 0; // when granted
};

} // namespace Ferry
