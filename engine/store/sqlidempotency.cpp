// SqlStore: the upload API's idempotency keys (resources/migrations/*/0007, owners in
// postgres/0018 and sqlite/0015). A claim is
// INSERT ... ON CONFLICT DO NOTHING: on PostgreSQL, where nodes share the database, a concurrent
// claim of the same key waits on the primary key until the first transaction ends, then inserts
// nothing and reads the holder, so exactly one request wins; on SQLite the writers' turn and the
// write transaction order the claims.
#include "sqlstore.h"

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
SqlStore::idempotencyKey(qint64 userId, const QString &key, qint64 notBefore)
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

Result<std::optional<IdempotencyKey>> SqlStore::claimIdempotencyKey(const IdempotencyClaim &claim)
{
    WriteTransaction write(*this);
    if (auto begun = write.begin(); !begun)
        return begun.error();
    QSqlQuery q(write.db());
    // Expired keys go in batches as new ones come (the created_at index finds them). SKIP LOCKED
    // (PostgreSQL): two nodes pruning at once take different rows instead of waiting on (or
    // deadlocking over) each other's.
    q.prepare(QStringLiteral("DELETE FROM idempotency_keys WHERE (user_id, key) IN (SELECT "
                             "user_id, key FROM idempotency_keys WHERE created_at < ? LIMIT ?") +
              m_sql.skipLocked() + QStringLiteral(")"));
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
                             "blob_id, created_at, owner) VALUES (?, ?, ?, ?, ?, ?) "
                             "ON CONFLICT (user_id, key) DO NOTHING"));
    q.addBindValue(claim.userId);
    q.addBindValue(claim.key);
    q.addBindValue(QString::fromLatin1(claim.requestHash));
    q.addBindValue(claim.blobId);
    q.addBindValue(claim.now);
    q.addBindValue(claim.owner.isNull() ? QStringLiteral("") : claim.owner); // '': no owner
    if (!q.exec())
        return sqlError(q, QStringLiteral("claiming an idempotency key"));
    std::optional<IdempotencyKey> holder;
    if (q.numRowsAffected() != 1) {
        // PostgreSQL's READ COMMITTED: this statement sees the row of the claim that won,
        // committed by now.
        q.prepare(QStringLiteral("SELECT ") + s_keyColumns +
                  QStringLiteral(" FROM idempotency_keys WHERE user_id = ? AND key = ?"));
        q.addBindValue(claim.userId);
        q.addBindValue(claim.key);
        if (!q.exec())
            return sqlError(q, QStringLiteral("reading an idempotency key"));
        if (!q.next()) {
            // The winner released its claim between our insert and this read (PostgreSQL; on
            // SQLite the write transaction keeps the row): let the caller try again rather than
            // run the request unguarded.
            return makeError(ErrorCode::Conflict,
                             QStringLiteral("Idempotency key '%1' changed hands while being "
                                            "claimed.")
                                 .arg(claim.key),
                             QStringLiteral("Send the request again."));
        }
        holder = keyFrom(q);
    }
    q.finish();
    if (auto committed = write.commit(); !committed)
        return committed.error();
    return holder;
}

Result<void> SqlStore::completeIdempotencyKey(qint64 userId,
                                              const QString &key,
                                              const QString &sessionId,
                                              qint64 jobId,
                                              const QByteArray &response)
{
    const auto turn = writeTurn();
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

Result<void> SqlStore::releaseIdempotencyKey(qint64 userId, const QString &key)
{
    const auto turn = writeTurn();
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

Result<int> SqlStore::releaseOrphanedIdempotencyKeys(qint64 createdBefore, bool everyNode)
{
    return writeStatement(
        QStringLiteral(
            "DELETE FROM idempotency_keys WHERE response IS NULL AND created_at < ? AND (owner = ''"
            " OR CAST(? AS INTEGER) = 1"
            " OR NOT EXISTS (SELECT 1 FROM nodes n WHERE 'node:' || n.id = owner))"),
        {createdBefore, everyNode ? 1 : 0}, QStringLiteral("releasing orphaned idempotency keys"));
}

} // namespace Ferry
