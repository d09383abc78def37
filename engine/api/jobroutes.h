#pragma once

#include "api/apiroute.h"
#include "queue/jobqueue.h"
#include "store/store.h"

namespace Ferry {

// The caller's jobs: /api/v1/jobs... Every query is scoped by the authenticated user; another
// user's job is a 404.
class JobRoutes final : public ApiRouteGroup
{
public:
    JobRoutes(Store &store, JobQueue &queue);
    QList<ApiRoute> routes() override;

private:
    void getJob(const ApiCall &call);

    Store &m_store;
    JobQueue &m_queue;
};

} // namespace Ferry
