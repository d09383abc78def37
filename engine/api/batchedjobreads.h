#pragma once

#include "core/error.h"
#include "store/records.h"

#include <QThread>

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace Ferry {

class JobStore;

// GET /api/v1/jobs/{id} on PostgreSQL without a thread per request waiting for the database:
// the network thread hands each read here and goes on; one reader thread of its own sends every
// read waiting at that moment as one statement (JobStore::jobsByIds: `id = ANY(...)`), and
// answers each from its rows. While a statement is out, the next reads gather, so under load a
// round trip serves dozens of requests, and the server runs one statement for them instead of
// one each. Every answer is read after its request arrived: nothing is cached.
//
// What waits is bounded by the requests the HTTP server admits (its connection caps); a batch is
// at most MaxBatch ids (more wait for the next). Thread-safe.
class BatchedJobReads final
{
public:
    static constexpr int MaxBatch = 500;
    // The job (any user's: the caller checks whose), nullopt when there is none, or the store's
    // error. Runs on the reader thread.
    using Done = std::function<void(Result<std::optional<Job>> job)>;

    explicit BatchedJobReads(JobStore &store);
    // Answers what still waits with Unavailable (the server is stopping) and stops the thread,
    // after the statement under way, if any.
    ~BatchedJobReads();
    Q_DISABLE_COPY_MOVE(BatchedJobReads)

    // Any thread; never waits for the store.
    void read(qint64 jobId, Done done);

    // Statements sent so far (tests: reads gather).
    qint64 statements() const;

private:
    struct Pending
    {
        qint64 jobId;
        Done done;
    };
    void run();
    void answer(std::vector<Pending> &batch);

    JobStore &m_store;
    mutable std::mutex m_mutex;
    std::condition_variable m_wake;
    std::vector<Pending> m_pending;
    bool m_stopping = false;
    qint64 m_statements = 0;
    std::unique_ptr<QThread> m_thread;
};

} // namespace Ferry
