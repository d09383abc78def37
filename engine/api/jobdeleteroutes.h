#pragma once

#include "api/apiroute.h"
#include "core/clock.h"
#include "storage/blobstore.h"
#include "store/store.h"

namespace Ferry {

// Deleting the caller's finished jobs and uploads: DELETE /api/v1/jobs/{id} and
// /api/v1/sessions/{id}. The jobs go through the console's "Delete finished" (one store action,
// Store::applyConsoleAction), so both keep a migration whose undo has not run yet; an upload
// (session and stored file) goes once no job reads it. Another user's job or session is a 404.
class JobDeleteRoutes final : public ApiRouteGroup
{
public:
    JobDeleteRoutes(Store &store, BlobStore &blobs, const Clock &clock);
    QList<ApiRoute> routes() override;

private:
    void deleteJob(const ApiCall &call);
    void deleteSession(const ApiCall &call);
    // Why the job cannot be deleted now (409), or nothing when it can.
    Result<std::optional<Http::Response>> refusalFor(const Job &job);
    Result<std::optional<Http::Response>> refusalFor(qint64 jobId, JobStatus status);
    // Deletes the session when no job reads it any more, and its file when no session does.
    // True when the session is gone.
    Result<bool> dropUnusedSession(const QString &sessionId);

    Store &m_store;
    BlobStore &m_blobs;
    const Clock &m_clock;
};

} // namespace Ferry
