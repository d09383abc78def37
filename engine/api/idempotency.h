#pragma once

#include "core/clock.h"
#include "core/pendingwrites.h"
#include "store/uploadstore.h"

#include <QByteArray>
#include <QList>
#include <QStringList>

namespace Ferry {

// The Idempotency-Key header of the upload API, with Stripe's semantics: the same key from the
// same user within 24 hours gets the first answer again (same session and job); the same key
// with a different request is refused (422); a key whose first request is still running is
// refused (409). Keys are per user; a replay is not counted against the quota again.
//
// A claim belongs to this node (nodeId, as in the cluster registry): when the node dies, the
// claims of its unfinished requests are dropped by releaseOrphans(), not left to age for
// AbandonedAfterMs. A release or completion the store refuses (the database away) is kept and
// written by retryPending(), so a client retrying as told is not refused with 409 while this
// node lives. Thread-safe.
class IdempotencyKeys final
{
public:
    static constexpr qint64 KeepMs = 24 * 3600 * 1000;
    // An in-progress claim older than this belongs to a request that died (e.g. a crash between
    // claiming the key and queueing the job): a retry takes it over. Claims are made once the
    // body has arrived and before it is stored (so two requests with one key never both store
    // or charge): a live one lasts an fsync, a rename and one transaction.
    static constexpr qint64 AbandonedAfterMs = 10 * 60 * 1000;

    // A claim of a node that is gone is dropped once it is this old (a node registers within
    // seconds of its start; a live claim lasts an fsync, a rename and one transaction).
    static constexpr qint64 OrphanGraceMs = 60'000;
    // At most this many unwritten releases and answers are kept (the oldest go first, logged).
    static constexpr qsizetype MaxPending = 100'000;

    // nodeId: this process's id in the cluster registry.
    IdempotencyKeys(UploadStore &store, const Clock &clock, QString nodeId);

    // 1-255 printable ASCII characters (what Stripe accepts).
    static bool isValidKey(const QByteArray &key);
    // Hex SHA-256 over the request's method, path, the given canonical parts (parameters,
    // media type, file name, ...) and the SHA-256 of its content.
    static QByteArray requestHash(const QByteArray &method,
                                  const QByteArray &path,
                                  const QStringList &parts,
                                  const QString &contentSha256);

    // The user's unexpired record of the key.
    Result<std::optional<IdempotencyKey>> find(qint64 userId, const QString &key);
    // Nothing: the caller holds the key now. Else the record that holds it.
    Result<std::optional<IdempotencyKey>>
    claim(qint64 userId, const QString &key, const QByteArray &requestHash, const QString &blobId);
    Result<void> complete(qint64 userId,
                          const QString &key,
                          const QString &sessionId,
                          qint64 jobId,
                          const QByteArray &response);
    // The request failed: a retry with the key runs anew.
    void release(qint64 userId, const QString &key);

    // Writes the releases and answers the store refused earlier; returns how many are still
    // unwritten (the store still refuses). One kept for AbandonedAfterMs is dropped instead:
    // its claim counts as abandoned by then, and may belong to a new request.
    qsizetype retryPending();
    qsizetype pendingCount() const;
    // Drops the in-progress claims whose node is gone (UploadStore::
    // releaseOrphanedIdempotencyKeys). engineStart: on an exclusive store (SQLite) at engine
    // start, every node's claims.
    Result<int> releaseOrphans(bool engineStart);

private:
    // An answer to store (response set) or a claim to drop (response empty).
    struct Pending
    {
        qint64 userId = 0;
        QString key;
        QString sessionId;
        qint64 jobId = 0;
        QByteArray response;
        qint64 claimedBefore = 0; // when it was kept: the claim is older than that
    };
    Result<void> write(const Pending &pending);
    void keep(Pending pending);

    UploadStore &m_store;
    const Clock &m_clock;
    const QString m_owner;
    PendingWrites<Pending> m_pending{MaxPending};
};

} // namespace Ferry
