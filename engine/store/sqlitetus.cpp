// SqliteStore: the dialect's own part of resumable (tus) uploads (the rest is sqltus.cpp):
// marking an upload complete inside enqueue()'s transaction, on its native connection.
#include "sqlitestore.h"

#include "store/sqlitenative.h"

namespace Ferry {

// The upload becomes complete in the transaction that queues its job: never a job without the
// mark (a crash in between imported the file twice) nor a mark without the job. Only an
// incomplete upload: a second completion (another request, another node) changes nothing and
// learns the first one's job from the row.
Result<void> SqliteStore::markTusComplete(
    NativeConnection &db, const QString &id, const QString &sessionId, qint64 jobId, qint64 now)
{
    auto prepared = db.prepare(
        QStringLiteral("UPDATE tus_uploads SET session_id = ?1, job_id = ?2, quota = NULL, "
                       "offset = length, updated_at = ?3 WHERE id = ?4 AND job_id IS NULL"));
    if (!prepared)
        return prepared.error();
    NativeStatement q(*prepared);
    q.bind(1, sessionId).bind(2, jobId).bind(3, now).bind(4, id).step();
    if (q.failed())
        return q.error(QStringLiteral("completing upload %1").arg(id));
    if (q.changes() != 1) {
        return makeError(ErrorCode::Conflict,
                         QStringLiteral("Upload %1 is already complete, or gone.").arg(id),
                         QStringLiteral("Ask HEAD for its job."));
    }
    return {};
}

} // namespace Ferry
