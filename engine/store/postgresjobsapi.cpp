// PostgresStore: the upload API's read of a session's job (port of sqlitejobsapi.cpp's
// sessionJob; recordPage belongs with the dataset methods, postgrespendingdatasets.cpp).
#include "postgresstore.h"

#include "store/sqlhelpers.h"

#include <QSqlQuery>

namespace Ferry {

Result<std::optional<SessionJob>> PostgresStore::sessionJob(const QString &sessionId)
{
    // jobs_session index; a retried upload keeps its job, so the newest is the one that counts.
    auto q = prepared(QStringLiteral(
        "SELECT id, status FROM jobs WHERE session_id = ? ORDER BY id DESC LIMIT 1"));
    if (!q)
        return q.error();
    QSqlQuery &query = **q;
    query.bindValue(0, sessionId);
    if (!query.exec())
        return sqlError(query,
                        QStringLiteral("reading the job of upload session %1").arg(sessionId));
    std::optional<SessionJob> result;
    if (query.next()) {
        result =
            SessionJob{query.value(0).toLongLong(),
                       jobStatusFromName(query.value(1).toString()).value_or(JobStatus::Pending)};
    }
    query.finish();
    return result;
}

} // namespace Ferry
