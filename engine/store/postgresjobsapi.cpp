// PostgresStore: the hot reads of the upload and job API (one job, a batch of jobs, a session's
// job), through statements prepared once per thread (ConnectionPool::statement), as
// sqlitejobsapi.cpp reads them through SQLite's C API. recordPage belongs with the dataset reads
// (postgresrecords.cpp); the rest of the jobs' reads are SqlStore's (sqljobqueries.cpp).
#include "postgresstore.h"

#include "store/jobrows.h"
#include "store/postgresarrays.h"
#include "store/sqlhelpers.h"

#include <QSqlQuery>

namespace Ferry {

Result<std::optional<Job>> PostgresStore::job(qint64 jobId, std::optional<qint64> userId)
{
    auto q = prepared(QStringLiteral("SELECT ") + s_jobColumns +
                      QStringLiteral(" FROM jobs WHERE id = ?"));
    if (!q)
        return q.error();
    QSqlQuery &query = **q;
    query.bindValue(0, jobId);
    if (!query.exec())
        return sqlError(query, QStringLiteral("reading job %1").arg(jobId));
    std::optional<Job> result;
    if (query.next()) {
        Job job = jobFrom(query);
        if (!userId || job.userId == *userId)
            result = std::move(job);
    }
    query.finish();
    return result;
}

Result<QList<Job>> PostgresStore::jobsByIds(const QList<qint64> &ids)
{
    QList<Job> jobs;
    if (ids.isEmpty())
        return jobs;
    // The ids as one array: one statement, read through the primary key, for any batch size.
    auto q = prepared(QStringLiteral("SELECT ") + s_jobColumns +
                      QStringLiteral(" FROM jobs WHERE id = ANY(?::bigint[])"));
    if (!q)
        return q.error();
    QSqlQuery &query = **q;
    query.bindValue(0, bigintArray(ids));
    if (!query.exec())
        return sqlError(query, QStringLiteral("reading %1 jobs").arg(ids.size()));
    jobs.reserve(ids.size());
    while (query.next())
        jobs.append(jobFrom(query));
    query.finish();
    return jobs;
}

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
