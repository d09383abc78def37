#pragma once

#include "api/apihandler.h"
#include "api/datasetroutes.h"
#include "api/eventroutes.h"
#include "api/jobdeleteroutes.h"
#include "api/jobdurations.h"
#include "api/jobeventhub.h"
#include "api/jobroutes.h"
#include "api/migrationroutes.h"
#include "api/quotaroutes.h"
#include "api/systemroutes.h"
#include "api/tusroutes.h"
#include "api/uploadroutes.h"
#include "cluster/clusternode.h"
#include "cluster/notificationlistener.h"
#include "config/ferryconfig.h"
#include "config/settingsfollower.h"
#include "config/settingsservice.h"
#include "core/clock.h"
#include "core/databaseclock.h"
#include "http/httpserver.h"
#include "migrate/migratehandler.h"
#include "migrate/migrationundosweeper.h"
#include "monitor/clustermetrics.h"
#include "monitor/procprobe.h"
#include "monitor/resourcemonitor.h"
#include "queue/dispatcher.h"
#include "queue/handlerregistry.h"
#include "queue/jobqueue.h"
#include "quota/quotaledger.h"
#include "storage/blobstore.h"
#include "storage/tuspartstore.h"
#include "store/postgresratelimit.h"
#include "store/store.h"
#include "users/userdirectory.h"

#include <QLockFile>
#include <QTimer>

#include <memory>

namespace Ferry {

// Builds and owns the engine's objects for one process, in dependency order.
class EngineHost final
{
public:
    enum class Role {
        Engine, // runs jobs: takes the data dir's engine lock, rescues, dispatches
        Tool,   // a shell command: reads and writes the store, runs nothing
        // A console on a cluster's PostgreSQL (`ferry --observe`): registers as an observer
        // node, follows the cluster's pause, cancels and settings, and charts the nodes'
        // samples; runs no job, opens no port, never leads.
        Observer,
    };

    static Result<std::unique_ptr<EngineHost>> create(const FerryConfig &config, Role role);
    ~EngineHost();
    Q_DISABLE_COPY_MOVE(EngineHost)

    // Engine role: starts dispatching and listening; Observer: joins the cluster as an observer.
    Result<void> start();
    void stop();

    const FerryConfig &config() const { return m_config; }
    Role role() const { return m_role; }
    // This process's node id (the cluster registry, the leases of the jobs it runs).
    QString nodeId() const { return m_nodeId; }
    Store &store() { return *m_store; }
    JobQueue &queue() { return *m_queue; }
    UserDirectory &users() { return *m_users; }
    QuotaLedger &quotas() { return *m_quotas; }
    UploadReruns &reruns() { return *m_reruns; }
    Dispatcher *dispatcher() { return m_dispatcher.get(); } // Engine role only; null otherwise
    BlobStore &blobs() { return *m_blobs; }
    // The HTTP endpoint's port once start() listened (0 before).
    quint16 httpPort() const { return m_httpPort; }
    const Clock &clock() const { return m_clock; }
    // Engine role: the resource monitor (samples, history, adaptive concurrency); null otherwise.
    // Its signals come from its own thread.
    ResourceMonitor *monitor() { return m_monitor.get(); }
    // The console's charts: the monitor (Engine role), the cluster's summed samples (Observer);
    // null for tools.
    MetricFeed *metrics();
    // The console's Settings page: overrides saved in the store, applied live where possible.
    SettingsService &settings() { return *m_settings; }
    // Cluster (Engine role): this node's registration, heartbeat and leader lease; null for tools.
    ClusterNode *cluster() { return m_cluster.get(); }

private:
    EngineHost(const FerryConfig &config, Role role);
    void createMonitor();
    void createCluster();
    Result<void> startCluster();

    FerryConfig m_config;
    const Role m_role;
    QString m_nodeId;
    // The engine's one clock: on PostgreSQL the database's (learned at create() and at every
    // cluster heartbeat), so every node of a cluster counts in one time; on SQLite the machine's.
    SystemClock m_systemClock;
    DatabaseClock m_clock{m_systemClock};
    std::unique_ptr<QLockFile> m_engineLock;
    std::unique_ptr<Store> m_store;
    std::unique_ptr<BlobStore> m_blobs;
    TusPartStore *m_tusParts = nullptr; // m_blobs when uploads live in the database
    HandlerRegistry m_handlers;
    std::unique_ptr<JobQueue> m_queue;
    std::unique_ptr<UserDirectory> m_users;
    std::unique_ptr<QuotaLedger> m_quotas;
    std::unique_ptr<IdempotencyKeys> m_idempotencyKeys; // of POST /api/v1/uploads
    std::unique_ptr<UploadReruns> m_reruns;             // re-runs and dry runs of stored uploads
    std::unique_ptr<JobDurations> m_jobDurations;       // fed by m_dispatcher: declared before it
    std::unique_ptr<Dispatcher> m_dispatcher;
    // Cluster-wide rate limit: the shared backend on PostgreSQL (null on SQLite), declared
    // before the limiter that holds it, and the housekeeping timer.
    std::shared_ptr<PostgresRateLimit> m_sharedLimit;
    std::unique_ptr<RateLimiter> m_limiter;
    std::unique_ptr<QTimer> m_rateLimitPurge;
    std::unique_ptr<AccessLog> m_accessLog;
    std::unique_ptr<QTimer> m_accessLogFlush;
    std::unique_ptr<ApiHandler> m_api;
    std::unique_ptr<SystemRoutes> m_systemRoutes;
    std::unique_ptr<JobRoutes> m_jobRoutes;
    std::unique_ptr<QuotaRoutes> m_quotaRoutes;
    // Resumable (tus) uploads: their state, routes, and the timer that expires stale ones.
    std::unique_ptr<TusUploads> m_tusUploads;
    std::unique_ptr<TusRoutes> m_tusRoutes;
    std::unique_ptr<QTimer> m_tusPrune;
    std::unique_ptr<MigrationUndoSweeper> m_undoSweeper;
    std::unique_ptr<DatasetRoutes> m_datasetRoutes;     // upload and job API
    std::unique_ptr<MigrationRoutes> m_migrationRoutes; // re-runs and dry runs
    std::unique_ptr<UploadRoutes> m_uploadRoutes;       // POST /api/v1/uploads
    // Job events (GET /api/v1/events) and deleting finished jobs and uploads.
    std::unique_ptr<JobEventHub> m_eventHub;
    std::unique_ptr<EventRoutes> m_eventRoutes;
    std::unique_ptr<JobDeleteRoutes> m_jobDeleteRoutes;
    std::unique_ptr<Http::HttpServer> m_http;
    quint16 m_httpPort = 0;
    // Resource monitor (Engine role).
    std::unique_ptr<ProcProbe> m_probe;
    std::unique_ptr<ResourceMonitor> m_monitor;
    std::atomic<qint64> m_jobsFinished{0};            // completed, for the monitor's throughput
    std::unique_ptr<ClusterMetrics> m_clusterMetrics; // Observer: the cluster's charts
    // Cluster: node registry and leader lease (both backends); LISTEN/NOTIFY (PostgreSQL only).
    std::unique_ptr<ClusterNode> m_cluster;
    std::unique_ptr<NotificationListener> m_listener;
    // Console settings: overrides read at create(), appliers registered as their targets exist.
    std::unique_ptr<SettingsService> m_settings;
    // Cluster: settings other nodes saved, applied here (PostgreSQL only; null on SQLite).
    std::unique_ptr<SettingsFollower> m_settingsFollower;
};

} // namespace Ferry
