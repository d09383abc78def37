#pragma once

#include <QString>
#include <QStringList>

#include <optional>

namespace Ferry {

// What a user's tier grants: monthly quota defaults and how uploads are prioritised
// (docs/architecture.md, "Quotas and priorities").
struct TierPolicy
{
    QString tier;
    qint64 monthlyUploads = 0; // -1: unlimited
    qint64 monthlyBytes = 0;   // -1: unlimited
    int basePriority = 0;      // where this tier's uploads start
    int maxPriority = 0;       // the highest priority an upload of this tier may ask for
};

// free, standard, premium. Unknown tiers get standard's policy.
TierPolicy tierPolicy(const QString &tier);
QStringList tierNames();

// The priority of an upload: the tier's base plus a size adjustment (smaller files first), or
// the priority the request asked for; either way clamped to [MinPriority, the tier's maximum].
// Pending jobs then gain one step per ageing interval (QueueConfig::agingIntervalMs), so a big
// or low-tier upload cannot wait forever behind a stream of small ones.
int uploadPriority(const QString &tier, qint64 sizeBytes, std::optional<int> requested);

} // namespace Ferry
