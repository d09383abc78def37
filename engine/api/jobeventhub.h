#pragma once

#include "http/httptypes.h"
#include "store/jobstore.h"

#include <QFuture>
#include <QThread>

#include <chrono>
#include <memory>

namespace Ferry {

struct JobEventHubState;
class JobEventHubSide;

struct JobEventHubOptions
{
    int maxStreamsPerUser = 4;
    int maxStreams = 256;
    // The store is read this often while streams are open, and at most every minPollGap when
    // woken (a local enqueue, start or end; a NOTIFY from another node).
    std::chrono::milliseconds pollInterval{1000};
    std::chrono::milliseconds minPollGap{250};
    // At most one progress-only event per job this often (a status change goes out at once).
    std::chrono::milliseconds progressInterval{1000};
    std::chrono::milliseconds keepAliveInterval{15'000};
    // Pending and running jobs watched per user (each, the newest): a job beyond is seen when it
    // starts or when it is new.
    int maxTrackedJobs = 500;
    // Jobs with an event waiting for a stream whose client does not read (latest state per job):
    // beyond this the stream ends, and the client reconnects and re-lists.
    int maxQueuedJobs = 1000;
};

// One open event stream (GET /api/v1/events). Its next() is the HTTP response's producer (see
// Http::ResponseStream): called on the network thread, it never blocks; the chunk comes when an
// event or a keep-alive is due. Destroying it (the connection is gone) unsubscribes.
class JobEventStream final
{
public:
    JobEventStream(std::shared_ptr<JobEventHubState> state, qint64 id);
    ~JobEventStream();
    Q_DISABLE_COPY_MOVE(JobEventStream)

    QFuture<Http::StreamChunk> next();

private:
    std::shared_ptr<JobEventHubState> m_state;
    qint64 m_id;
};

// Tells open event streams about their user's jobs: created, status changes, ends (with result
// or error) and progress (throttled), each as the job's JSON of GET /api/v1/jobs/{id}. It reads
// the store, not in-process signals, so changes made by other nodes and processes reach the
// streams too: on a thread of its own (`ferry-events`), while streams are open, every
// pollInterval and when woken, it re-reads each subscribed user's new, pending and running jobs
// (three indexed reads per user, from one snapshot so that a job that changes meanwhile is in
// one list or another, never in none; shared by that user's streams) and compares them with
// what it saw last. A stream whose client does not read keeps only the latest state per job.
class JobEventHub final
{
public:
    enum class Refusal {
        None,
        UserLimit,  // maxStreamsPerUser reached: 429
        TotalLimit, // maxStreams reached: 503
        Stopped,    // the server is stopping: 503
    };
    struct Subscription
    {
        Refusal refusal = Refusal::None;
        std::shared_ptr<JobEventStream> stream;
    };

    explicit JobEventHub(JobStore &store, JobEventHubOptions options = {});
    // stop()s, then ends the thread. Streams may outlive the hub (they end at once).
    ~JobEventHub();
    Q_DISABLE_COPY_MOVE(JobEventHub)

    // A worker thread (it reads the store when this is the user's first stream, so the stream
    // sees every change from its first byte on).
    Result<Subscription> subscribe(qint64 userId);
    // Any thread: something may have changed; poll soon (at most every minPollGap).
    void wake();
    // Ends every stream (their last chunk goes out) and refuses new ones. Call before the HTTP
    // server closes, so the clients see a clean end.
    void stop();
    int openStreams() const;
    const JobEventHubOptions &options() const { return m_options; }

private:
    JobStore &m_store;
    const JobEventHubOptions m_options;
    std::shared_ptr<JobEventHubState> m_state;
    QThread m_thread;
    JobEventHubSide *m_side = nullptr; // lives on m_thread
};

} // namespace Ferry
