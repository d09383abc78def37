#include "api/jobwatcher.h"

#include "api/jobjson.h"

#include <QDeadlineTimer>
#include <QTimer>

#include <unordered_map>
#include <vector>

namespace Ferry {

// The watcher's thread side: the parked calls and the timer that re-reads their jobs.
class JobWatcherSide final : public QObject
{
public:
    JobWatcherSide(JobStore &store, std::chrono::milliseconds interval, std::atomic<int> &parked)
        : m_store(store), m_parked(parked)
    {
        m_timer.setInterval(interval);
        connect(&m_timer, &QTimer::timeout, this, &JobWatcherSide::tick);
    }

    struct Wait
    {
        ApiCall call;
        qint64 jobId = 0;
        qint64 userId = 0;
        JobStatus status = JobStatus::Pending;
        int attempts = 0;
        QJsonObject progress;
        QDeadlineTimer deadline;
        bool withProgress = false;
    };

    void add(Wait wait)
    {
        m_waits.push_back(std::move(wait));
        if (!m_timer.isActive())
            m_timer.start();
    }

    // Shutdown: nobody will re-read these jobs; tell the clients still there to ask again. Once
    // the server is gone (the usual order) every client is: nothing is answered, and nothing
    // touches the ApiHandler, which may be gone too.
    void releaseAll()
    {
        m_timer.stop();
        for (Wait &wait : m_waits) {
            if (wait.call.clientGone())
                continue;
            wait.call.respond(Api::error(
                503, "Unavailable",
                QStringLiteral("The server is stopping. Ask again for job %1.").arg(wait.jobId),
                "unavailable"));
        }
        m_parked -= int(m_waits.size());
        m_waits.clear();
    }

private:
    void tick()
    {
        // One read per job this tick, however many calls wait for it.
        std::unordered_map<qint64, Result<std::optional<Job>>> read;
        std::vector<Wait> keep;
        keep.reserve(m_waits.size());
        for (Wait &wait : m_waits) {
            if (wait.call.clientGone() || wait.call.answered())
                continue; // the client went away: free the wait
            auto it = read.find(wait.jobId);
            if (it == read.end())
                it = read.emplace(wait.jobId, m_store.job(wait.jobId, std::nullopt)).first;
            const Result<std::optional<Job>> &job = it->second;
            if (!job) {
                wait.call.respond(Api::fromError(job.error()));
                continue;
            }
            if (!job->has_value() || (*job)->userId != wait.userId) {
                wait.call.respond(Api::error(
                    404, "Not found",
                    QStringLiteral("You have no job %1 (it was deleted while you waited).")
                        .arg(wait.jobId),
                    "not_found"));
                continue;
            }
            const Job &now = **job;
            const bool changed = now.status != wait.status || now.attempts != wait.attempts ||
                                 (wait.withProgress && now.progress != wait.progress);
            if (changed || wait.deadline.hasExpired()) {
                wait.call.respond(Api::jsonText(200, jobBody(now)));
                continue;
            }
            keep.push_back(std::move(wait));
        }
        m_parked -= int(m_waits.size() - keep.size());
        m_waits = std::move(keep);
        if (m_waits.empty())
            m_timer.stop();
    }

    JobStore &m_store;
    std::atomic<int> &m_parked;
    QTimer m_timer{this};
    std::vector<Wait> m_waits;
};

JobWatcher::JobWatcher(JobStore &store, std::chrono::milliseconds interval)
{
    m_thread.setObjectName(QStringLiteral("ferry-jobwatch"));
    m_side = new JobWatcherSide(store, interval, m_parked);
    m_side->moveToThread(&m_thread);
    m_thread.start();
}

JobWatcher::~JobWatcher()
{
    JobWatcherSide *side = m_side;
    QMetaObject::invokeMethod(
        side,
        [side] {
            side->releaseAll();
            delete side; // its timer stops with it, on its own thread
        },
        Qt::BlockingQueuedConnection);
    m_side = nullptr;
    m_thread.quit();
    m_thread.wait();
}

void JobWatcher::watch(const ApiCall &call,
                       const Job &seen,
                       std::chrono::milliseconds wait,
                       bool withProgress)
{
    JobWatcherSide::Wait parked{call,          seen.id,       seen.userId,          seen.status,
                                seen.attempts, seen.progress, QDeadlineTimer(wait), withProgress};
    ++m_parked;
    QMetaObject::invokeMethod(
        m_side,
        [side = m_side, parked = std::move(parked)]() mutable { side->add(std::move(parked)); },
        Qt::QueuedConnection);
}

} // namespace Ferry
