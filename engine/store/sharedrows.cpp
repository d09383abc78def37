#include "sharedrows.h"

#include "store/datasetstore.h"
#include "store/idempotencykey.h"
#include "store/resourcesample.h"
#include "store/sqlhelpers.h"
#include "store/tusuploadrecord.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSet>
#include <QSqlQuery>
#include <QVariant>

namespace Ferry::SharedRows {

const QString keyColumns =
    QStringLiteral("user_id, key, request_hash, blob_id, session_id, job_id, response, created_at");

const QString datasetColumns = QStringLiteral(
    "d.id, d.name, d.columns, d.created_at, d.updated_at, "
    "(SELECT count(*) FROM records r WHERE r.id BETWEEN d.id << 40 AND ((d.id + 1) << 40) - 1), "
    "d.key_field, d.column_types");

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

QJsonArray mergedColumns(const QJsonArray &have, const QJsonArray &add)
{
    QJsonArray merged = have;
    QSet<QString> seen;
    for (const QJsonValue &column : have)
        seen.insert(column.toString());
    for (const QJsonValue &column : add) {
        if (!seen.contains(column.toString())) {
            seen.insert(column.toString());
            merged.append(column);
        }
    }
    return merged;
}

QJsonObject mergedTypes(const QJsonObject &have, const QJsonObject &add)
{
    QJsonObject merged = have;
    for (auto it = add.begin(); it != add.end(); ++it) {
        QJsonArray types = merged.value(it.key()).toArray();
        if (!types.contains(it.value())) {
            types.append(it.value());
            merged.insert(it.key(), types);
        }
    }
    return merged;
}

Result<void> addColumns(QSqlDatabase &db,
                        qint64 datasetId,
                        const QJsonArray &columns,
                        const QJsonObject &types,
                        qint64 now,
                        const QString &rowLock)
{
    QSqlQuery q(db);
    q.prepare(QStringLiteral("SELECT columns, column_types FROM datasets WHERE id = ?") + rowLock);
    q.addBindValue(datasetId);
    if (!q.exec())
        return sqlError(q, QStringLiteral("reading the columns of a dataset"));
    QJsonArray haveColumns;
    QJsonObject haveTypes;
    if (q.next()) {
        haveColumns = QJsonDocument::fromJson(q.value(0).toString().toUtf8()).array();
        haveTypes = QJsonDocument::fromJson(q.value(1).toString().toUtf8()).object();
    }
    q.finish();
    const QJsonObject mergedTypeMap = mergedTypes(haveTypes, types);
    q.prepare(QStringLiteral(
        "UPDATE datasets SET columns = ?, column_types = ?, updated_at = ? WHERE id = ?"));
    q.addBindValue(QString::fromUtf8(
        QJsonDocument(mergedColumns(haveColumns, columns)).toJson(QJsonDocument::Compact)));
    q.addBindValue(mergedTypeMap.isEmpty()
                       ? QVariant(QMetaType::fromType<QString>())
                       : QVariant(QString::fromUtf8(
                             QJsonDocument(mergedTypeMap).toJson(QJsonDocument::Compact))));
    q.addBindValue(now);
    q.addBindValue(datasetId);
    if (!q.exec())
        return sqlError(q, QStringLiteral("saving the columns of a dataset"));
    return {};
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

Error recordWithoutKey(const QString &field, qint64 count)
{
    return makeError(ErrorCode::Conflict,
                     QStringLiteral("The dataset cannot be keyed by \"%1\": %2 of its records "
                                    "have no value for it.")
                         .arg(field)
                         .arg(count),
                     QStringLiteral("Import into another dataset, or delete this one first."));
}

Error recordsShareKey(const QString &field, const QString &value)
{
    return makeError(ErrorCode::Conflict,
                     QStringLiteral("The dataset cannot be keyed by \"%1\": several of its "
                                    "records have the value %2.")
                         .arg(field, value),
                     QStringLiteral("A key must be unique. Import into another dataset, or "
                                    "delete this one first."));
}

DatasetInfo datasetFrom(const QSqlQuery &q)
{
    DatasetInfo info;
    info.id = q.value(0).toLongLong();
    info.name = q.value(1).toString();
    info.columns = QJsonDocument::fromJson(q.value(2).toString().toUtf8()).array();
    info.createdAt = q.value(3).toLongLong();
    info.updatedAt = q.value(4).toLongLong();
    info.records = q.value(5).toLongLong();
    info.key = q.value(6).toString();
    info.columnTypes = QJsonDocument::fromJson(q.value(7).toString().toUtf8()).object();
    return info;
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
