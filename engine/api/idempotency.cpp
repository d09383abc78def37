#include "idempotency.h"

#include <QCryptographicHash>
#include <QLoggingCategory>

namespace Ferry {

Q_LOGGING_CATEGORY(lcIdempotency, "ferry.api.idempotency")

IdempotencyKeys::IdempotencyKeys(UploadStore &store, const Clock &clock)
    : m_store(store), m_clock(clock)
{}

bool IdempotencyKeys::isValidKey(const QByteArray &key)
{
    if (key.isEmpty() || key.size() > 255)
        return false;
    for (const char c : key) {
        if (c < 0x20 || c > 0x7e)
            return false;
    }
    return true;
}

QByteArray IdempotencyKeys::requestHash(const QByteArray &method,
                                        const QByteArray &path,
                                        const QStringList &parts,
                                        const QString &contentSha256)
{
    QCryptographicHash hash(QCryptographicHash::Sha256);
    // Each piece is length-prefixed, so no two different requests run together the same way.
    auto add = [&](const QByteArray &piece) {
        hash.addData(QByteArray(QByteArray::number(piece.size()) + ':'));
        hash.addData(piece);
    };
    add(method);
    add(path);
    for (const QString &part : parts)
        add(part.toUtf8());
    add(contentSha256.toLatin1());
    return hash.result().toHex();
}

Result<std::optional<IdempotencyKey>> IdempotencyKeys::find(qint64 userId, const QString &key)
{
    return m_store.idempotencyKey(userId, key, m_clock.nowMs() - KeepMs);
}

Result<std::optional<IdempotencyKey>> IdempotencyKeys::claim(qint64 userId,
                                                             const QString &key,
                                                             const QByteArray &requestHash,
                                                             const QString &blobId)
{
    const qint64 now = m_clock.nowMs();
    IdempotencyClaim claim;
    claim.userId = userId;
    claim.key = key;
    claim.requestHash = requestHash;
    claim.blobId = blobId;
    claim.now = now;
    claim.expiredBefore = now - KeepMs;
    claim.staleBefore = now - AbandonedAfterMs;
    return m_store.claimIdempotencyKey(claim);
}

Result<void> IdempotencyKeys::complete(qint64 userId,
                                       const QString &key,
                                       const QString &sessionId,
                                       qint64 jobId,
                                       const QByteArray &response)
{
    return m_store.completeIdempotencyKey(userId, key, sessionId, jobId, response);
}

void IdempotencyKeys::release(qint64 userId, const QString &key)
{
    if (auto released = m_store.releaseIdempotencyKey(userId, key); !released)
        qCWarning(lcIdempotency) << "could not release an idempotency key:"
                                 << released.error().toString();
}

} // namespace Ferry
