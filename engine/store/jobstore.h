#pragma once
// The job queue's rows: enqueue, claim, leases, and the reads of jobs (engine/queue/).

#include "core/error.h"
#include "store/records.h"

#include <QHash>

namespace Ferry {

class JobStore
{
public:
    virtual ~JobStore() = default;

    // enqueue() writes all or nothing; an equal unique key already pending or running
    // returns that job, flagged as deduplicated.
    virtual Result<QList<EnqueuedJob>> enqueue(const QList<NewJob> &jobs, qint64 now) = 0;
    // Writes back finished attempts (fenced by lease token), then claims up to request.limit
    // ready jobs by priority, fair rank between users, and age. One transaction.
    virtual Result<QList<ClaimedJob>> settleAndClaim(const QList<SettledAttempt> &settled,
                                                     const ClaimRequest &request) = 0;
    // How many settleAndClaim() calls of one dispatcher are worth running at once, each on a
    // thread (and so a connection) of its own: 1 where writes take turns anyway (SQLite's one
    // writer), more where the server runs them in parallel (PostgreSQL: one backend process
    // each; a cycle then overlaps the one before it instead of waiting for its round trip).
    virtual int parallelCycles() const { return 1; }
    // Extends the given leases, each only while the job is still running under that lease token
    // for this node; returns the ids of the jobs it still holds. An attempt missing from the
    // list lost its lease (rescued, perhaps running on another node now, or claimed again by
    // this one under a new token): the dispatcher stops it (CancelReason::LeaseLost).
    virtual Result<QList<qint64>>
    renewLeases(const QString &node, const QList<HeldLease> &leases, qint64 expiresAt) = 0;
    // Conflicts of this store's dispatch statements with other nodes' since it opened (only
    // PostgreSQL has any: SQLite has one writer).
    virtual DispatchConflicts dispatchConflicts() const { return {}; }
    // Running jobs of this node whose cancellation was requested (by any process).
    virtual Result<QList<qint64>> cancelRequested(const QString &node) = 0;
    // Only while the job still runs under leaseToken: a stale attempt's progress is dropped.
    virtual Result<void>
    saveProgress(qint64 jobId, qint64 leaseToken, const QJsonObject &progress) = 0;
    virtual Result<QList<RescuedJob>>
    rescueLeases(RescueScope scope, const QString &node, qint64 now) = 0;
    // Pending: cancelled now. Running: marked; the running node observes it. Returns the new
    // status (Cancelled or Running). NotFound when the job is not the user's; Conflict when
    // it already finished. userId empty: operator access to every user's jobs.
    virtual Result<JobStatus> cancelJob(qint64 jobId, std::optional<qint64> userId, qint64 now) = 0;
    virtual Result<void> retryJob(qint64 jobId, std::optional<qint64> userId, qint64 now) = 0;
    virtual Result<void> setPriority(qint64 jobId, std::optional<qint64> userId, int priority) = 0;

    virtual Result<std::optional<Job>> job(qint64 jobId, std::optional<qint64> userId) = 0;
    // The jobs with these ids, any user's (the caller scopes them), in no particular order; ids
    // that do not exist are absent. One statement on PostgreSQL: the API's batched reads
    // (api/batchedjobreads.h).
    virtual Result<QList<Job>> jobsByIds(const QList<qint64> &ids) = 0;
    virtual Result<QList<Job>> jobs(const JobFilter &filter) = 0;
    // jobs() of each filter, all read from one snapshot of the store: a job that changes while
    // they are read is in each list as it was at one instant, so the lists agree with each other
    // (the event streams compare them: api/jobeventhub.cpp).
    virtual Result<QList<QList<Job>>> jobLists(const QList<JobFilter> &filters) = 0;
    virtual Result<QList<JobAttempt>> attempts(qint64 jobId) = 0;
    virtual Result<QHash<JobStatus, qint64>> countByStatus() = 0;
    // Deletes up to batchSize finished jobs (and their attempts) finished before the cut-off.
    virtual Result<int> pruneFinished(qint64 finishedBefore, int batchSize) = 0;
    // Ageing: pending jobs ready since readyBefore (run_at) gain one priority step, up to
    // MaxPriority; at most `limit` jobs, those waiting longest first. Returns how many.
    virtual Result<int> agePendingJobs(qint64 readyBefore, int limit) = 0;

protected:
    JobStore() = default;
    Q_DISABLE_COPY_MOVE(JobStore)
};

} // namespace Ferry
