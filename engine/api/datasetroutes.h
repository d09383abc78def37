#pragma once

#include "api/apiroute.h"
#include "store/store.h"

namespace Ferry {

// The caller's datasets: /api/v1/datasets, /api/v1/datasets/{name}/records. Scoped by the
// authenticated user; another user's dataset is a 404.
class DatasetRoutes final : public ApiRouteGroup
{
public:
    explicit DatasetRoutes(Store &store);
    QList<ApiRoute> routes() override;

private:
    void listDatasets(const ApiCall &call);
    void exportRecords(const ApiCall &call);

    Store &m_store;
};

} // namespace Ferry
