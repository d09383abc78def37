#pragma once

#include "store/records.h"

#include <QList>
#include <QString>

#include <optional>

namespace Ferry {

// The operator console's view of the jobs table (ui/jobs/): every user's jobs, filtered,
// searched and sorted on indexes (resources/migrations/sqlite/0008_console.sql), read in keyset
// pages. Both backends: engine/store/sqlconsole.cpp.

// Which jobs. Empty fields match everything.
struct ConsoleJobFilter
{
    std::optional<JobStatus> status;
    std::optional<qint64> userId;
    std::optional<QString> dataset; // the payload's "dataset"
    // Matched against the job id (equal, when the text is a number), the session id and the
    // upload's file name (both contain the text, case-insensitive for ASCII).
    QString search;
    std::optional<QList<qint64>> ids; // a selection: only these jobs
    std::optional<QString> sessionId; // the jobs reading this upload (DELETE /api/v1/sessions)
};

// Sort orders the console offers: each walks an index, so a page starts at its cursor.
enum class ConsoleJobSort {
    NewestFirst,  // id descending (id follows creation)
    OldestFirst,  // id ascending
    PriorityHigh, // priority descending, then id descending
    PriorityLow,  // priority ascending, then id ascending
};

// One page: rows after the cursor in the sort order. The cursor is the last row of the previous
// page (its id, and its priority for the priority orders); afterId 0 starts at the beginning.
struct ConsoleJobQuery
{
    ConsoleJobFilter filter;
    ConsoleJobSort sort = ConsoleJobSort::NewestFirst;
    qint64 afterId = 0;
    int afterPriority = 0;
    int limit = 500;
};

struct ConsoleJobRow
{
    qint64 id = 0;
    qint64 userId = 0;
    QString userName;
    QString sessionId;
    QString fileName;
    QString dataset;
    QString type;
    JobStatus status = JobStatus::Pending;
    int priority = 0;
    int attempts = 0;
    int maxAttempts = 0;
    bool cancelRequested = false;
    qint64 progressDone = 0;
    qint64 progressTotal = 0; // 0: unknown
    QString progressUnit;
    QString error;
    qint64 createdAt = 0;
    qint64 startedAt = 0;
    qint64 finishedAt = 0;
};

enum class ConsoleBulkAction {
    Cancel,         // pending: cancelled; running: cancellation requested
    Retry,          // failed, dead or cancelled: pending again, attempts reset
    SetPriority,    // priority = value
    AdjustPriority, // priority += value, kept within MinPriority..MaxPriority
    // Completed, failed, cancelled or dead: deleted with attempts and row errors. A failed
    // migration whose undo has not run yet stays (its checkpoint finds its rows; as retention).
    // Also DELETE /api/v1/jobs/{id} and /api/v1/sessions/{id} (engine/api/jobdeleteroutes.h).
    DeleteFinished,
};

struct ConsoleBulkResult
{
    int changed = 0;                // jobs the action changed
    QList<qint64> runningCancelled; // Cancel: running jobs now asked to stop (wake their node)
};

// A job that ended failed or dead, and when (Store::failedJobsAfter).
struct FailedJobRow
{
    qint64 id = 0;
    JobStatus status = JobStatus::Failed;
    qint64 finishedAt = 0;
};

// A place in the order jobs ended: (finished_at, id). Rows after it come next.
struct FailedJobCursor
{
    qint64 finishedAt = 0;
    qint64 id = 0;
};

} // namespace Ferry
