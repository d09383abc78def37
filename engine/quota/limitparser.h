#pragma once

#include "core/error.h"

#include <QString>

#include <optional>

namespace Ferry {

// Quota limits as people type them, shared by `ferry quota set` and the console's Users page:
// a whole number, "unlimited" (-1) or "default" (the tier's: std::nullopt); byte limits also
// take K, M, G, T suffixes (powers of 1024). Negative and non-numeric values are refused.
enum class LimitKind {
    Uploads,
    Bytes,
};

// `what` names the value in the error message ("--bytes", "the byte limit").
Result<std::optional<qint64>> parseLimit(QString text, LimitKind kind, const QString &what);
// A prefix of something parseLimit accepts (for an editor's validator): "", "unl", "12".
bool isLimitPrefix(const QString &text, LimitKind kind);
// -1 -> "unlimited"; bytes as the exact number.
QString limitText(qint64 limit);
// A byte count for people: "512 B", "1.5 MiB", "2 GiB"; -1 -> "unlimited".
QString humanBytes(qint64 bytes);

} // namespace Ferry
