#include "sharedrows.h"

#include "store/idempotencykey.h"
#include "store/resourcesample.h"
#include "store/sqlhelpers.h"
#include "store/tusuploadrecord.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSqlQuery>
#include <QVariant>

namespace Ferry::SharedRows {

const QString keyColumns =
    QStringLiteral("user_id, key, request_hash, blob_id, session_id, job_id, response, created_at");

const QString metricColumns =
    QStringLiteral("ts, rss_bytes, cpu_percent, mem_total_bytes, mem_available_bytes, "
                   "free_disk_bytes, active_jobs, concurrency_limit, configured_max, queue_depth, "
                   "jobs_completed_per_min, http_requests_per_s, http_429_per_s");

const QString userColumns = QStringLiteral("id, name, tier, disabled, created_at");

TusUploadRecord tusFrom(const QSqlQuery &q)
{
    TusUploadRecord upload;
    upload.id = q.value(0).toString();
    upload.userId = q.value(1).toLongLong();
    upload.length = q.value(2).toLongLong();
    upload.offset = q.value(3).toLongLong();
    upload.metadata = QJsonDocument::fromJson(q.value(4).toString().toUtf8()).object();
    upload.quota = QJsonDocument::fromJson(q.value(5).toString().toUtf8()).object();
    upload.sessionId = q.value(6).toString();
    upload.jobId = q.value(7).toLongLong();
    upload.createdAt = q.value(8).toLongLong();
    upload.updatedAt = q.value(9).toLongLong();
    return upload;
}

IdempotencyKey keyFrom(const QSqlQuery &q)
{
    IdempotencyKey record;
    record.userId = q.value(0).toLongLong();
    record.key = q.value(1).toString();
    record.requestHash = q.value(2).toString().toLatin1();
    record.blobId = q.value(3).toString();
    record.sessionId = q.value(4).toString();
    record.jobId = q.value(5).toLongLong();
    record.response = q.value(6).toString().toUtf8();
    record.createdAt = q.value(7).toLongLong();
    return record;
}

Error keyedByAnother(const QString &current, const QString &field)
{
    return makeError(ErrorCode::Conflict,
                     QStringLiteral("The dataset is keyed by \"%1\"; this import names \"%2\" "
                                    "as its key.")
                         .arg(current, field),
                     QStringLiteral("Import with key=%1 (or without a key: the dataset's is "
                                    "used), or into another dataset.")
                         .arg(current));
}

ResourceSample sampleFrom(const QSqlQuery &q)
{
    ResourceSample s;
    s.timestampMs = q.value(0).toLongLong();
    s.rssBytes = q.value(1).toLongLong();
    s.cpuPercent = q.value(2).toDouble();
    s.systemMemTotalBytes = q.value(3).toLongLong();
    s.systemMemAvailableBytes = q.value(4).toLongLong();
    s.freeDiskBytes = q.value(5).toLongLong();
    s.activeJobs = q.value(6).toInt();
    s.concurrencyLimit = q.value(7).toInt();
    s.configuredMax = q.value(8).toInt();
    s.queueDepth = q.value(9).toLongLong();
    s.jobsCompletedPerMin = q.value(10).toDouble();
    s.httpRequestsPerSec = q.value(11).toDouble();
    s.http429PerSec = q.value(12).toDouble();
    return s;
}

} // namespace Ferry::SharedRows
