#pragma once

#include "api/apiroute.h"
#include "api/jobeventhub.h"

namespace Ferry {

// GET /api/v1/events: the caller's job changes as Server-Sent Events (docs/api.md, "Events").
class EventRoutes final : public ApiRouteGroup
{
public:
    explicit EventRoutes(JobEventHub &hub);
    QList<ApiRoute> routes() override;

private:
    void openStream(const ApiCall &call);

    JobEventHub &m_hub;
};

} // namespace Ferry
