#pragma once

#include "api/apiroute.h"
#include "api/idempotency.h"
#include "core/clock.h"
#include "queue/jobqueue.h"
#include "quota/uploadquota.h"
#include "storage/blobstore.h"
#include "uploads/uploadgate.h"

#include <QThreadPool>

namespace Ferry {

// POST /api/v1/uploads: a file (raw body or multipart/form-data) streamed into the blob store,
// opened as an upload session with its `migrate` job (docs/api.md, "Uploads").
//
// Refusals that the headers decide (415, 400 for bad query parameters, 413, 409, 429, 507) are
// sent before a body byte is read. The quota is reserved from the headers (Content-Length, or 0
// for a chunked body), settled at the stored size, and released by any upload that does not
// end in a queued job, including a client that goes away mid-body.
class UploadRoutes final : public ApiRouteGroup
{
public:
    struct Options
    {
        qint64 maxUploadBytes = qint64(1024) << 20; // --max-upload-mb
    };

    // quota may be null: no limit. keys: the Idempotency-Key records (this node's).
    UploadRoutes(JobQueue &queue,
                 BlobStore &blobs,
                 const Clock &clock,
                 UploadQuota *quota,
                 IdempotencyKeys &keys,
                 Options options);
    // Waits for the quota work still running (reservations and releases of uploads that ended):
    // destroy the HTTP server first, and the quota after.
    ~UploadRoutes() override;
    QList<ApiRoute> routes() override;
    // Waits up to msecs (-1: no limit) for that quota work; true once none is left. An answer
    // can reach the client before the reservation it gives back is even written.
    bool waitForQuotaWork(int msecs = -1);

private:
    Http::HeaderDecision prepare(const ApiCall &call);
    void upload(const ApiCall &call);
    // A blob that no session refers to (this upload's, on failure) is removed, unless another
    // upload took it since this one's commit (its lease).
    void discardBlob(const BlobInfo &blob);

    JobQueue &m_queue;
    BlobStore &m_blobs;
    const Clock &m_clock;
    UploadQuota *m_quota;
    Options m_options;
    UploadGate m_gate; // size, free-disk floor, quota: shared with tus
    IdempotencyKeys &m_keys;
    QThreadPool m_quotaWork; // QuotaHold's reservations and releases, off the network threads
};

} // namespace Ferry
