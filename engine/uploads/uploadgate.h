#pragma once

#include "core/error.h"
#include "quota/uploadquota.h"
#include "storage/blobstore.h"

#include <optional>

namespace Ferry {

// What UploadGate::admit() decided: admitted (with the quota reservation it holds, id 0 when
// there are no quotas), or refused as too large or over the quota. A refusal is an answer, not
// an error; the disk floor refuses with an error (InsufficientStorage, HTTP 507).
struct UploadAdmission
{
    enum class Refusal { None, TooLarge, Quota };
    Refusal refused = Refusal::None;
    QuotaDecision quota; // granted: its reservation; refused by the quota: why and until when
    QString message;     // TooLarge: what to tell the client

    bool admitted() const { return refused == Refusal::None; }
};

// The one set of checks every way into the blob store passes before it takes a byte (POST
// /api/v1/uploads, tus creation): the size limit (--max-upload-mb), the free-disk floor
// (--min-free-disk-mb) and the monthly quota, in that order, so a request is refused by the
// cheapest check first and a refused request holds nothing. Thread-safe.
class UploadGate final
{
public:
    UploadGate(BlobStore &blobs, UploadQuota *quota, qint64 maxBytes);

    qint64 maxBytes() const { return m_maxBytes; }
    // Over maxBytes(): the refusal's text (null when within).
    std::optional<QString> tooLarge(qint64 bytes) const;
    // The size limit and the disk floor only: no database, so any thread may ask (the plain
    // upload asks on the network thread and reserves its quota on a pool, QuotaHold).
    Result<UploadAdmission> checkLimits(qint64 bytes) const;
    // checkLimits(), then the quota. bytes: the announced size (0 when unknown; the body limit
    // then enforces maxBytes()). tusUploadId: the reservation's owner when a tus upload holds it.
    Result<UploadAdmission> admit(qint64 userId, qint64 bytes, const QString &tusUploadId = {});

private:
    BlobStore &m_blobs;
    UploadQuota *m_quota;
    qint64 m_maxBytes;
};

} // namespace Ferry
