#pragma once

#include "api/apiroute.h"
#include "core/clock.h"
#include "datasets/datasetdetails.h"
#include "datasets/datasetexport.h"
#include "store/store.h"

#include <QJsonObject>
#include <QThreadPool>

namespace Ferry {

struct DatasetRouteOptions
{
    // CSV exports: documents with more distinct top-level keys are refused with 422.
    qsizetype maxCsvColumns = MaxCsvColumns;
    // Threads that read and format export chunks (never the network threads).
    int exportThreads = 2;
};

// The caller's datasets: /api/v1/datasets, /api/v1/datasets/{name} (details, delete),
// /api/v1/datasets/{name}/records (export, pages, delete). Scoped by the authenticated user;
// another user's dataset is a 404.
class DatasetRoutes final : public ApiRouteGroup
{
public:
    DatasetRoutes(Store &store, const Clock &clock, DatasetRouteOptions options = {});
    // Waits for export chunks being made. The HTTP server (which holds the exports' producers)
    // must be gone first.
    ~DatasetRoutes() override;
    Q_DISABLE_COPY_MOVE(DatasetRoutes)

    QList<ApiRoute> routes() override;

private:
    void listDatasets(const ApiCall &call);
    void datasetDetails(const ApiCall &call);
    void exportRecords(const ApiCall &call);
    void pageRecords(const ApiCall &call, const DatasetInfo &dataset);
    void deleteDataset(const ApiCall &call, DatasetDeleteScope scope);

    Store &m_store;
    const Clock &m_clock;
    DatasetRouteOptions m_options;
    QThreadPool m_exportPool;
};

} // namespace Ferry
