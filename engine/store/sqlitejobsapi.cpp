// SqliteStore: the hot reads of the upload and job API (one job, a session's job, dataset record
// pages), through SQLite's C API (sqlitenative.h); the rest of the jobs' reads are SqlStore's
// (sqljobqueries.cpp).
#include "sqlitestore.h"

#include "store/jobrows.h"
#include "store/sqlitenative.h"

#include <algorithm>

namespace Ferry {

namespace {

// A dataset's records live in [id << 40, ((id + 1) << 40) - 1] of the rowid space (see the
// schema, 0003_datasets.sql, and sqlitedatasets.cpp).
constexpr int DatasetShift = 40;

} // namespace

Result<std::optional<Job>> SqliteStore::job(qint64 jobId, std::optional<qint64> userId)
{
    auto native = NativeConnection::of(m_pool);
    if (!native)
        return native.error();
    static const QString sql =
        QStringLiteral("SELECT ") + s_jobColumns + QStringLiteral(" FROM jobs WHERE id = ?1");
    auto prepared = (*native)->prepare(sql);
    if (!prepared)
        return prepared.error();
    NativeStatement q(*prepared);
    q.bind(1, jobId);
    std::optional<Job> result;
    if (q.step()) {
        Job job = jobFromNative(q);
        if (!userId || job.userId == *userId)
            result = std::move(job);
    } else if (q.failed()) {
        return q.error(QStringLiteral("reading job %1").arg(jobId));
    }
    return result;
}

Result<QList<Job>> SqliteStore::jobsByIds(const QList<qint64> &ids)
{
    // A read of the page cache each: no round trip to save here.
    QList<Job> jobs;
    jobs.reserve(ids.size());
    for (const qint64 id : ids) {
        auto job = this->job(id, std::nullopt);
        if (!job)
            return job.error();
        if (*job)
            jobs.append(std::move(**job));
    }
    return jobs;
}

Result<std::optional<SessionJob>> SqliteStore::sessionJob(const QString &sessionId)
{
    auto native = NativeConnection::of(m_pool);
    if (!native)
        return native.error();
    // jobs_session index; a retried upload keeps its job, so the newest is the one that counts.
    auto prepared = (*native)->prepare(QStringLiteral(
        "SELECT id, status FROM jobs WHERE session_id = ?1 ORDER BY id DESC LIMIT 1"));
    if (!prepared)
        return prepared.error();
    NativeStatement q(*prepared);
    q.bind(1, sessionId);
    std::optional<SessionJob> result;
    if (q.step())
        result = SessionJob{q.int64(0), jobStatusFromName(q.text(1)).value_or(JobStatus::Pending)};
    else if (q.failed())
        return q.error(QStringLiteral("reading the job of upload session %1").arg(sessionId));
    return result;
}

Result<RecordPage> SqliteStore::recordPage(qint64 datasetId, qint64 afterId, int limit)
{
    auto native = NativeConnection::of(m_pool);
    if (!native)
        return native.error();
    auto prepared = (*native)->prepare(QStringLiteral(
        "SELECT id, doc FROM records WHERE id > ?1 AND id <= ?2 ORDER BY id LIMIT ?3"));
    if (!prepared)
        return prepared.error();
    const qint64 first = datasetId << DatasetShift;
    const qint64 last = ((datasetId + 1) << DatasetShift) - 1;
    RecordPage page;
    // The statement is reset when q goes out of scope: no read transaction outlives this call.
    NativeStatement q(*prepared);
    q.bind(1, std::max(afterId, first)).bind(2, last).bind(3, qint64(std::max(limit, 1)));
    while (q.step()) {
        page.lastId = q.int64(0);
        page.docs.emplace_back(q.utf8(1));
    }
    if (q.failed())
        return q.error(QStringLiteral("reading records of dataset %1").arg(datasetId));
    return page;
}

} // namespace Ferry
