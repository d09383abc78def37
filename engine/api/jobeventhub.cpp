#include "api/jobeventhub.h"

#include "api/jobjson.h"

#include <QElapsedTimer>
#include <QLoggingCategory>
#include <QMap>
#include <QMutex>
#include <QPromise>
#include <QSet>
#include <QTimer>

#include <algorithm>
#include <mutex>
#include <unordered_map>

namespace Ferry {

namespace {

Q_LOGGING_CATEGORY(lcEvents, "ferry.api.events")

// New jobs of a user read per poll at most: a burst beyond comes at the next polls.
constexpr int MaxNewJobsPerPoll = 2'000;

QFuture<Http::StreamChunk> ready(Http::StreamChunk chunk)
{
    QPromise<Http::StreamChunk> promise;
    QFuture<Http::StreamChunk> future = promise.future();
    promise.start();
    promise.addResult(std::move(chunk));
    promise.finish();
    return future;
}

qint64 steadyMs()
{
    static const QElapsedTimer clock = [] {
        QElapsedTimer timer;
        timer.start();
        return timer;
    }();
    return clock.elapsed();
}

// What a user's streams were last told of one pending or running job.
struct Seen
{
    JobStatus status = JobStatus::Pending;
    int attempts = 0;
    QJsonObject progress;
    qint64 lastEventMs = 0;
};

// One subscribed user: the newest job id seen and the active jobs as last told.
struct Tracker
{
    qint64 maxId = 0;
    QHash<qint64, Seen> seen;
};

} // namespace

struct JobEventSubscriber
{
    qint64 userId = 0;
    QMap<qint64, QByteArray> queued;   // event id -> the event's text, oldest first
    QHash<qint64, qint64> queuedByJob; // job id -> its queued event's id (latest state only)
    std::optional<QPromise<Http::StreamChunk>> waiting; // the connection waits for a chunk
    qint64 waitingSinceMs = 0;
    bool started = false;
    bool ended = false;

    void fulfil(Http::StreamChunk chunk)
    {
        waiting->addResult(std::move(chunk));
        waiting->finish();
        waiting.reset();
    }
    QByteArray takeQueued()
    {
        QByteArray out;
        for (const QByteArray &event : std::as_const(queued))
            out += event;
        queued.clear();
        queuedByJob.clear();
        return out;
    }
};

// Shared by the hub, its thread side and the open streams (which may outlive the hub).
struct JobEventHubState
{
    explicit JobEventHubState(JobEventHubOptions o) : options(o) {}

    const JobEventHubOptions options;
    QMutex mutex; // everything below up to pollMutex
    std::unordered_map<qint64, JobEventSubscriber> subscribers;
    QHash<qint64, int> perUser; // open streams per user
    qint64 nextStreamId = 1;
    qint64 nextEventId = 0;
    bool stopped = false;

    std::mutex pollMutex; // held for a whole poll, and while a first stream reads its baseline
    std::unordered_map<qint64, Tracker> trackers; // by user

    // An event of the user's job for each of the user's streams. Under mutex.
    void publish(const Job &job)
    {
        const qint64 id = ++nextEventId;
        std::string text = "id: " + std::to_string(id) + "\nevent: job\ndata: ";
        appendJobJson(text, job);
        text += "\n\n";
        const QByteArray event(text.data(), qsizetype(text.size()));
        for (auto &[streamId, subscriber] : subscribers) {
            if (subscriber.userId != job.userId || subscriber.ended)
                continue;
            if (subscriber.waiting) {
                subscriber.fulfil(Http::StreamChunk::bytes(event));
                continue;
            }
            // The client is not reading (or the connection is writing the last chunk): keep
            // the latest state of each job only.
            if (auto it = subscriber.queuedByJob.find(job.id); it != subscriber.queuedByJob.end())
                subscriber.queued.remove(it.value());
            subscriber.queued.insert(id, event);
            subscriber.queuedByJob.insert(job.id, id);
            if (subscriber.queued.size() > options.maxQueuedJobs) {
                qCInfo(lcEvents) << "event stream of user" << job.userId
                                 << "ended: its client reads too slowly";
                subscriber.ended = true;
                subscriber.queued.clear();
                subscriber.queuedByJob.clear();
            }
        }
    }
};

// The hub's thread side: the timer that polls the store and sends keep-alives.
class JobEventHubSide final : public QObject
{
public:
    JobEventHubSide(JobStore &store, std::shared_ptr<JobEventHubState> state)
        : m_store(store), m_state(std::move(state))
    {
        m_timer.setInterval(int(
            std::min(m_state->options.pollInterval, m_state->options.keepAliveInterval).count()));
        connect(&m_timer, &QTimer::timeout, this, &JobEventHubSide::tick);
        m_soon.setSingleShot(true);
        connect(&m_soon, &QTimer::timeout, this, &JobEventHubSide::tick);
        m_timer.start();
    }

    void pollSoon()
    {
        const qint64 gap = m_state->options.minPollGap.count();
        const qint64 since = steadyMs() - m_lastPollMs;
        if (since >= gap)
            tick();
        else if (!m_soon.isActive())
            m_soon.start(int(gap - since));
    }

