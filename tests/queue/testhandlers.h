#pragma once

#include "queue/jobhandler.h"

#include <QMutex>
#include <QThread>

#include <atomic>

namespace Ferry::Test {

// Records the order in which jobs start; sleeps payload.ms (observing cancellation).
class RecordingHandler final : public JobHandler
{
public:
    JobOutcome run(JobContext &context) override
    {
        const int now = ++m_active;
        int seen = m_maxActive.load();
        while (now > seen && !m_maxActive.compare_exchange_weak(seen, now)) {
        }
        {
            QMutexLocker lock(&m_mutex);
            m_started.append({context.job().id, context.job().userId});
        }
        const int ms = context.payload().value(u"ms").toInt();
        for (int i = 0; i < ms && !context.isCancelled(); ++i)
            QThread::msleep(1);
        --m_active;
        return context.isCancelled() ? JobOutcome::cancelled() : JobOutcome::completed();
    }
    QList<std::pair<qint64, qint64>> started() const
    {
        QMutexLocker lock(&m_mutex);
        return m_started;
    }
    int maxActive() const { return m_maxActive.load(); }

private:
    mutable QMutex m_mutex;
    QList<std::pair<qint64, qint64>> m_started; // (job, user)
    std::atomic<int> m_active{0};
    std::atomic<int> m_maxActive{0};
};

// Fails as the payload says: {"kind": "transient" | "permanent" | "storage" | "throw"}.
class FailingHandler final : public JobHandler
{
public:
    JobOutcome run(JobContext &context) override
    {
        const QString kind = context.payload().value(u"kind").toString();
        if (kind == u"throw")
            throw std::runtime_error("boom");
        if (kind == u"storage") // as a store's failure inside a migration
            return JobOutcome::transientError(makeError(ErrorCode::Storage,
                                                        QStringLiteral("disk I/O error"),
                                                        QStringLiteral("Check the disk.")));
        if (kind == u"permanent")
            return JobOutcome::permanentError(
                makeError(ErrorCode::InvalidArgument, QStringLiteral("bad input")));
        return JobOutcome::transientError(
            makeError(ErrorCode::Unavailable, QStringLiteral("try later")));
    }
};

// Runs until cancelled (or, with {"ignoreCancel": ms}, ignores it for that long).
class BlockingHandler final : public JobHandler
{
public:
    JobOutcome run(JobContext &context) override
    {
        ++running;
        const int ignore = context.payload().value(u"ignoreCancel").toInt();
        if (ignore > 0) {
            QThread::msleep(ulong(ignore));
            --running;
            return JobOutcome::completed();
        }
        while (!context.isCancelled() && !release.load())
            QThread::msleep(1);
        --running;
        return context.isCancelled() ? JobOutcome::cancelled() : JobOutcome::completed();
    }
    std::atomic<int> running{0};
    std::atomic<bool> release{false};
};

// Runs until cancelled, then lingers until letGo (a handler finishing its batch), and returns
// what the payload says: {"end": "cancelled" (default) | "transient"}. For races between a
// cancel request and another reason to stop.
class LingeringHandler final : public JobHandler
{
public:
    JobOutcome run(JobContext &context) override
    {
        ++started;
        while (!context.isCancelled() && !letGo.load())
            QThread::msleep(1);
        ++stopping;
        while (!letGo.load())
            QThread::msleep(1);
        if (context.payload().value(u"end").toString() == u"transient")
            return JobOutcome::transientError(
                makeError(ErrorCode::Unavailable, QStringLiteral("busy")));
        return JobOutcome::cancelled();
    }
    std::atomic<int> started{0};
    std::atomic<int> stopping{0}; // saw its cancellation, still busy
    std::atomic<bool> letGo{false};
};

} // namespace Ferry::Test
