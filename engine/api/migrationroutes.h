#pragma once

#include "api/apiroute.h"
#include "migrate/uploadreruns.h"

namespace Ferry {

struct MigrationRouteOptions
{
    // A dry run stops reading after this long (a slow disk, a gzip bomb) and says so.
    int dryRunTimeoutMs = 10'000;
    // The largest body POST /api/v1/dry-run takes; bigger files are uploaded, then dry-run.
    qint64 maxDryRunBodyBytes = 1 << 20;
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

    QList<ApiRoute> routes() override;

private:
    void rerun(const ApiCall &call);
    void dryRunStored(const ApiCall &call);
    void dryRunBody(const ApiCall &call);
    // The caller's upload, or the 404 / store error answer (then null).
    std::optional<StoredUpload> callersUpload(const ApiCall &call);
    void answerDryRun(const ApiCall &call, const Result<DryRunResult> &result);
    std::function<bool()> deadline(const ApiCall &call) const;

    UploadReruns &m_reruns;
    MigrationRouteOptions m_options;
};

} // namespace Ferry
