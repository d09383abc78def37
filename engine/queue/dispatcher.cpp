#include "dispatcher.h"

#include "queue/dispatchloop.h"

#include <QLoggingCategory>

namespace Ferry {

Dispatcher::Dispatcher(JobQueue &queue,
                       const HandlerRegistry &handlers,
                       const Clock &clock,
                       QString nodeId,
                       QObject *parent)
    : QObject(parent), m_queue(queue)
{
    DispatchLoop::Callbacks callbacks;
    callbacks.started = [this](qint64 id) { Q_EMIT jobStarted(id); };
    callbacks.finished = [this](qint64 id, JobStatus status, const std::optional<Error> &error) {
        Q_EMIT jobFinished(id, int(status), error);
    };
    callbacks.storeError = [this](const Error &error) { Q_EMIT storeError(error); };
    m_loop = std::make_unique<DispatchLoop>(queue, handlers, clock, std::move(nodeId),
                                            std::move(callbacks));
    m_queue.addObserver(this);
}

Dispatcher::~Dispatcher()
{
    m_queue.removeObserver(this);
    stop();
}

Result<void> Dispatcher::start()
{
    return m_loop->start();
}

void Dispatcher::stop()
{
    m_loop->stop();
}

Result<void> Dispatcher::setMaxConcurrency(int limit)
{
    if (limit < QueueConfig::MinConcurrency || limit > QueueConfig::MaxConcurrency) {
        return makeError(ErrorCode::InvalidArgument,
                         QStringLiteral("Concurrency %1 is out of range.").arg(limit),
                         QStringLiteral("Use %1 to %2 jobs at a time.")
                             .arg(QueueConfig::MinConcurrency)
                             .arg(QueueConfig::MaxConcurrency));
    }
    m_loop->setLimit(limit);
    return {};
}

int Dispatcher::maxConcurrency() const
{
    return m_loop->limit();
}

void Dispatcher::setResourceLimit(int cap)
{
    m_loop->setResourceLimit(qBound(0, cap, QueueConfig::MaxConcurrency));
}

int Dispatcher::resourceLimit() const
{
    return m_loop->resourceLimit();
}

int Dispatcher::effectiveConcurrency() const
{
    return m_loop->effectiveLimit();
}

void Dispatcher::setClaimingPaused(bool paused)
{
    m_loop->setClaimingPaused(paused);
}

bool Dispatcher::claimingPaused() const
{
    return m_loop->claimingPaused();
}

int Dispatcher::runningCount() const
{
    return m_loop->runningCount();
}

QString Dispatcher::nodeId() const
{
    return m_loop->nodeId();
}

void Dispatcher::setRetentionHook(std::function<void(qint64)> hook)
{
    m_loop->setRetentionHook(std::move(hook));
}

void Dispatcher::setLeaderGate(std::function<bool()> gate)
{
    m_loop->setLeaderGate(std::move(gate));
}

void Dispatcher::setCycleHook(std::function<void()> hook)
{
    m_loop->setCycleHook(std::move(hook));
}

void Dispatcher::setBackoffRandom(std::function<double()> random)
{
    m_loop->setBackoffRandom(std::move(random));
}

void Dispatcher::jobsEnqueued(int)
{
    m_loop->wake();
}

void Dispatcher::cancelRequested(qint64 jobId)
{
    m_loop->cancelLocal(jobId, CancelReason::Requested);
}

void Dispatcher::pausedChanged(bool)
{
    m_loop->wake();
}

void Dispatcher::maxPerUserChanged(int)
{
    m_loop->wake();
}

} // namespace Ferry
