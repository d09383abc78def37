#pragma once
// Row mappers and column lists that mean the same on SQLite and PostgreSQL, shared by SqliteStore
// and PostgresStore (the jobs' own are in jobrows.h). Each mapper reads the columns of its
// list, in that order.

#include "core/error.h"

#include <QJsonArray>
#include <QJsonObject>
#include <QString>

class QSqlDatabase;
class QSqlQuery;

namespace Ferry {

struct DatasetInfo;
struct IdempotencyKey;
struct ResourceSample;
struct TusUploadRecord;

namespace SharedRows {

extern const QString userColumns;    // users: id, name, tier, disabled, created_at
extern const QString keyColumns;     // idempotency_keys, for keyFrom
extern const QString datasetColumns; // datasets d, with the record count, for datasetFrom
extern const QString metricColumns;  // metric_samples, for sampleFrom

// tus_uploads in the order id, user_id, length, offset, metadata, quota, session_id, job_id,
// created_at, updated_at (each store names the columns: PostgreSQL quotes "offset").
TusUploadRecord tusFrom(const QSqlQuery &q);
// A dataset's columns after an import: those it had, then the import's new ones, in order.
QJsonArray mergedColumns(const QJsonArray &have, const QJsonArray &add);
// A dataset's column types after an import: each column's types, then the import's type where
// it is new for that column (`add`: column name → type name).
QJsonObject mergedTypes(const QJsonObject &have, const QJsonObject &add);
// DatasetStore::setColumns inside the caller's transaction: reads the dataset's columns and
// types (`rowLock` appended to the SELECT: PostgreSQL's FOR NO KEY UPDATE), writes the merge.
Result<void> addColumns(QSqlDatabase &db,
                        qint64 datasetId,
                        const QJsonArray &columns,
                        const QJsonObject &types,
                        qint64 now,
                        const QString &rowLock);
// DatasetStore::useKey's refusals, worded once for both stores.
Error keyedByAnother(const QString &current, const QString &field);
Error recordWithoutKey(const QString &field, qint64 count);
Error recordsShareKey(const QString &field, const QString &value);
IdempotencyKey keyFrom(const QSqlQuery &q);
DatasetInfo datasetFrom(const QSqlQuery &q);
ResourceSample sampleFrom(const QSqlQuery &q);

} // namespace SharedRows
} // namespace Ferry
