#pragma once

#include "api/apiroute.h"
#include "migrate/uploadreruns.h"

#include <QHash>
#include <QMutex>
#include <QThreadPool>

namespace Ferry {

struct MigrationRouteOptions
{
    // A dry run stops reading after this long (a slow disk, a gzip bomb) and says so.
    int dryRunTimeoutMs = 10'000;
    // The largest body POST /api/v1/dry-run takes; bigger files are uploaded, then dry-run.
    qint64 maxDryRunBodyBytes = 1 << 20;
    // Dry runs read files (a stored upload, a gzip body of up to 1 GiB decompressed) for up to
    // dryRunTimeoutMs: they run on a pool of their own, so they never hold the API's workers that
    // every other request needs. At most maxDryRunsPerUser of one user and maxDryRuns in all are
    // running or waiting for a thread; beyond, 429 / 503 too_many_dry_runs.
    int dryRunThreads = 2;
    int maxDryRunsPerUser = 2;
    int maxDryRuns = 8;
};

// Fixing an import without uploading again (UploadReruns over HTTP):
//   POST /api/v1/sessions/{id}/migrations  re-run (a new job; the upload is not charged again)
//   POST /api/v1/sessions/{id}/dry-run     dry run of a stored upload
//   POST /api/v1/dry-run                   dry run of a small body sent with the request
// Scoped by the authenticated user: another user's session is a 404.
class MigrationRoutes final : public ApiRouteGroup
{
public:
    explicit MigrationRoutes(UploadReruns &reruns, MigrationRouteOptions options = {});
    // Waits for the dry runs still running.
    ~MigrationRoutes() override;
    Q_DISABLE_COPY_MOVE(MigrationRoutes)

    QList<ApiRoute> routes() override;

private:
    void rerun(const ApiCall &call);
    void dryRunStored(const ApiCall &call);
    void dryRunBody(const ApiCall &call);
    // The caller's upload, or the 404 / store error answer (then null).
    std::optional<StoredUpload> callersUpload(const ApiCall &call);
    void answerDryRun(const ApiCall &call, const Result<DryRunResult> &result);
    std::function<bool()> deadline(const ApiCall &call) const;
    // Runs work (a dry run) on the dry-run pool when the caller and the server are within their
    // limits; otherwise answers 429 / 503 too_many_dry_runs and drops it.
    void onDryRunPool(const ApiCall &call, std::function<void()> work);

    UploadReruns &m_reruns;
    MigrationRouteOptions m_options;
    QThreadPool m_dryRunPool;
    QMutex m_dryRunMutex; // guards the two counts below
    QHash<qint64, int> m_dryRunsPerUser;
    int m_dryRuns = 0;
};

} // namespace Ferry
