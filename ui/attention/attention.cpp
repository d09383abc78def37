#include "ui/attention/attention.h"

#include "queue/jobqueue.h"
#include "quota/quotaledger.h"
#include "store/store.h"
#include "ui/runonpool.h"

#include <QSettings>

namespace Ferry {

namespace {
QString keyOf(Attention::Kind kind)
{
    switch (kind) {
    case Attention::Kind::Failures:
        return QStringLiteral("notify/failures");
    case Attention::Kind::Quota:
        return QStringLiteral("notify/quota");
    case Attention::Kind::Memory:
        return QStringLiteral("notify/memory");
    }
    return {};
}

struct Exhausted
{
    qint64 userId;
    QString name;
    QString period;
};

// The failures an observing console reads. A node settles a job with the database's time of its
// dispatch cycle and commits a moment later, so a failure can become visible after one that ended
// later: each read goes back this far and skips what it has seen.
constexpr qint64 FailureLookbackMs = 30'000;
constexpr int FailurePage = 1000;
// Per read. Beyond this many failures in the look-back window (thousands a second), notices lag.
constexpr int FailuresPerRead = 50'000;

struct FailureRead
{
    qint64 lastAt = 0; // the first read: where failures stand
    QList<FailedJobRow> rows;
};
} // namespace

Attention::Attention(ConsoleContext &context, Timing timing, QObject *parent)
    : QObject(parent), m_context(context), m_timing(timing)
{
    for (const Kind kind : {Kind::Failures, Kind::Quota, Kind::Memory}) {
        m_enabled.insert(kind, !m_context.windowSettings ||
                                   m_context.windowSettings->value(keyOf(kind), true).toBool());
    }
    m_burst.setSingleShot(true);
    m_burst.setInterval(m_timing.burstMs);
    connect(&m_burst, &QTimer::timeout, this, &Attention::flushFailures);
    m_failingFor.setSingleShot(true);
    m_failingFor.setInterval(m_timing.failingMs);
    connect(&m_failingFor, &QTimer::timeout, this, &Attention::updateState);
    m_quotaPoll.setInterval(m_timing.quotaPollMs);
    connect(&m_quotaPoll, &QTimer::timeout, this, &Attention::checkQuotas);
    m_quotaPoll.start();
    connect(&m_context.queue, &JobQueue::pausedChanged, this, &Attention::updateState);
    if (m_context.observing()) {
        m_failurePoll.setInterval(m_timing.failurePollMs);
        connect(&m_failurePoll, &QTimer::timeout, this, &Attention::checkFailures);
        m_failurePoll.start();
        checkFailures();
    }
    updateState();
}

bool Attention::isEnabled(Kind kind) const
{
    return m_enabled.value(kind, true);
}

void Attention::setEnabled(Kind kind, bool enabled)
{
    m_enabled.insert(kind, enabled);
    if (m_context.windowSettings)
        m_context.windowSettings->setValue(keyOf(kind), enabled);
}

void Attention::jobFinished(qint64, int status)
{
    if (status != int(JobStatus::Failed) && status != int(JobStatus::Dead))
        return;
    m_failingFor.start(); // (re)starts: failing for the next few minutes
    updateState();
    if (!isEnabled(Kind::Failures))
        return;
    ++(status == int(JobStatus::Dead) ? m_dead : m_failed);
    if (!m_burst.isActive())
        m_burst.start(); // the first failure of a burst: gather the rest, then one notice
}

void Attention::flushFailures()
{
    const int total = m_failed + m_dead;
    if (total == 0)
        return;
    QStringList parts;
    if (m_failed > 0)
        parts << (m_failed == 1 ? QStringLiteral("1 failed")
                                : QStringLiteral("%1 failed").arg(m_failed));
    if (m_dead > 0)
        parts << QStringLiteral("%1 dead (no attempts left)").arg(m_dead);
    Q_EMIT notice(total == 1 ? QStringLiteral("A job failed")
                             : QStringLiteral("%1 jobs failed").arg(total),
                  QStringLiteral("%1. See the Jobs page for their errors.")
                      .arg(parts.join(QStringLiteral(", "))));
    m_failed = 0;
    m_dead = 0;
}

void Attention::limitChanged(int effective, int configured, const QString &reason)
{
    const bool dropped = m_lastEffective >= 0 && effective < m_lastEffective;
    m_lastEffective = effective;
    if (!dropped || !reason.contains(u"memory", Qt::CaseInsensitive) || !isEnabled(Kind::Memory))
        return;
    Q_EMIT notice(QStringLiteral("Memory pressure"),
                  QStringLiteral("Ferry now runs at most %1 of %2 jobs at once: %3.")
                      .arg(effective)
                      .arg(configured)
                      .arg(reason));
}

QCoro::Task<> Attention::checkQuotas()
{
    if (!isEnabled(Kind::Quota) || !m_context.readers)
        co_return;
    ConsoleContext *context = &m_context;
    auto reading = runOnPool(this, m_context.readers, [context]() -> Result<QList<Exhausted>> {
        auto users = context->store.users();
        if (!users)
            return users.error();
        QList<Exhausted> exhausted;
        for (const User &user : std::as_const(*users)) {
            auto quota = context->quotas.status(user);
            if (!quota)
                return quota.error();
            const bool uploads =
                quota->uploadsLimit >= 0 && quota->uploadsUsed >= quota->uploadsLimit;
            const bool bytes = quota->bytesLimit >= 0 && quota->bytesUsed >= quota->bytesLimit;
            if (uploads || bytes)
                exhausted.append({user.id, user.name, quota->period});
        }
        return exhausted;
    });
    const auto read = co_await reading;
    if (!read || !*read)
        co_return; // gone, or the store failed (the pages say so)
    QStringList names;
    for (const Exhausted &e : std::as_const(**read)) {
        const QString key = QStringLiteral("%1/%2").arg(e.userId).arg(e.period);
        if (!m_quotaNoticed.contains(key)) {
            m_quotaNoticed.insert(key);
            names << e.name;
        }
    }
    if (names.isEmpty())
        co_return;
    Q_EMIT notice(names.size() == 1 ? QStringLiteral("A quota is used up")
                                    : QStringLiteral("%1 quotas are used up").arg(names.size()),
                  QStringLiteral("%1 used this month's quota; their uploads are refused until "
                                 "the month ends or you raise the limit (Users and quotas).")
                      .arg(names.join(QStringLiteral(", "))));
}

QCoro::Task<> Attention::checkFailures()
{
    if (!m_context.readers || m_failuresReading)
        co_return;
    m_failuresReading = true;
    Store *store = &m_context.store;
    const bool first = !m_failuresRead;
    const qint64 lastAt = m_lastFailureAt;
    auto reading =
        runOnPool(this, m_context.readers, [store, first, lastAt]() -> Result<FailureRead> {
            FailureRead read{lastAt, {}};
            if (first) {
                auto last = store->lastFailureAt();
                if (!last)
                    return last.error();
                read.lastAt = *last;
            }
            FailedJobCursor cursor{read.lastAt - FailureLookbackMs, 0};
            while (read.rows.size() < FailuresPerRead) {
                auto page = store->failedJobsAfter(cursor, FailurePage);
                if (!page)
                    return page.error();
                read.rows += *page;
                if (page->size() < FailurePage)
                    break;
                cursor = {page->back().finishedAt, page->back().id};
            }
            return read;
        });
    const auto read = co_await reading;
    if (!read)
        co_return; // gone
    m_failuresReading = false;
    if (!*read)
        co_return; // the store failed: the next read tries again (the pages say what is wrong)
    m_lastFailureAt = qMax(m_lastFailureAt, (*read)->lastAt);
    for (const FailedJobRow &row : std::as_const((*read)->rows)) {
        m_lastFailureAt = qMax(m_lastFailureAt, row.finishedAt);
        if (m_failuresSeen.insert({row.finishedAt, row.id}).second && m_failuresRead)
            jobFinished(row.id, int(row.status));
    }
    m_failuresRead = true;
    m_failuresSeen.erase(m_failuresSeen.begin(),
                         m_failuresSeen.lower_bound({m_lastFailureAt - FailureLookbackMs, 0}));
}

void Attention::updateState()
{
    const State state = m_context.queue.isPaused() ? State::Paused
                        : m_failingFor.isActive()  ? State::Failing
                                                   : State::Running;
    if (state == m_state)
        return;
    m_state = state;
    Q_EMIT stateChanged(state);
}

} // namespace Ferry