    void tick()
    {
        m_lastPollMs = steadyMs();
        poll();
        keepAlive();
    }

    // Reads what a user's first stream compares the next poll with. Under pollMutex.
    static Result<Tracker> baseline(JobStore &store, qint64 userId, int maxTracked)
    {
        JobFilter newest;
        newest.userId = userId;
        newest.newestFirst = true;
        newest.limit = 1;
        // One snapshot: a job that starts meanwhile is either in the pending list or in the
        // running one, never in neither (then its end would never be told).
        auto lists = store.jobLists({newest, activeJobs(userId, JobStatus::Running, maxTracked),
                                     activeJobs(userId, JobStatus::Pending, maxTracked)});
        if (!lists)
            return lists.error();
        Tracker tracker;
        if (!lists->at(0).isEmpty())
            tracker.maxId = lists->at(0).first().id;
        for (qsizetype i = 1; i < lists->size(); ++i) {
            for (const Job &job : lists->at(i))
                tracker.seen.insert(job.id, {job.status, job.attempts, job.progress, 0});
        }
        return tracker;
    }

    // A user's newest jobs in one active status: the ones a stream watches.
    static JobFilter activeJobs(qint64 userId, JobStatus status, int maxTracked)
    {
        JobFilter active;
        active.userId = userId;
        active.status = status;
        active.newestFirst = true;
        active.limit = maxTracked;
        return active;
    }

private:
    void poll()
    {
        std::lock_guard pollLock(m_state->pollMutex);
        QList<qint64> users;
        {
            QMutexLocker lock(&m_state->mutex);
            if (m_state->stopped)
                return;
            for (auto it = m_state->trackers.begin(); it != m_state->trackers.end();) {
                if (m_state->perUser.value(it->first) == 0) {
                    it = m_state->trackers.erase(it); // its last stream closed
                } else {
                    users.append(it->first);
                    ++it;
                }
            }
        }
        for (qint64 user : std::as_const(users)) {
            auto changed = changes(user, m_state->trackers[user]);
            if (!changed) {
                // The streams stay; the next poll tries again.
                qCWarning(lcEvents)
                    << "reading jobs for event streams:" << changed.error().toString();
                continue;
            }
            if (changed->isEmpty())
                continue;
            QMutexLocker lock(&m_state->mutex);
            for (const Job &job : std::as_const(*changed))
                m_state->publish(job);
        }
    }

    // The user's jobs that changed since the last poll, oldest first; updates the tracker.
    Result<QList<Job>> changes(qint64 userId, Tracker &tracker)
    {
        const JobEventHubOptions &options = m_state->options;
        QHash<qint64, Job> now;
        QSet<qint64> listed; // in the pending or running list: watched from now on
        // New jobs (a bounded number per poll: the rest come at the next) and the active lists,
        // from one snapshot. Read one after the other, a job that started (or ended) between
        // two reads was in neither active list: told, but no longer watched, so its end was
        // never told.
        JobFilter created;
        created.userId = userId;
        created.afterId = tracker.maxId;
        created.limit = MaxNewJobsPerPoll;
        auto lists = m_store.jobLists(
            {created, activeJobs(userId, JobStatus::Running, options.maxTrackedJobs),
             activeJobs(userId, JobStatus::Pending, options.maxTrackedJobs)});
        if (!lists)
            return lists.error();
        for (const Job &job : lists->at(0)) {
            tracker.maxId = std::max(tracker.maxId, job.id);
            now.insert(job.id, job);
        }
        for (qsizetype i = 1; i < lists->size(); ++i) {
            for (const Job &job : lists->at(i)) {
                now.insert(job.id, job);
                listed.insert(job.id);
            }
        }
        // Jobs told as active that are no longer in the lists: ended, or beyond the lists (then
        // no longer watched, so `seen` stays within the lists' bounds). One read each.
        for (auto it = tracker.seen.begin(); it != tracker.seen.end();) {
            if (now.contains(it.key())) {
                ++it;
                continue;
            }
            auto job = m_store.job(it.key(), userId);
            if (!job)
                return job.error();
            if (!job->has_value()) {
                it = tracker.seen.erase(it); // deleted
                continue;
            }
            now.insert(it.key(), std::move(**job));
            ++it;
        }
        QList<qint64> ids = now.keys();
        std::sort(ids.begin(), ids.end());
        const qint64 nowMs = steadyMs();
        QList<Job> changed;
        for (qint64 id : std::as_const(ids)) {
            const Job &job = now[id];
            auto seen = tracker.seen.find(id);
            bool tell = seen == tracker.seen.end();
            if (!tell) {
                tell = seen->status != job.status || seen->attempts != job.attempts ||
                       (seen->progress != job.progress &&
                        nowMs - seen->lastEventMs >= options.progressInterval.count());
            }
            if (tell)
                changed.append(job);
            if (isTerminal(job.status) || !listed.contains(id)) {
                if (seen != tracker.seen.end())
                    tracker.seen.erase(seen);
            } else if (tell) {
                tracker.seen.insert(id, {job.status, job.attempts, job.progress, nowMs});
            }
        }
        return changed;
    }

