#include "idempotency.h"

#include <QCryptographicHash>
#include <QLoggingCategory>

namespace Ferry {

Q_LOGGING_CATEGORY(lcIdempotency, "ferry.api.idempotency")

IdempotencyKeys::IdempotencyKeys(UploadStore &store, const Clock &clock, QString nodeId)
    : m_store(store), m_clock(clock), m_owner(QStringLiteral("node:") + nodeId)
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
    claim.owner = m_owner;
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
    Pending answer{userId, key, sessionId, jobId, response, m_clock.nowMs()};
    auto completed = write(answer);
    if (!completed)
        keep(std::move(answer)); // until then a retry with the key gets 409, never a second job
    return completed;
}

void IdempotencyKeys::release(qint64 userId, const QString &key)
{
    Pending release{userId, key, {}, 0, {}, m_clock.nowMs()};
    if (auto released = write(release); !released) {
        qCWarning(lcIdempotency) << "could not release an idempotency key (tried again every "
                                    "minute):"
                                 << released.error().toString();
        keep(std::move(release));
    }
}

Result<void> IdempotencyKeys::write(const Pending &pending)
{
    if (pending.response.isEmpty())
        return m_store.releaseIdempotencyKey(pending.userId, pending.key);
    return m_store.completeIdempotencyKey(pending.userId, pending.key, pending.sessionId,
                                          pending.jobId, pending.response);
}

void IdempotencyKeys::keep(Pending pending)
{
    if (m_pending.keep(std::move(pending))) {
        qCWarning(lcIdempotency) << "more than" << MaxPending
                                 << "idempotency keys unwritten: the oldest is left to expire";
    }
}

qsizetype IdempotencyKeys::retryPending()
{
    const qint64 abandonedBefore = m_clock.nowMs() - AbandonedAfterMs;
    const auto outcome = m_pending.retry([this](const Pending &pending) { return write(pending); },
                                         [abandonedBefore](const Pending &pending) {
                                             if (pending.claimedBefore >= abandonedBefore)
                                                 return false;
                                             qCWarning(lcIdempotency)
                                                 << "gave up writing an idempotency key of user"
                                                 << pending.userId << "after" << AbandonedAfterMs
                                                 << "ms";
                                             return true;
                                         });
    if (outcome.refusal) {
        qCWarning(lcIdempotency).noquote()
            << "idempotency keys still unwritten:" << outcome.refusal->toString();
    }
    if (outcome.written > 0)
        qCInfo(lcIdempotency) << "wrote" << outcome.written
                              << "idempotency keys the store refused earlier";
    return outcome.pending;
}

qsizetype IdempotencyKeys::pendingCount() const
{
    return m_pending.size();
}

Result<int> IdempotencyKeys::releaseOrphans(bool engineStart)
{
    const qint64 now = m_clock.nowMs();
    return m_store.releaseOrphanedIdempotencyKeys(engineStart ? now + 1 : now - OrphanGraceMs,
                                                  engineStart);
}

} // namespace Ferry
