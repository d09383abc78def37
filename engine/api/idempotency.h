#pragma once

#include "core/clock.h"
#include "store/uploadstore.h"

#include <QByteArray>
#include <QStringList>

namespace Ferry {

// The Idempotency-Key header of the upload API, with Stripe's semantics: the same key from the
// same user within 24 hours gets the first answer again (same session and job); the same key
// with a different request is refused (422); a key whose first request is still running is
// refused (409). Keys are per user; a replay is not counted against the quota again.
class IdempotencyKeys final
{
public:
    static constexpr qint64 KeepMs = 24 * 3600 * 1000;
    // An in-progress claim older than this belongs to a request that died (e.g. a crash between
    // claiming the key and queueing the job): a retry takes it over. Claims are made once the
    // body has arrived and before it is stored (so two requests with one key never both store
    // or charge): a live one lasts an fsync, a rename and one transaction.
    static constexpr qint64 AbandonedAfterMs = 10 * 60 * 1000;

    IdempotencyKeys(UploadStore &store, const Clock &clock);

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

private:
    UploadStore &m_store;
    const Clock &m_clock;
};

} // namespace Ferry
