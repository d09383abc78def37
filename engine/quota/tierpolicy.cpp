#include "quota/tierpolicy.h"

#include "store/records.h"

#include <algorithm>

namespace Ferry {

namespace {

constexpr qint64 MiB = 1024 * 1024;
constexpr qint64 GiB = 1024 * MiB;

} // namespace

TierPolicy tierPolicy(const QString &tier)
{
    if (tier == u"free")
        return {QStringLiteral("free"), 50, 1 * GiB, -10, 0};
    if (tier == u"premium")
        return {QStringLiteral("premium"), 10'000, 500 * GiB, 10, 50};
    return {QStringLiteral("standard"), 1'000, 50 * GiB, 0, 20};
}

QStringList tierNames()
{
    return {QStringLiteral("free"), QStringLiteral("standard"), QStringLiteral("premium")};
}

int uploadPriority(const QString &tier, qint64 sizeBytes, std::optional<int> requested)
{
    const TierPolicy policy = tierPolicy(tier);
    int priority = policy.basePriority;
    if (requested) {
        priority = *requested;
    } else if (sizeBytes >= 0) {
        // Smaller files first: about one step per factor of ten in size around 10 MiB.
        if (sizeBytes < 1 * MiB)
            priority += 5;
        else if (sizeBytes < 10 * MiB)
            priority += 2;
        else if (sizeBytes < 100 * MiB)
            priority += 0;
        else if (sizeBytes < 1 * GiB)
            priority -= 3;
        else
            priority -= 6;
    }
    return std::clamp(priority, MinPriority, policy.maxPriority);
}

} // namespace Ferry
