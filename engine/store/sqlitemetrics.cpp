// SqliteStore: the resource monitor's persisted history and the queue depth it samples.
#include "sqlitestore.h"

#include "store/sharedrows.h"
#include "store/sqlhelpers.h"

#include <QSqlQuery>

namespace Ferry {

namespace {

const QString &s_metricColumns = SharedRows::metricColumns;

using SharedRows::sampleFrom;

} // namespace

Result<void> SqliteStore::saveMetricSamples(MetricResolution resolution,
                                            const QList<ResourceSample> &samples,
                                            qint64 pruneBefore)
{
    const std::lock_guard writer(m_writeMutex);
    auto db = this->db();
    if (!db)
        return db.error();
    SqlTransaction transaction(*db);
    if (auto begun = transaction.begin(); !begun)
        return begun.error();
    QSqlQuery q(*db);
    q.prepare(QStringLiteral("INSERT OR REPLACE INTO metric_samples (resolution, ") +
              s_metricColumns +
              QStringLiteral(") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
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
    QSqlQuery prune(*db);
    prune.prepare(QStringLiteral("DELETE FROM metric_samples WHERE resolution = ? AND ts < ?"));
    prune.addBindValue(int(resolution));
    prune.addBindValue(pruneBefore);
    if (!prune.exec())
        return sqlError(prune, QStringLiteral("pruning resource samples"));
    return transaction.commit();
}

Result<QList<ResourceSample>> SqliteStore::metricSamples(MetricResolution resolution, qint64 since)
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

Result<qint64> SqliteStore::pendingJobCount()
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
