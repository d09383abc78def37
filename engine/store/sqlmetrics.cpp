// SqlStore: the resource monitor's persisted history and the queue depth it samples.
#include "sqlstore.h"

#include "store/sharedrows.h"
#include "store/sqlhelpers.h"

#include <QSqlQuery>

namespace Ferry {

namespace {

const QString &s_metricColumns = SharedRows::metricColumns;

// A sample of the same second (or minute) replaces the older one (what SQLite's INSERT OR
// REPLACE did, written so that both dialects accept it).
const QString s_metricUpdates = QStringLiteral(
    "rss_bytes = excluded.rss_bytes, cpu_percent = excluded.cpu_percent, "
    "mem_total_bytes = excluded.mem_total_bytes, "
    "mem_available_bytes = excluded.mem_available_bytes, "
    "free_disk_bytes = excluded.free_disk_bytes, active_jobs = excluded.active_jobs, "
    "concurrency_limit = excluded.concurrency_limit, configured_max = excluded.configured_max, "
    "queue_depth = excluded.queue_depth, jobs_completed_per_min = excluded.jobs_completed_per_min, "
    "http_requests_per_s = excluded.http_requests_per_s, "
    "http_429_per_s = excluded.http_429_per_s");

using SharedRows::sampleFrom;

} // namespace

Result<void> SqlStore::saveMetricSamples(MetricResolution resolution,
                                         const QList<ResourceSample> &samples,
                                         qint64 pruneBefore)
{
    WriteTransaction write(*this);
    if (auto begun = write.begin(); !begun)
        return begun.error();
    QSqlQuery q(write.db());
    q.prepare(QStringLiteral("INSERT INTO metric_samples (resolution, ") + s_metricColumns +
              QStringLiteral(") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                             "ON CONFLICT (resolution, ts) DO UPDATE SET ") +
              s_metricUpdates);
    for (const ResourceSample &s : samples) {
        q.addBindValue(int(resolution));
        q.addBindValue(s.timestampMs);
        q.addBindValue(s.rssBytes);
        q.addBindValue(s.cpuPercent);
        q.addBindValue(s.systemMemTotalBytes);
        q.addBindValue(s.systemMemAvailableBytes);
        q.addBindValue(s.freeDiskBytes);
        q.addBindValue(s.activeJobs);
        q.addBindValue(s.concurrencyLimit);
        q.addBindValue(s.configuredMax);
        q.addBindValue(s.queueDepth);
        q.addBindValue(s.jobsCompletedPerMin);
        q.addBindValue(s.httpRequestsPerSec);
        q.addBindValue(s.http429PerSec);
        if (!q.exec())
            return sqlError(q, QStringLiteral("saving resource samples"));
    }
    QSqlQuery prune(write.db());
    prune.prepare(QStringLiteral("DELETE FROM metric_samples WHERE resolution = ? AND ts < ?"));
    prune.addBindValue(int(resolution));
    prune.addBindValue(pruneBefore);
    if (!prune.exec())
        return sqlError(prune, QStringLiteral("pruning resource samples"));
    return write.commit();
}

Result<QList<ResourceSample>> SqlStore::metricSamples(MetricResolution resolution, qint64 since)
{
    auto db = this->db();
    if (!db)
        return db.error();
    QSqlQuery q(*db);
    q.setForwardOnly(true);
    q.prepare(QStringLiteral("SELECT ") + s_metricColumns +
              QStringLiteral(" FROM metric_samples WHERE resolution = ? AND ts >= ? ORDER BY ts"));
    q.addBindValue(int(resolution));
    q.addBindValue(since);
    if (!q.exec())
        return sqlError(q, QStringLiteral("reading resource samples"));
    QList<ResourceSample> result;
    while (q.next())
        result.append(sampleFrom(q));
    return result;
}

Result<qint64> SqlStore::pendingJobCount()
{
    // Answered from the partial index jobs_ready (status = 'pending'), not a table scan.
    auto db = this->db();
    if (!db)
        return db.error();
    QSqlQuery q(*db);
    if (!q.exec(QStringLiteral("SELECT count(*) FROM jobs WHERE status = 'pending'")) || !q.next())
        return sqlError(q, QStringLiteral("counting pending jobs"));
    return q.value(0).toLongLong();
}

} // namespace Ferry
