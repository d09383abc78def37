#pragma once

#include "core/error.h"

#include <QList>
#include <QMutex>

#include <optional>

namespace Ferry {

// Writes the store refused (the database away), kept in order to be tried again later by a
// timer: the quota releases of QuotaLedger, the idempotency answers and claim drops of
// IdempotencyKeys. At most `capacity` are kept; keeping one more drops the oldest (the caller
// logs what that means for it). Thread-safe: requests keep, a timer retries.
template<typename T>
class PendingWrites final
{
public:
    explicit PendingWrites(qsizetype capacity) : m_capacity(qMax<qsizetype>(1, capacity)) {}
    Q_DISABLE_COPY_MOVE(PendingWrites)

    // Keeps item, after the others. True when the oldest was dropped to make room.
    bool keep(T item)
    {
        const QMutexLocker lock(&m_mutex);
        bool dropped = false;
        if (m_items.size() >= m_capacity) {
            m_items.removeFirst();
            dropped = true;
        }
        m_items.append(std::move(item));
        return dropped;
    }

    struct Outcome
    {
        qsizetype written = 0;
        qsizetype skipped = 0;        // given up by skip()
        qsizetype pending = 0;        // still kept after this retry
        std::optional<Error> refusal; // why the store still refused, when it did
    };

    // Writes the kept items, oldest first, with write(const T &) -> Result<void>, leaving out
    // those skip(const T &) gives up. At the first refusal it stops and keeps that item and the
    // rest, in order, ahead of any kept meanwhile.
    template<typename Write, typename Skip>
    Outcome retry(Write write, Skip skip)
    {
        QList<T> items;
        {
            const QMutexLocker lock(&m_mutex);
            items.swap(m_items);
        }
        Outcome outcome;
        for (qsizetype i = 0; i < items.size(); ++i) {
            if (skip(items.at(i))) {
                ++outcome.skipped;
                continue;
            }
            if (auto written = write(items.at(i)); !written) {
                outcome.refusal = written.error();
                const QMutexLocker lock(&m_mutex);
                QList<T> rest(items.begin() + i, items.end());
                rest.append(std::move(m_items));
                while (rest.size() > m_capacity)
                    rest.removeFirst();
                m_items = std::move(rest);
                outcome.pending = m_items.size();
                return outcome;
            }
            ++outcome.written;
        }
        outcome.pending = size();
        return outcome;
    }

    qsizetype size() const
    {
        const QMutexLocker lock(&m_mutex);
        return m_items.size();
    }

private:
    const qsizetype m_capacity;
    mutable QMutex m_mutex;
    QList<T> m_items;
};

} // namespace Ferry
