// PostgresStore: the dialect's own part of resumable (tus) uploads (the rest is sqltus.cpp):
// marking an upload complete inside enqueue()'s transaction, on QPSQL's connection.
#include "postgresstore.h"

#include "store/sqlhelpers.h"

#include <QSqlQuery>

namespace Ferry {

// Inside enqueue()'s transaction, as SqliteStore::markTusComplete (sqlitetus.cpp, which says
// why): only an incomplete upload becomes complete, with its job.
Result<void> PostgresStore::markTusComplete(
    QSqlDatabase &db, const QString &id, const QString &sessionId, qint64 jobId, qint64 now)
{
    QSqlQuery q(db);
    q.prepare(
        QStringLiteral("UPDATE tus_uploads SET session_id = ?, job_id = ?, quota = NULL, "
                       "\"offset\" = length, updated_at = ? WHERE id = ? AND job_id IS NULL"));
    q.addBindValue(sessionId);
    q.addBindValue(jobId);
    q.addBindValue(now);
    q.addBindValue(id);
    if (!q.exec())
        return sqlError(q, QStringLiteral("completing upload %1").arg(id));
    if (q.numRowsAffected() != 1) {
        return makeError(ErrorCode::Conflict,
                         QStringLiteral("Upload %1 is already complete, or gone.").arg(id),
                         QStringLiteral("Ask HEAD for its job."));
    }
    return {};
}

} // namespace Ferry
