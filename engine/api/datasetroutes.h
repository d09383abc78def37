#pragma once

#include "api/apiroute.h"
#include "datasets/datasetexport.h"
#include "store/store.h"

#include <QThreadPool>

namespace Ferry {

struct DatasetRouteOptions
{
    // CSV exports: documents with more distinct top-level keys are refused with 422.
    qsizetype maxCsvColumns = MaxCsvColumns;
    // Threads that read and format export chunks (never the network threads).
    int exportThreads = 2;
};

// The caller's datasets: /api/v1/datasets, /api/v1/datasets/{name}/records. Scoped by the
// authenticated user; another user's dataset is a 404.
class DatasetRoutes final : public ApiRouteGroup
{
public:
    explicit DatasetRoutes(Store &store, DatasetRouteOptions options = {});
    // Waits for export chunks being made. The HTTP server (which holds the exports' producers)
    // must be gone first.
    ~DatasetRoutes() override;
    Q_DISABLE_COPY_MOVE(DatasetRoutes)

    QList<ApiRoute> routes() override;

private:
    void listDatasets(const ApiCall &call);
    void exportRecords(const ApiCall &call);

    Store &m_store;
    DatasetRouteOptions m_options;
    QThreadPool m_exportPool;
};

} // namespace Ferry
