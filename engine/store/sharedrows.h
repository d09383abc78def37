#pragma once
// Row mappers and column lists that mean the same on SQLite and PostgreSQL, shared by SqliteStore
// and PostgresStore (the jobs' own are in jobrows.h). Each mapper reads the columns of its
// list, in that order.

#include "core/error.h"

#include <QJsonArray>
#include <QJsonObject>
#include <QString>

class QSqlQuery;

namespace Ferry {

struct IdempotencyKey;
struct ResourceSample;
struct TusUploadRecord;

namespace SharedRows {

extern const QString userColumns;   // users: id, name, tier, disabled, created_at
extern const QString keyColumns;    // idempotency_keys, for keyFrom
extern const QString metricColumns; // metric_samples, for sampleFrom

// tus_uploads in the order id, user_id, length, offset, metadata, quota, session_id, job_id,
// created_at, updated_at (each store names the columns: PostgreSQL quotes "offset").
TusUploadRecord tusFrom(const QSqlQuery &q);
// DatasetStore::useKey's refusal of another key (sqldatasets.cpp), also the upload reruns'
// (migrate/uploadreruns.cpp).
Error keyedByAnother(const QString &current, const QString &field);
IdempotencyKey keyFrom(const QSqlQuery &q);
ResourceSample sampleFrom(const QSqlQuery &q);

} // namespace SharedRows
} // namespace Ferry
