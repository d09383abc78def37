#pragma once

#include "core/error.h"
#include "store/records.h"

#include <QJsonObject>
#include <QMutex>

#include <atomic>
#include <memory>

namespace Ferry {

// Why a running job is asked to stop. The handler sees only "cancelled"; the dispatcher decides
// what the attempt becomes: cancelled (operator/user), a timeout error (retried by policy), or
// released back to the queue uncounted (shutdown).
// LeaseLost: another node took the job over (this one was cut off or too slow); whatever the
// attempt still writes is refused by its lease token, so it only stops wasting work.
enum class CancelReason : int { None = 0, Requested, Timeout, Shutdown, LeaseLost };

// The shared state of one running attempt: its cancellation flag and its latest progress.
// Written by the handler's thread, read by the dispatcher's.
class RunState final
{
public:
    CancelReason cancelReason() const { return CancelReason(m_cancel.load()); }
    // The first reason wins, except that a cancel request wins over every other one: an
    // accepted cancel must not be lost because a timeout, a shutdown or a lost lease got there
    // first (the attempt would settle back to pending and run again). A timeout never turns
    // into a cancel by itself, and a cancel never back into anything else.
    void cancel(CancelReason reason)
    {
        int expected = int(CancelReason::None);
        if (m_cancel.compare_exchange_strong(expected, int(reason)))
            return;
        if (reason == CancelReason::Requested)
            m_cancel.store(int(CancelReason::Requested));
    }

    void setProgress(JobProgress progress)
    {
        QMutexLocker lock(&m_mutex);
        m_progress = std::move(progress);
        m_progressDirty = true;
    }
    // The progress if it changed since the last call.
    std::optional<JobProgress> takeProgress()
    {
        QMutexLocker lock(&m_mutex);
        if (!m_progressDirty)
            return std::nullopt;
        m_progressDirty = false;
        return m_progress;
    }

private:
    std::atomic<int> m_cancel{int(CancelReason::None)};
    QMutex m_mutex;
    JobProgress m_progress;
    bool m_progressDirty = false;
};

// What a handler sees of its job: payload, attempt, a cancellation check and a progress sink.
class JobContext final
{
public:
    JobContext(const ClaimedJob &job, RunState &state) : m_job(job), m_state(state) {}

    const ClaimedJob &job() const { return m_job; }
    const QJsonObject &payload() const { return m_job.payload; }
    // Handlers call this at checkpoints (between batches) and return JobOutcome::cancelled().
    bool isCancelled() const { return m_state.cancelReason() != CancelReason::None; }
    // Why: a handler that keeps partial work can tell "undo" (Requested) from "resume later"
    // (Timeout, Shutdown).
    CancelReason cancelReason() const { return m_state.cancelReason(); }
    void reportProgress(qint64 done, qint64 total, const QString &unit, QJsonObject detail = {})
    {
        m_state.setProgress({done, total, unit, std::move(detail)});
    }

private:
    const ClaimedJob &m_job;
    RunState &m_state;
};

// Exactly one outcome per attempt (KJob's rule). An error keeps its type (code, message, hint)
// up to the dispatcher's jobFinished; the job's stored error is its text (Error::toString()).
struct JobOutcome
{
    enum class Kind { Completed, TransientError, PermanentError, Cancelled };
    Kind kind = Kind::Completed;
    QJsonObject result;
    Error error; // for TransientError and PermanentError

    static JobOutcome completed(QJsonObject result = {})
    {
        return {Kind::Completed, std::move(result), {}};
    }
    // Worth retrying: the same attempt may succeed later (a busy resource, a timeout).
    static JobOutcome transientError(Error error)
    {
        return {Kind::TransientError, {}, std::move(error)};
    }
    // Retrying cannot help (bad input): the job fails now.
    static JobOutcome permanentError(Error error)
    {
        return {Kind::PermanentError, {}, std::move(error)};
    }
    static JobOutcome cancelled() { return {Kind::Cancelled, {}, {}}; }
};

// A job type's implementation. run() is called on a pool thread, one call per attempt, and may
// be called concurrently for different jobs. It must return promptly once isCancelled().
class JobHandler
{
public:
    virtual ~JobHandler() = default;
    // Checked at enqueue, so a bad payload is refused before it is queued.
    virtual Result<void> validatePayload(const QJsonObject &payload) const
    {
        Q_UNUSED(payload);
        return {};
    }
    virtual JobOutcome run(JobContext &context) = 0;
};

} // namespace Ferry
