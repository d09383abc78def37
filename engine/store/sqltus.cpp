// SqlStore: resumable (tus) uploads in progress (table tus_uploads, migration 0005). OFFSET is
// a reserved word in PostgreSQL: the column is always "offset" (SQLite reads a double-quoted
// name as a column too). Marking an upload complete inside enqueue()'s transaction
// (markTusComplete) runs on each dialect's own connection: sqlitetus.cpp, postgrestus.cpp.
#include "sqlstore.h"

#include "store/sharedrows.h"
#include "store/sqlhelpers.h"

#include <QJsonDocument>
#include <QSqlQuery>

namespace Ferry {

namespace {

const QString s_tusColumns = QStringLiteral("id, user_id, length, \"offset\", metadata, quota, "
                                            "session_id, job_id, created_at, updated_at");

QString jsonText(const QJsonObject &object)
{
    return QString::fromUtf8(QJsonDocument(object).toJson(QJsonDocument::Compact));
}

using SharedRows::tusFrom;

} // namespace

Result<void> SqlStore::insertTusUpload(const TusUploadRecord &upload)
{
    const auto turn = writeTurn();
    auto db = this->db();
    if (!db)
        return db.error();
    QSqlQuery q(*db);
    q.prepare(QStringLiteral("INSERT INTO tus_uploads (") + s_tusColumns +
              QStringLiteral(") VALUES (?, ?, ?, ?, ?, ?, NULL, NULL, ?, ?)"));
    q.addBindValue(upload.id);
    q.addBindValue(upload.userId);
    q.addBindValue(upload.length);
    q.addBindValue(upload.offset);
    q.addBindValue(jsonText(upload.metadata));
    q.addBindValue(upload.quota.isEmpty() ? QVariant(QMetaType(QMetaType::QString))
                                          : QVariant(jsonText(upload.quota)));
    q.addBindValue(upload.createdAt);
    q.addBindValue(upload.updatedAt);
    if (!q.exec())
        return sqlError(q, QStringLiteral("creating upload %1").arg(upload.id));
    return {};
}

Result<std::optional<TusUploadRecord>> SqlStore::tusUpload(const QString &id,
                                                           std::optional<qint64> userId)
{
    auto db = this->db();
    if (!db)
        return db.error();
    QSqlQuery q(*db);
    q.prepare(QStringLiteral("SELECT ") + s_tusColumns +
              QStringLiteral(" FROM tus_uploads WHERE id = ?"));
    q.addBindValue(id);
    if (!q.exec())
        return sqlError(q, QStringLiteral("reading upload %1").arg(id));
    std::optional<TusUploadRecord> upload;
    if (q.next() && (!userId || q.value(1).toLongLong() == *userId))
        upload = tusFrom(q);
    return upload;
}

Result<void> SqlStore::setTusOffset(const QString &id, qint64 offset, qint64 now)
{
    const auto turn = writeTurn();
    auto db = this->db();
    if (!db)
        return db.error();
    QSqlQuery q(*db);
    q.prepare(QStringLiteral("UPDATE tus_uploads SET \"offset\" = ?, updated_at = ? WHERE id = ?"));
    q.addBindValue(offset);
    q.addBindValue(now);
    q.addBindValue(id);
    if (!q.exec())
        return sqlError(q, QStringLiteral("recording the offset of upload %1").arg(id));
    return {};
}

Result<void>
SqlStore::completeTusUpload(const QString &id, const QString &sessionId, qint64 jobId, qint64 now)
{
    const auto turn = writeTurn();
    auto db = this->db();
    if (!db)
        return db.error();
    QSqlQuery q(*db);
    q.prepare(QStringLiteral("UPDATE tus_uploads SET session_id = ?, job_id = ?, quota = NULL, "
                             "\"offset\" = length, updated_at = ? WHERE id = ?"));
    q.addBindValue(sessionId);
    q.addBindValue(jobId);
    q.addBindValue(now);
    q.addBindValue(id);
    if (!q.exec())
        return sqlError(q, QStringLiteral("completing upload %1").arg(id));
    return {};
}

Result<void> SqlStore::deleteTusUpload(const QString &id)
{
    const auto turn = writeTurn();
    auto db = this->db();
    if (!db)
        return db.error();
    QSqlQuery q(*db);
    q.prepare(QStringLiteral("DELETE FROM tus_uploads WHERE id = ?"));
    q.addBindValue(id);
    if (!q.exec())
        return sqlError(q, QStringLiteral("deleting upload %1").arg(id));
    return {};
}

Result<QList<TusUploadRecord>> SqlStore::staleTusUploads(qint64 updatedBefore, int limit)
{
    auto db = this->db();
    if (!db)
        return db.error();
    QSqlQuery q(*db);
    q.prepare(QStringLiteral("SELECT ") + s_tusColumns +
              QStringLiteral(" FROM tus_uploads WHERE updated_at < ? ORDER BY updated_at LIMIT ?"));
    q.addBindValue(updatedBefore);
    q.addBindValue(limit);
    if (!q.exec())
        return sqlError(q, QStringLiteral("listing expired uploads"));
    QList<TusUploadRecord> uploads;
    while (q.next())
        uploads.append(tusFrom(q));
    return uploads;
}

} // namespace Ferry
