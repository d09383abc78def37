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

// The cluster's samples (clusterMetricSamples): one row per series and second (or minute) first,
// its highest values (a series that sampled twice in one second counts once), then the series
// summed, averaged or compared per bucket, in sampleFrom's column order. CASE ... END without
// ELSE leaves out a value the series did not know (-1); COALESCE gives -1 when none knew it.
// Binds: bucket ms (twice), resolution, since.
const QString s_clusterSamples = QStringLiteral(
    "SELECT bucket, "
    "COALESCE(CAST(SUM(CASE WHEN rss >= 0 THEN rss END) AS BIGINT), -1), "
    "COALESCE(CAST(AVG(CASE WHEN cpu >= 0 THEN cpu END) AS DOUBLE PRECISION), -1), "
    "COALESCE(CAST(SUM(CASE WHEN mem_total >= 0 THEN mem_total END) AS BIGINT), -1), "
    "COALESCE(CAST(SUM(CASE WHEN mem_available >= 0 THEN mem_available END) AS BIGINT), -1), "
    "COALESCE(CAST(MIN(CASE WHEN free_disk >= 0 THEN free_disk END) AS BIGINT), -1), "
    "CAST(SUM(active) AS BIGINT), CAST(SUM(limit_now) AS BIGINT), "
    "CAST(SUM(configured) AS BIGINT), CAST(MAX(depth) AS BIGINT), "
    "CAST(SUM(completed) AS DOUBLE PRECISION), CAST(SUM(requests) AS DOUBLE PRECISION), "
    "CAST(SUM(limited) AS DOUBLE PRECISION) "
    "FROM (SELECT node, ts / ? * ? AS bucket, MAX(rss_bytes) AS rss, MAX(cpu_percent) AS cpu, "
    "MAX(mem_total_bytes) AS mem_total, MAX(mem_available_bytes) AS mem_available, "
    "MAX(free_disk_bytes) AS free_disk, MAX(active_jobs) AS active, "
    "MAX(concurrency_limit) AS limit_now, MAX(configured_max) AS configured, "
    "MAX(queue_depth) AS depth, MAX(jobs_completed_per_min) AS completed, "
    "MAX(http_requests_per_s) AS requests, MAX(http_429_per_s) AS limited "
    "FROM metric_samples WHERE resolution = ? AND ts >= ? GROUP BY node, bucket) per_series "
    "GROUP BY bucket ORDER BY bucket");

} // namespace

Result<void> SqlStore::saveMetricSamples(MetricResolution resolution,
                                         const QString &series,
                                         const QList<ResourceSample> &samples,
                                         qint64 pruneBefore)
{
    WriteTransaction write(*this);
    if (auto begun = write.begin(); !begun)
        return begun.error();
    QSqlQuery q(write.db());
    q.prepare(QStringLiteral("INSERT INTO metric_samples (resolution, node, ") + s_metricColumns +
              QStringLiteral(") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                             "ON CONFLICT (resolution, node, ts) DO UPDATE SET ") +
              s_metricUpdates);
    // A null QString binds as SQL NULL (QPSQL); the column is NOT NULL.
    const QString node = series.isNull() ? QStringLiteral("") : series;
    for (const ResourceSample &s : samples) {
        q.addBindValue(int(resolution));
        q.addBindValue(node);
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

Result<QList<ResourceSample>>
SqlStore::metricSamples(MetricResolution resolution, const QString &series, qint64 since)
{
    auto db = this->db();
    if (!db)
        return db.error();
    QSqlQuery q(*db);
    q.setForwardOnly(true);
    q.prepare(QStringLiteral("SELECT ") + s_metricColumns +
              QStringLiteral(" FROM metric_samples WHERE resolution = ? AND node = ? AND ts >= ? "
                             "ORDER BY ts"));
    q.addBindValue(int(resolution));
    q.addBindValue(series.isNull() ? QStringLiteral("") : series);
    q.addBindValue(since);
    if (!q.exec())
        return sqlError(q, QStringLiteral("reading resource samples"));
    QList<ResourceSample> result;
    while (q.next())
        result.append(sampleFrom(q));
    return result;
}

Result<QList<ResourceSample>> SqlStore::clusterMetricSamples(MetricResolution resolution,
                                                             qint64 since)
{
    auto db = this->db();
    if (!db)
        return db.error();
    QSqlQuery q(*db);
    q.setForwardOnly(true);
    q.prepare(s_clusterSamples);
    const qint64 bucketMs = qint64(resolution) * 1000;
    q.addBindValue(bucketMs);
    q.addBindValue(bucketMs);
    q.addBindValue(int(resolution));
    q.addBindValue(since);
    if (!q.exec())
        return sqlError(q, QStringLiteral("reading the cluster's resource samples"));
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
