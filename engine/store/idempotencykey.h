#pragma once

#include <QByteArray>
#include <QString>

namespace Ferry {

// One Idempotency-Key of a user (the upload API, Stripe's semantics): the request it was first
// used with and, once that request finished, what it was answered.
struct IdempotencyKey
{
    qint64 userId = 0;
    QString key;
    QByteArray requestHash; // hex SHA-256 of the request (see IdempotencyKeys::requestHash)
    QString blobId;         // the stored content of that request
    QString sessionId;
    qint64 jobId = 0;
    QByteArray response; // the JSON body answered; empty while the first request is in progress
    qint64 createdAt = 0;

    bool inProgress() const { return response.isEmpty(); }
};

// Store::claimIdempotencyKey's request: the key, its request, and the times that decide what is
// expired (24 h) and which in-progress claim is abandoned.
struct IdempotencyClaim
{
    qint64 userId = 0;
    QString key;
    QByteArray requestHash;
    QString blobId;
    QString owner; // "node:<node id>": the node whose request claims it (migration 0018/0015)
    qint64 now = 0;
    qint64 expiredBefore = 0;
    qint64 staleBefore = 0;
};

} // namespace Ferry
