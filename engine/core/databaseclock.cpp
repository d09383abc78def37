#include "core/databaseclock.h"

namespace Ferry {

void DatabaseClock::learn(qint64 sentAt, qint64 databaseMs, qint64 receivedAt)
{
    // The latest round trip wins, even a slower one: a clock stepped meanwhile (NTP, an
    // operator) must be followed at once, and a round trip to the database takes milliseconds.
    const qint64 midpoint = sentAt + (receivedAt - sentAt) / 2;
    m_offsetMs.store(databaseMs - midpoint);
}

} // namespace Ferry
