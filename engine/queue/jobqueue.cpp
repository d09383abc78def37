#include "jobqueue.h"

#include <QLoggingCategory>

namespace Ferry {

Q_LOGGING_CATEGORY(lcQueue, "ferry.queue")

namespace {
const QString s_pausedKey = QStringLiteral("queue.paused");
const QString s_maxPerUserKey = QStringLiteral("queue.maxPerUser");
constexpr int MaxAttemptsLimit = 100;
} // namespace

JobQueue::JobQueue(Store &store,
                   const HandlerRegistry &handlers,
                   const Clock &clock,
                   QueueConfig config,
                   QObject *parent)
    : QObject(parent)
    , m_store(store)
    , m_handlers(handlers)
    , m_clock(clock)
    , m_config(config)
    , m_defaultTimeoutMs(config.defaultTimeoutMs)
    , m_defaultMaxAttempts(config.defaultMaxAttempts)
{
    m_maxPerUser.store(qBound(0, m_config.maxPerUser, QueueConfig::MaxPerUserLimit));
    reloadPaused();
}

JobQueue::~JobQueue() = default;

Result<void> JobQueue::validatePriority(int priority)
{
    if (priority < MinPriority || priority > MaxPriority) {
        return makeError(ErrorCode::InvalidArgument,
                         QStringLiteral("Priority %1 is out of range.").arg(priority),
                         QStringLiteral("Use a whole number from %1 to %2 (higher runs first).")
                             .arg(MinPriority)
                             .arg(MaxPriority));
    }
    return {};
}

Result<void> JobQueue::prepare(NewJob &job) const
{
    const auto handler = m_handlers.find(job.type);
    if (!handler) {
        return makeError(ErrorCode::InvalidArgument,
                         QStringLiteral("Unknown job type '%1'.").arg(job.type),
                         QStringLiteral("Known types: %1.").arg(m_handlers.types().join(u", ")));
    }
    if (auto valid = handler->validatePayload(job.payload); !valid)
        return valid;
    if (auto valid = validatePriority(job.priority); !valid)
        return valid;
    if (job.userId <= 0) {
        return makeError(ErrorCode::InvalidArgument, QStringLiteral("A job needs a user."),
                         QStringLiteral("Pass the id of an existing user."));
    }
    if (job.maxAttempts == 0)
        job.maxAttempts = m_defaultMaxAttempts.load();
    if (job.maxAttempts < 1 || job.maxAttempts > MaxAttemptsLimit) {
        return makeError(ErrorCode::InvalidArgument,
                         QStringLiteral("maxAttempts %1 is out of range.").arg(job.maxAttempts),
                         QStringLiteral("Use 1 to %1.").arg(MaxAttemptsLimit));
    }
    if (job.timeoutMs < 0)
        job.timeoutMs = m_defaultTimeoutMs.load();
    if (job.uniqueKey.size() > 256) {
        return makeError(ErrorCode::InvalidArgument, QStringLiteral("The unique key is too long."),
                         QStringLiteral("Use at most 256 characters."));
    }
    return {};
}

Result<void> JobQueue::setJobDefaults(qint64 timeoutMs, int maxAttempts)
{
    if (timeoutMs < 0) {
        return makeError(ErrorCode::InvalidArgument,
                         QStringLiteral("A default timeout of %1 ms is negative.").arg(timeoutMs),
                         QStringLiteral("Use 0 (no timeout) or more."));
    }
    if (maxAttempts < 1 || maxAttempts > MaxAttemptsLimit) {
        return makeError(ErrorCode::InvalidArgument,
                         QStringLiteral("maxAttempts %1 is out of range.").arg(maxAttempts),
                         QStringLiteral("Use 1 to %1.").arg(MaxAttemptsLimit));
    }
    m_defaultTimeoutMs.store(timeoutMs);
    m_defaultMaxAttempts.store(maxAttempts);
    return {};
}

Result<EnqueuedJob> JobQueue::enqueue(NewJob job)
{
    auto result = enqueueBatch({std::move(job)});
    if (!result)
        return result.error();
    return result->first();
}

Result<QList<EnqueuedJob>> JobQueue::enqueueBatch(QList<NewJob> jobs)
{
    for (NewJob &job : jobs) {
        if (auto valid = prepare(job); !valid)
            return valid.error();
    }
    auto result = m_store.enqueue(jobs, m_clock.nowMs());
    if (!result)
        return result;
    const int added = int(std::count_if(result->cbegin(), result->cend(),
                                        [](const EnqueuedJob &j) { return !j.deduplicated; }));
    if (added > 0) {
        notify([added](QueueObserver *o) { o->jobsEnqueued(added); });
        Q_EMIT jobsEnqueued(added);
    }
    return result;
}

Result<JobStatus> JobQueue::cancel(qint64 jobId, std::optional<qint64> userId)
{
    auto status = m_store.cancelJob(jobId, userId, m_clock.nowMs());
    if (status && *status == JobStatus::Running)
        notify([jobId](QueueObserver *o) { o->cancelRequested(jobId); });
    return status;
}

Result<void> JobQueue::retry(qint64 jobId, std::optional<qint64> userId)
{
    auto result = m_store.retryJob(jobId, userId, m_clock.nowMs());
    if (result)
        notify([](QueueObserver *o) { o->jobsEnqueued(1); });
    return result;
}

Result<void> JobQueue::setPriority(qint64 jobId, int priority, std::optional<qint64> userId)
{
    if (auto valid = validatePriority(priority); !valid)
        return valid;
    return m_store.setPriority(jobId, userId, priority);
}

Result<void> JobQueue::setPaused(bool paused)
{
    const QMutexLocker lock(&m_pausedMutex); // a concurrent reload must not undo this change
    if (auto saved =
            m_store.setSetting(s_pausedKey, paused ? QStringLiteral("1") : QStringLiteral("0"));
        !saved)
        return saved;
    if (m_paused.exchange(paused) != paused) {
        qCInfo(lcQueue) << (paused ? "queue paused" : "queue resumed");
        notify([paused](QueueObserver *o) { o->pausedChanged(paused); });
        Q_EMIT pausedChanged(paused);
    }
    return {};
}

void JobQueue::reloadPaused()
{
    const QMutexLocker lock(&m_pausedMutex);
    auto value = m_store.setting(s_pausedKey);
    if (!value) {
        qCWarning(lcQueue) << "cannot read the paused flag:" << value.error().toString();
        return;
    }
    const bool paused = value->value_or(QStringLiteral("0")) == u"1";
    if (m_paused.exchange(paused) != paused) {
        notify([paused](QueueObserver *o) { o->pausedChanged(paused); });
        Q_EMIT pausedChanged(paused);
    }
    reloadMaxPerUserLocked();
}

// --- Per-user cap (queue.maxPerUser) ---
Result<void> JobQueue::setMaxPerUser(int cap)
{
    if (cap < 0 || cap > QueueConfig::MaxPerUserLimit) {
        return makeError(ErrorCode::InvalidArgument,
                         QStringLiteral("A per-user cap of %1 is out of range.").arg(cap),
                         QStringLiteral("Use 0 (no cap) to %1 running jobs per user.")
                             .arg(QueueConfig::MaxPerUserLimit));
    }
    const QMutexLocker lock(&m_pausedMutex);
    if (auto saved = m_store.setSetting(s_maxPerUserKey, QString::number(cap)); !saved)
        return saved;
    applyMaxPerUser(cap);
    return {};
}

void JobQueue::reloadMaxPerUser()
{
    const QMutexLocker lock(&m_pausedMutex);
    reloadMaxPerUserLocked();
}

void JobQueue::reloadMaxPerUserLocked()
{
    auto value = m_store.setting(s_maxPerUserKey);
    if (!value) {
        qCWarning(lcQueue) << "cannot read the per-user cap:" << value.error().toString();
        return;
    }
    if (!value->has_value())
        return; // never set by an operator: the configured default stands
    bool ok = false;
    const int cap = (*value)->toInt(&ok);
    if (ok && cap >= 0 && cap <= QueueConfig::MaxPerUserLimit)
        applyMaxPerUser(cap);
}

void JobQueue::applyMaxPerUser(int cap)
{
    if (m_maxPerUser.exchange(cap) == cap)
        return;
    qCInfo(lcQueue) << "running jobs per user capped at" << cap << (cap == 0 ? "(no cap)" : "");
    notify([cap](QueueObserver *o) { o->maxPerUserChanged(cap); });
    Q_EMIT maxPerUserChanged(cap);
}
// --- end per-user cap ---

void JobQueue::addObserver(QueueObserver *observer)
{
    QMutexLocker lock(&m_observersMutex);
    m_observers.append(observer);
}

void JobQueue::removeObserver(QueueObserver *observer)
{
    QMutexLocker lock(&m_observersMutex);
    m_observers.removeAll(observer);
}

// Cluster: changes announced by other nodes (engine/cluster/notificationlistener.h).
void JobQueue::announceRemoteEnqueue()
{
    notify([](QueueObserver *o) { o->jobsEnqueued(0); });
}

void JobQueue::announceRemoteCancel(qint64 jobId)
{
    notify([jobId](QueueObserver *o) { o->cancelRequested(jobId); });
}

template<typename F>
void JobQueue::notify(F &&f)
{
    QMutexLocker lock(&m_observersMutex);
    for (QueueObserver *observer : std::as_const(m_observers))
        f(observer);
}

} // namespace Ferry
