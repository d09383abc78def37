// SqliteStore: the upload API's idempotency keys (resources/migrations/sqlite/0007).
#include "sqlitestore.h"

#include "store/sharedrows.h"
#include "store/sqlhelpers.h"

#include <QSqlQuery>

namespace Ferry {

namespace {

constexpr int PruneBatch = 1000;

const QString &s_keyColumns = SharedRows::keyColumns;

using SharedRows::keyFrom;

} // namespace

Result<std::optional<IdempotencyKey>>
SqliteStore::idempotencyKey(qint64 userId, const QString &key, qint64 notBefore)
{
    auto db = this->db();
    if (!db)
        return db.error();
    QSqlQuery q(*db);
    q.prepare(QStringLiteral("SELECT ") + s_keyColumns +
              QStringLiteral(" FROM idempotency_keys WHERE user_id = ? AND key = ? AND "
                             "created_at >= ?"));
    q.addBindValue(userId);
    q.addBindValue(key);
    q.addBindValue(notBefore);
    if (!q.exec())
        return sqlError(q, QStringLiteral("reading an idempotency key"));
    std::optional<IdempotencyKey> result;
    if (q.next())
        result = keyFrom(q);
    return result;
}

Result<std::optional<IdempotencyKey>>
SqliteStore::claimIdempotencyKey(const IdempotencyClaim &claim)
{
    // In-process writers queue here, not in SQLite's busy handler (see m_writeMutex).
    const std::lock_guard writer(m_writeMutex);
    auto db = this->db();
    if (!db)
        return db.error();
    SqlTransaction transaction(*db);
    if (auto begun = transaction.begin(); !begun)
        return begun.error();
    QSqlQuery q(*db);
    // Expired keys go in batches as new ones come (the created_at index finds them).
    q.prepare(QStringLiteral("DELETE FROM idempotency_keys WHERE rowid IN (SELECT rowid FROM "
                             "idempotency_keys WHERE created_at < ? LIMIT ?)"));
    q.addBindValue(claim.expiredBefore);
    q.addBindValue(PruneBatch);
    if (!q.exec())
        return sqlError(q, QStringLiteral("pruning expired idempotency keys"));
    q.prepare(QStringLiteral("DELETE FROM idempotency_keys WHERE user_id = ? AND key = ? AND "
                             "(created_at < ? OR (response IS NULL AND created_at < ?))"));
    q.addBindValue(claim.userId);
    q.addBindValue(claim.key);
    q.addBindValue(claim.expiredBefore);
    q.addBindValue(claim.staleBefore);
    if (!q.exec())
        return sqlError(q, QStringLiteral("dropping an abandoned idempotency key"));
    q.prepare(QStringLiteral("INSERT INTO idempotency_keys (user_id, key, request_hash, "
                             "blob_id, created_at) VALUES (?, ?, ?, ?, ?) "
                             "ON CONFLICT (user_id, key) DO NOTHING"));
    q.addBindValue(claim.userId);
    q.addBindValue(claim.key);
    q.addBindValue(QString::fromLatin1(claim.requestHash));
    q.addBindValue(claim.blobId);
    q.addBindValue(claim.now);
    if (!q.exec())
        return sqlError(q, QStringLiteral("claiming an idempotency key"));
    std::optional<IdempotencyKey> holder;
    if (q.numRowsAffected() != 1) {
        q.prepare(QStringLiteral("SELECT ") + s_keyColumns +
                  QStringLiteral(" FROM idempotency_keys WHERE user_id = ? AND key = ?"));
        q.addBindValue(claim.userId);
        q.addBindValue(claim.key);
        if (!q.exec() || !q.next())
            return sqlError(q, QStringLiteral("reading an idempotency key"));
        holder = keyFrom(q);
    }
    q.finish();
    if (auto committed = transaction.commit(); !committed)
        return committed.error();
    return holder;
}

Result<void> SqliteStore::completeIdempotencyKey(qint64 userId,
                                                 const QString &key,
                                                 const QString &sessionId,
                                                 qint64 jobId,
                                                 const QByteArray &response)
{
    const std::lock_guard writer(m_writeMutex);
    auto db = this->db();
    if (!db)
        return db.error();
    QSqlQuery q(*db);
    q.prepare(QStringLiteral("UPDATE idempotency_keys SET session_id = ?, job_id = ?, "
                             "response = ? WHERE user_id = ? AND key = ?"));
    q.addBindValue(sessionId);
    q.addBindValue(jobId);
    q.addBindValue(QString::fromUtf8(response));
    q.addBindValue(userId);
    q.addBindValue(key);
    if (!q.exec())
        return sqlError(q, QStringLiteral("storing an idempotent answer"));
    return {};
}

Result<void> SqliteStore::releaseIdempotencyKey(qint64 userId, const QString &key)
{
    const std::lock_guard writer(m_writeMutex);
    auto db = this->db();
    if (!db)
        return db.error();
    QSqlQuery q(*db);
    q.prepare(QStringLiteral("DELETE FROM idempotency_keys WHERE user_id = ? AND key = ? AND "
                             "response IS NULL"));
    q.addBindValue(userId);
    q.addBindValue(key);
    if (!q.exec())
        return sqlError(q, QStringLiteral("releasing an idempotency key"));
    return {};
}

} // namespace Ferry
