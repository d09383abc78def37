#pragma once

#include "core/error.h"

#include <QHash>
#include <QPair>

#include <functional>

namespace Ferry {

// The fair ranks one enqueue hands out (see fair_clock in the schema): the first job of a
// (user, priority) in the batch asks the store for that user's next rank; the ones after it
// count on from there. A batch of a million jobs asks once per user and priority.
class BatchFairRanks final
{
public:
    using NextRank = std::function<Result<qint64>(qint64 userId, int priority)>;
    explicit BatchFairRanks(NextRank nextRank) : m_nextRank(std::move(nextRank)) {}

    Result<qint64> next(qint64 userId, int priority)
    {
        const auto key = qMakePair(userId, priority);
        if (auto it = m_given.find(key); it != m_given.end())
            return ++*it;
        auto first = m_nextRank(userId, priority);
        if (!first)
            return first.error();
        m_given.insert(key, *first);
        return *first;
    }

private:
    NextRank m_nextRank;
    QHash<QPair<qint64, int>, qint64> m_given; // the last rank given
};

} // namespace Ferry
