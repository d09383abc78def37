#pragma once
// Ferry's storage seam: one interface per role, and Store, the whole of them, which only app/
// (wiring) and the stores themselves see. Everything else takes the role it uses: the quota
// ledger a QuotaStore, the cluster node a ClusterStore, and so on.
//
// SqliteStore is the embedded default; PostgresStore fills the same roles for clusters (both
// through SqlStore, engine/store/sqlstore.h). Every method is thread-safe: each calling thread
// uses its own connection. Multi-row writes are one transaction: they happen whole or not at all.

#include "store/clusterstore.h"
#include "store/consolestore.h"
#include "store/datasetstore.h"
#include "store/jobstore.h"
#include "store/metricstore.h"
#include "store/quotastore.h"
#include "store/settingstore.h"
#include "store/uploadstore.h"
#include "store/userstore.h"

namespace Ferry {

class Store : public UserStore,
              public SettingStore,
              public JobStore,
              public UploadStore,
              public QuotaStore,
              public MetricStore,
              public ConsoleStore,
              public ClusterStore
{
public:
    ~Store() override = default;

    virtual QString backendName() const = 0;
    virtual int schemaVersion() = 0;
    // The database's own version ("SQLite 3.40.1", "PostgreSQL 15.10"); empty when it cannot be
    // read. A query: call it off the GUI thread.
    virtual QString serverVersion() = 0;

    // The user's datasets, on the same database.
    virtual DatasetStore &datasets() = 0;
};

} // namespace Ferry
