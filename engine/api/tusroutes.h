#pragma once

#include "api/apiroute.h"
#include "uploads/tusuploads.h"

namespace Ferry {

// Resumable uploads over tus 1.0.0 (core, creation, termination): /api/v1/tus... The protocol
// lives in TusUploads; this is its HTTP face (headers, status codes, Ferry's JSON errors). Every
// upload is scoped by the authenticated user; another user's upload id is a 404.
class TusRoutes final : public ApiRouteGroup
{
public:
    explicit TusRoutes(TusUploads &uploads);
    QList<ApiRoute> routes() override;

private:
    void options(const ApiCall &call);
    Http::HeaderDecision prepareCreate(const ApiCall &call);
    void create(const ApiCall &call);
    void head(const ApiCall &call);
    Http::HeaderDecision prepareAppend(const ApiCall &call);
    void append(const ApiCall &call);
    void terminate(const ApiCall &call);

    TusUploads &m_uploads;
};

} // namespace Ferry
