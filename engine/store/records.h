#pragma once

#include <QJsonObject>
#include <QList>
#include <QString>
#include <QtGlobal>

#include <functional>
#include <optional>

namespace Ferry {

// Plain values the store reads and writes. Every row that belongs to a user carries userId.

enum class JobStatus { Pending, Running, Completed, Failed, Cancelled, Dead };

QString jobStatusName(JobStatus status);
std::optional<JobStatus> jobStatusFromName(const QString &name);
bool isTerminal(JobStatus status);

// Priorities run from lowest to highest; higher runs first.
inline constexpr int MinPriority = -100;
inline constexpr int MaxPriority = 100;

struct User
{
    qint64 id = 0;
    QString name;
    QString tier;
    bool disabled = false;
    qint64 createdAt = 0;
};

struct UploadSession
{
    QString id; // unique per upload (a UUID)
    qint64 userId = 0;
    QString fileName;
    QString contentType;
    qint64 sizeBytes = 0;
    QString blobId; // SHA-256 of the stored content
    qint64 createdAt = 0;
};

// What a caller asks to enqueue. Zero or negative fields mean "the queue's default".
struct NewJob
{
    qint64 userId = 0;
    QString sessionId; // empty: no upload session
    QString type;
    QJsonObject payload;
    int priority = 0;
    qint64 runAt = 0;      // ms since epoch; 0 = now
    int maxAttempts = 0;   // 0 = default
    qint64 timeoutMs = -1; // -1 = default, 0 = no timeout
    QString uniqueKey;     // empty: no deduplication
    // An upload session opened in the same transaction as the job (sessionId is then its id).
    std::optional<UploadSession> session;
    // A resumable (tus) upload this job completes: in the same transaction the upload is marked
    // complete with this job and session (Conflict, and nothing written, when it already is or
    // is gone), so a job is queued exactly once per upload (store/sqlitetus.cpp).
    QString completesTusUpload;
};

struct EnqueuedJob
{
    qint64 id = 0;
    bool deduplicated = false; // an equal unique key was already pending or running
};

struct JobProgress
{
    qint64 done = 0;
    qint64 total = 0; // 0 = unknown
    QString unit;     // "bytes", "rows", "ms", ...
    QJsonObject detail;
};

struct Job
{
    qint64 id = 0;
    qint64 userId = 0;
    QString sessionId;
    QString type;
    QJsonObject payload;
    JobStatus status = JobStatus::Pending;
    int priority = 0;
    int attempts = 0;
    int maxAttempts = 0;
    qint64 runAt = 0;
    qint64 timeoutMs = 0;
    QString uniqueKey;
    QString leaseOwner;
    qint64 leaseExpiresAt = 0;
    bool cancelRequested = false;
    QJsonObject progress;
    QString error;
    QJsonObject result;
    qint64 createdAt = 0;
    qint64 startedAt = 0;
    qint64 finishedAt = 0;
};

// A job handed to this node to run; leaseToken fences its completion.
struct ClaimedJob
{
    qint64 id = 0;
    qint64 userId = 0;
    QString sessionId;
    QString type;
    QJsonObject payload;
    int priority = 0;
    int attempt = 0; // 1 for the first run
    int maxAttempts = 0;
    qint64 timeoutMs = 0;
    qint64 leaseToken = 0;
    qint64 createdAt = 0;
    qint64 startedAt = 0;
};

// How often this process's dispatch statements met another node's (PostgreSQL; issue 17):
// deadlocks detected (SQLSTATE 40P01), statements run again after a deadlock or a serialization
// failure, and finished attempts whose settle waited for a row another transaction held for a
// moment (settled right after, in a statement of their own). The cycle is deadlock-free by
// construction, so the first two stay 0; /metrics shows all three.
struct DispatchConflicts
{
    qint64 deadlocks = 0;
    qint64 reruns = 0;
    qint64 deferredSettles = 0;
};

struct ClaimRequest
{
    QString node;
    int limit = 0;
    qint64 now = 0;
    qint64 leaseMs = 0;
    int maxPerUser = 0; // skip users with this many running jobs; 0 = no cap
    // When set, the store reads the cap here once it holds its write lock (instead of
    // maxPerUser), so a cap changed while the claim waited still applies to it.
    std::function<int()> maxPerUserNow = {};
    // Global concurrency limit across nodes (--cluster-max-running): the claim takes at most this
    // many minus the jobs running cluster-wide, counted under a lock; 0 = no limit.
    int clusterMaxRunning = 0;
    // The operator's pause (setting queue.paused) is read by the claim itself, under its lock:
    // a pause committed by another process or node before the claim began stops it, whatever
    // this node's copy of the flag says. Called (SQLite) when the pause refused a claim, so the
    // caller can catch up at once; PostgreSQL nodes hear it by NOTIFY (ferry_pause).
    std::function<void()> claimPaused = {};
};

// One attempt's lease as the node holding it knows it (renewed by token, not by owner).
struct HeldLease
{
    qint64 jobId = 0;
    qint64 leaseToken = 0;
};

// The end of one attempt, written back in a batch. newStatus is Pending for a retry (runAt set)
// or for a lease released at shutdown (releaseAttempt: the attempt is not counted).
struct SettledAttempt
{
    qint64 jobId = 0;
    qint64 userId = 0;
    qint64 leaseToken = 0;
    int attempt = 0;
    qint64 startedAt = 0;
    qint64 finishedAt = 0;
    JobStatus newStatus = JobStatus::Completed;
    QString outcome; // attempt history: completed, failed, error, timeout, cancelled, released
    QString error;
    QJsonObject result;
    QJsonObject progress; // the last progress reported, if it changed since the last flush
    qint64 retryAt = 0;
    bool releaseAttempt = false;
};

struct JobAttempt
{
    qint64 jobId = 0;
    int attempt = 0;
    QString node;
    qint64 startedAt = 0;
    qint64 finishedAt = 0;
    QString outcome;
    QString error;
};

struct RescuedJob
{
    qint64 id = 0;
    JobStatus newStatus = JobStatus::Pending;
};

struct JobFilter
{
    std::optional<qint64> userId;
    std::optional<JobStatus> status;
    // Jobs whose payload names this dataset ("dataset": migrations into it).
    std::optional<QString> dataset;
    qint64 afterId = 0;       // cursor: jobs with a larger id (oldest first)
    bool newestFirst = false; // then afterId is ignored and beforeId pages backwards
    qint64 beforeId = 0;      // 0: from the newest
    int limit = 100;
};

enum class RescueScope {
    ExpiredLeases,  // leases whose expiry has passed (their node stopped renewing)
    AllButThisNode, // every running job not leased by this node (single-node start-up)
};

} // namespace Ferry