    void keepAlive()
    {
        const qint64 due = steadyMs() - m_state->options.keepAliveInterval.count();
        QMutexLocker lock(&m_state->mutex);
        for (auto &[id, subscriber] : m_state->subscribers) {
            if (subscriber.waiting && subscriber.waitingSinceMs <= due)
                subscriber.fulfil(Http::StreamChunk::bytes(QByteArrayLiteral(": keepalive\n\n")));
        }
    }

    JobStore &m_store;
    std::shared_ptr<JobEventHubState> m_state;
    QTimer m_timer{this};
    QTimer m_soon{this};
    qint64 m_lastPollMs = 0;
};

JobEventStream::JobEventStream(std::shared_ptr<JobEventHubState> state, qint64 id)
    : m_state(std::move(state)), m_id(id)
{}

JobEventStream::~JobEventStream()
{
    QMutexLocker lock(&m_state->mutex);
    auto it = m_state->subscribers.find(m_id);
    if (it == m_state->subscribers.end())
        return;
    if (it->second.waiting)
        it->second.fulfil(Http::StreamChunk::end()); // nobody awaits it any more; end it anyway
    if (--m_state->perUser[it->second.userId] <= 0)
        m_state->perUser.remove(it->second.userId);
    m_state->subscribers.erase(it);
}

QFuture<Http::StreamChunk> JobEventStream::next()
{
    QMutexLocker lock(&m_state->mutex);
    auto it = m_state->subscribers.find(m_id);
    if (it == m_state->subscribers.end() || it->second.ended)
        return ready(Http::StreamChunk::end());
    JobEventSubscriber &subscriber = it->second;
    if (!subscriber.started) {
        // At once, so the client knows the stream is open: a comment, and how long to wait
        // before reconnecting.
        subscriber.started = true;
        return ready(Http::StreamChunk::bytes(QByteArrayLiteral(": ferry job events\nretry: "
                                                                "3000\n\n")));
    }
    if (!subscriber.queued.isEmpty())
        return ready(Http::StreamChunk::bytes(subscriber.takeQueued()));
    subscriber.waiting.emplace();
    subscriber.waiting->start();
    subscriber.waitingSinceMs = steadyMs();
    return subscriber.waiting->future();
}

JobEventHub::JobEventHub(JobStore &store, JobEventHubOptions options)
    : m_store(store), m_options(options), m_state(std::make_shared<JobEventHubState>(options))
{
    m_thread.setObjectName(QStringLiteral("ferry-events"));
    m_side = new JobEventHubSide(store, m_state);
    m_side->moveToThread(&m_thread);
    m_thread.start();
}

JobEventHub::~JobEventHub()
{
    stop();
    JobEventHubSide *side = m_side;
    QMetaObject::invokeMethod(
        side, [side] { delete side; }, Qt::BlockingQueuedConnection);
    m_side = nullptr;
    m_thread.quit();
    m_thread.wait();
}

Result<JobEventHub::Subscription> JobEventHub::subscribe(qint64 userId)
{
    const auto refusal = [this, userId]() -> Refusal {
        if (m_state->stopped)
            return Refusal::Stopped;
        if (m_state->perUser.value(userId) >= m_options.maxStreamsPerUser)
            return Refusal::UserLimit;
        if (int(m_state->subscribers.size()) >= m_options.maxStreams)
            return Refusal::TotalLimit;
        return Refusal::None;
    };
    {
        QMutexLocker lock(&m_state->mutex);
        if (const Refusal refused = refusal(); refused != Refusal::None)
            return Subscription{refused, nullptr};
    }
    std::lock_guard pollLock(m_state->pollMutex);
    if (!m_state->trackers.contains(userId)) {
        auto tracker = JobEventHubSide::baseline(m_store, userId, m_options.maxTrackedJobs);
        if (!tracker)
            return tracker.error();
        m_state->trackers.emplace(userId, std::move(*tracker));
    }
    QMutexLocker lock(&m_state->mutex);
    if (const Refusal refused = refusal(); refused != Refusal::None)
        return Subscription{refused, nullptr};
    const qint64 id = m_state->nextStreamId++;
    m_state->subscribers[id].userId = userId;
    ++m_state->perUser[userId];
    return Subscription{Refusal::None, std::make_shared<JobEventStream>(m_state, id)};
}

void JobEventHub::wake()
{
    QMetaObject::invokeMethod(
        m_side, [side = m_side] { side->pollSoon(); }, Qt::QueuedConnection);
}

void JobEventHub::stop()
{
    QMutexLocker lock(&m_state->mutex);
    m_state->stopped = true;
    for (auto &[id, subscriber] : m_state->subscribers) {
        subscriber.ended = true;
        subscriber.queued.clear();
        subscriber.queuedByJob.clear();
        if (subscriber.waiting)
            subscriber.fulfil(Http::StreamChunk::end());
    }
}

int JobEventHub::openStreams() const
{
    QMutexLocker lock(&m_state->mutex);
    return int(m_state->subscribers.size());
}

} // namespace Ferry
