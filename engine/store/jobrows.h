#pragma once

#include "core/error.h"
#include "store/records.h"
#include "store/sqlvalues.h"

#include <QSqlQuery>

namespace Ferry {

// The job row mapper of both stores (SqlStore, and each dialect's own fast reads): the column
// list of a jobs row, its decoder over Qt SQL and over SQLite's C API, and the "not found" error.

// Reading a jobs row: the column list and the matching decoder.
inline const QString s_jobColumns = QStringLiteral(
    "id, user_id, session_id, type, payload, status, priority, attempts, max_attempts, run_at, "
    "timeout_ms, unique_key, lease_owner, lease_expires_at, cancel_requested, progress, error, "
    "result, created_at, started_at, finished_at");

// The same decoder over SQLite's C API (hot reads: the API's GET of one job).
template<typename Row>
Job jobFromNative(const Row &q)
{
    Job job;
    job.id = q.int64(0);
    job.userId = q.int64(1);
    job.sessionId = q.text(2);
    job.type = q.text(3);
    job.payload = jsonObject(q.text(4));
    job.status = jobStatusFromName(q.text(5)).value_or(JobStatus::Pending);
    job.priority = int(q.int64(6));
    job.attempts = int(q.int64(7));
    job.maxAttempts = int(q.int64(8));
    job.runAt = q.int64(9);
    job.timeoutMs = q.int64(10);
    job.uniqueKey = q.text(11);
    job.leaseOwner = q.text(12);
    job.leaseExpiresAt = q.int64(13);
    job.cancelRequested = q.int64(14) != 0;
    job.progress = jsonObject(q.text(15));
    job.error = q.text(16);
    job.result = jsonObject(q.text(17));
    job.createdAt = q.int64(18);
    job.startedAt = q.int64(19);
    job.finishedAt = q.int64(20);
    return job;
}

inline Job jobFrom(const QSqlQuery &q)
{
    Job job;
    job.id = q.value(0).toLongLong();
    job.userId = q.value(1).toLongLong();
    job.sessionId = q.value(2).toString();
    job.type = q.value(3).toString();
    job.payload = jsonObject(q.value(4));
    job.status = jobStatusFromName(q.value(5).toString()).value_or(JobStatus::Pending);
    job.priority = q.value(6).toInt();
    job.attempts = q.value(7).toInt();
    job.maxAttempts = q.value(8).toInt();
    job.runAt = q.value(9).toLongLong();
    job.timeoutMs = q.value(10).toLongLong();
    job.uniqueKey = q.value(11).toString();
    job.leaseOwner = q.value(12).toString();
    job.leaseExpiresAt = q.value(13).toLongLong();
    job.cancelRequested = q.value(14).toBool();
    job.progress = jsonObject(q.value(15));
    job.error = q.value(16).toString();
    job.result = jsonObject(q.value(17));
    job.createdAt = q.value(18).toLongLong();
    job.startedAt = q.value(19).toLongLong();
    job.finishedAt = q.value(20).toLongLong();
    return job;
}

inline Error notFound(qint64 jobId)
{
    return makeError(ErrorCode::NotFound, QStringLiteral("Job %1 not found.").arg(jobId),
                     QStringLiteral("Check the job id."));
}

} // namespace Ferry
