#pragma once

#include "api/apiroute.h"
#include "store/jobstore.h"

#include <QThread>

#include <atomic>
#include <chrono>
#include <memory>

namespace Ferry {

class JobWatcherSide;

// Parks long-polls (GET /api/v1/jobs/{id}?wait=N) without holding a thread per request: the
// parked calls sit in a list on a thread of the watcher's own, whose one timer re-reads each
// watched job's row every interval (one indexed read per job, shared by its waiters) and answers
// a call as soon as the job's status or attempts (and, when the caller asks, its progress) differ
// from what the caller was shown, or at its deadline with the job as it is then. Reading the row,
// rather than listening to the dispatcher, also sees changes made by other processes (shell
// commands, other nodes); keeping those reads off the network thread keeps the plain GET of a job
// as fast as before. A call whose client disconnected is dropped at the next tick; the timer runs
// only while calls wait.
class JobWatcher final
{
public:
    explicit JobWatcher(JobStore &store,
                        std::chrono::milliseconds interval = std::chrono::milliseconds(200));
    // Answers parked calls whose client is still connected with 503 (the server is stopping)
    // and stops the thread. Destroy it after the HTTP server (then no client is left), and
    // before the store.
    ~JobWatcher();
    Q_DISABLE_COPY_MOVE(JobWatcher)

    // Any thread. Answers call with {"success": true, "job": ...} once the job differs from seen
    // (status, attempts; progress too when withProgress) or when wait has passed; 404 if the job
    // disappeared.
    void watch(const ApiCall &call,
               const Job &seen,
               std::chrono::milliseconds wait,
               bool withProgress = false);
    // Calls parked now (tests, diagnostics).
    int parked() const { return m_parked.load(); }

private:
    std::atomic<int> m_parked{0};
    QThread m_thread;
    JobWatcherSide *m_side = nullptr; // lives on m_thread
};

} // namespace Ferry
