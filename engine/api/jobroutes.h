#pragma once

#include "api/apiroute.h"
#include "api/batchedjobreads.h"
#include "api/jobwatcher.h"
#include "queue/jobqueue.h"
#include "store/store.h"

#include <memory>

namespace Ferry {

// The caller's jobs and upload sessions: /api/v1/jobs..., /api/v1/sessions/{id}. Every query is
// scoped by the authenticated user; another user's job or session is a 404.
class JobRoutes final : public ApiRouteGroup
{
public:
    // The longest ?wait= of GET /api/v1/jobs/{id}, and the largest page of GET /api/v1/jobs.
    static constexpr int MaxWaitSeconds = 60;
    static constexpr int MaxPageSize = 500;
    static constexpr int DefaultPageSize = 100;

    JobRoutes(Store &store, JobQueue &queue);
    // Answers what still waits (503) and stops the reader threads: destroy it after the HTTP
    // server, before the store.
    ~JobRoutes() override;
    QList<ApiRoute> routes() override;

    // Where long-polls are parked (tests look at parked()).
    JobWatcher &watcher() { return *m_watcher; }

private:
    void listJobs(const ApiCall &call);
    void getJob(const ApiCall &call);
    void cancelJob(const ApiCall &call);
    void retryJob(const ApiCall &call);
    void jobReport(const ApiCall &call);
    void getSession(const ApiCall &call);
    // The job id in the path, or nullopt after answering 404 (not a positive number).
    static std::optional<qint64> pathJobId(const ApiCall &call);
    // The caller's job named by the path, or nullopt after answering 404/503.
    std::optional<Job> callersJob(const ApiCall &call);

    Store &m_store;
    JobQueue &m_queue;
    std::unique_ptr<JobWatcher> m_watcher;
    std::unique_ptr<BatchedJobReads> m_batchedReads; // PostgreSQL; null on SQLite (reads inline)
};

} // namespace Ferry
