#include "enginehost.h"

#include "config/originlist.h"
#include "core/nodeid.h"
#include "queue/builtinhandlers.h"
#include "storage/fileblobstore.h"
#include "storage/postgresblobstore.h"
#include "store/storefactory.h"

#include <QHostInfo>
#include <QLoggingCategory>

namespace Ferry {

Q_LOGGING_CATEGORY(lcHost, "ferry.engine")

namespace {

// --listen's host: an IP address, or a host name (ConfigLoader checked its form) resolved here,
// when the engine starts, preferring IPv4 (so localhost is 127.0.0.1 wherever ::1 comes first).
Result<QHostAddress> listenAddress(const QString &host)
{
    if (const QHostAddress literal(host); !literal.isNull())
        return literal;
    const QHostInfo info = QHostInfo::fromName(host);
    const QList<QHostAddress> addresses = info.addresses();
    if (info.error() != QHostInfo::NoError || addresses.isEmpty()) {
        return makeError(ErrorCode::Config,
                         QStringLiteral("Cannot resolve the --listen host '%1': %2.")
                             .arg(host, info.errorString()),
                         QStringLiteral("Use an IP address (127.0.0.1:8080) or a name this "
                                        "machine resolves (localhost:8080)."));
    }
    for (const QHostAddress &address : addresses) {
        if (address.protocol() == QAbstractSocket::IPv4Protocol)
            return address;
    }
    return addresses.first();
}

} // namespace

EngineHost::EngineHost(const FerryConfig &config, Role role) : m_config(config), m_role(role) {}

MetricFeed *EngineHost::metrics()
{
    if (m_monitor)
        return m_monitor.get();
    return m_clusterMetrics.get();
}

EngineHost::~EngineHost()
{
    stop();
    m_listener.reset();         // cluster: its callbacks reach the follower and the queue
    m_settingsFollower.reset(); // applies settings through m_settings' appliers
    m_settings.reset();         // its appliers point at what follows
    m_cluster.reset();          // cluster: samples the dispatcher and the probe
    m_monitor.reset();
    m_clusterMetrics.reset();
    m_http.reset();
    m_eventRoutes.reset(); // events: after the server (it holds the streams), before the store
    m_eventHub.reset();
    m_jobDeleteRoutes.reset();
    m_tusPrune.reset();
    m_undoSweeper.reset();    // runs on m_api's pool
    m_rateLimitPurge.reset(); // cluster-wide rate limit: its timer uses m_api's pool
    m_api.reset();
    m_tusRoutes.reset();
    m_tusUploads.reset();
    m_uploadRoutes.reset();
    m_jobRoutes.reset();
    m_quotaRoutes.reset();
    m_datasetRoutes.reset();
    m_migrationRoutes.reset();
    m_systemRoutes.reset();
    m_accessLogFlush.reset();
    m_accessLog.reset();
    m_dispatcher.reset();
    m_reruns.reset();
    m_queue.reset();
    m_store.reset();
}

Result<std::unique_ptr<EngineHost>> EngineHost::create(const FerryConfig &config, Role role)
{
    std::unique_ptr<EngineHost> host(new EngineHost(config, role));
    const bool sqlite = config.database.backend == DatabaseConfig::Backend::Sqlite;
    if (role == Role::Observer && sqlite) {
        return makeError(ErrorCode::Config,
                         QStringLiteral("--observe needs a cluster's PostgreSQL database."),
                         QStringLiteral("Pass --db postgresql://user@host:port/db, the database "
                                        "the nodes share. On SQLite, open the console with "
                                        "'ferry' on the machine that runs the engine."));
    }
    if (role == Role::Engine && sqlite) {
        // One engine per SQLite store: its start-up rescue assumes no other engine is running.
        // The lock sits beside the database file, wherever --db puts it.
        host->m_engineLock =
            std::make_unique<QLockFile>(config.database.sqlitePath + QStringLiteral(".lock"));
        host->m_engineLock->setStaleLockTime(0); // stale only when its process is gone
        if (!host->m_engineLock->tryLock(0)) {
            qint64 pid = 0;
            QString hostname, app;
            host->m_engineLock->getLockInfo(&pid, &hostname, &app);
            return makeError(ErrorCode::Unavailable,
                             QStringLiteral("Another Ferry engine (pid %1) is using %2.")
                                 .arg(pid)
                                 .arg(config.database.sqlitePath),
                             QStringLiteral("Stop it first, or use another --data-dir or --db."));
        }
    }
    // One id for this process: the dispatcher's leases, the cluster registry, the quota
    // reservations of its requests (released once the registry no longer lists it) and the name
    // of its PostgreSQL sessions (ended when the cluster declares the node dead).
    const QString nodeId = makeNodeId();
    host->m_nodeId = nodeId;
    DatabaseConfig database = config.database;
    database.minFreeDiskBytes = config.minFreeDiskBytes;
    database.sessionName = DatabaseConfig::sessionNameFor(nodeId);
    auto store = openStore(database);
    if (!store)
        return store.error();
    host->m_store = std::move(*store);
    if (!sqlite) {
        // Before anything takes the time: leases, heartbeats, run_at, quota months and rate-limit
        // windows are the database's time on every node, whatever this machine's clock says.
        if (auto read =
                host->m_clock.learnFrom([&host] { return host->m_store->databaseTimeMs(); });
            !read)
            return read.error();
        if (qAbs(host->m_clock.offsetMs()) > 1'000) {
            qCWarning(lcHost).noquote()
                << QStringLiteral("This machine's clock is %1 ms off the database's; Ferry counts "
                                  "in the database's time.")
                       .arg(-host->m_clock.offsetMs());
        }
    }
    // Console settings: what the operator saved in the console overrides the configuration
    // (README, "Configuration"); everything below is built from the result.
    host->m_settings = std::make_unique<SettingsService>(*host->m_store, config);
    if (auto loaded = host->m_settings->load(); !loaded)
        return loaded.error();
    host->m_config = host->m_settings->effective();
    host->m_config.database.sessionName = database.sessionName; // the listener's, the limiter's
    // Uploads reachable from every node: in the database on PostgreSQL (--blob-store database,
    // its default), else under --blob-dir (default <data-dir>/blobs), which several nodes on
    // several machines must share (docs/deployment.md).
    if (host->m_config.blobStorage == FerryConfig::BlobStorage::Database) {
        auto blobs = std::make_unique<PostgresBlobStore>(database, PostgresBlobStore::Options());
        host->m_tusParts = blobs.get();
        host->m_blobs = std::move(blobs);
    } else {
        host->m_blobs =
            std::make_unique<FileBlobStore>(host->m_config.blobDir, config.minFreeDiskBytes);
    }
    registerBuiltinHandlers(host->m_handlers);
    auto migrate = std::make_shared<MigrateHandler>(host->m_store->datasets(), *host->m_blobs,
                                                    host->m_clock, config.migrate);
    host->m_handlers.add(QStringLiteral("migrate"), migrate);
    QueueConfig queueConfig = host->m_config.queue;
    queueConfig.exclusiveStore = sqlite;
    host->m_queue =
        std::make_unique<JobQueue>(*host->m_store, host->m_handlers, host->m_clock, queueConfig);
    host->m_settings->setApplier(SettingsService::Group::JobDefaults, [queue = host->m_queue.get()](
                                                                          const FerryConfig &next) {
        return queue->setJobDefaults(next.queue.defaultTimeoutMs, next.queue.defaultMaxAttempts);
    });
    host->m_users = std::make_unique<UserDirectory>(*host->m_store, host->m_clock);
    host->m_reruns = std::make_unique<UploadReruns>(*host->m_store, *host->m_queue, *host->m_blobs,
                                                    config.migrate.maxColumns);
    host->m_quotas = std::make_unique<QuotaLedger>(*host->m_store, host->m_clock, nodeId);
    migrate->setQuota(host->m_quotas.get()); // decompressed bytes count (docs/api.md, Quotas)
    host->m_idempotencyKeys =
        std::make_unique<IdempotencyKeys>(*host->m_store, host->m_clock, nodeId);
    if (role == Role::Engine && sqlite) {
        // Requests in flight when the last engine stopped will never finish: free their quota
        // (resumable uploads keep theirs: they can still complete) and their idempotency keys
        // (a client retrying gets a new run, not 409).
        if (auto released = host->m_quotas->releaseOrphans(true); !released)
            return released.error();
        else if (*released > 0)
            qCInfo(lcHost) << "released" << *released << "quota reservations of unfinished uploads";
        if (auto released = host->m_idempotencyKeys->releaseOrphans(true); !released)
            return released.error();
        else if (*released > 0)
            qCInfo(lcHost) << "released" << *released << "idempotency keys of unfinished uploads";
    }
    if (role == Role::Engine) {
        host->m_dispatcher =
            std::make_unique<Dispatcher>(*host->m_queue, host->m_handlers, host->m_clock, nodeId);
        // Sessions outlive their pruned jobs only until the next pruning; then their files go.
        host->m_dispatcher->setRetentionHook(
            [store = host->m_store.get(), blobs = host->m_blobs.get()](qint64 cutoff) {
                while (true) {
                    auto unreferenced = store->pruneSessions(cutoff, 1000);
                    if (!unreferenced) {
                        qCWarning(lcHost) << unreferenced.error().toString();
                        return;
                    }
                    for (const QString &blob : std::as_const(*unreferenced))
                        (void)blobs->remove(blob);
                    if (unreferenced->isEmpty())
                        return;
                }
            });
        host->createMonitor();
        host->createCluster();
    } else if (role == Role::Observer) {
        // Settings the nodes apply live when they hear of a change (SettingsFollower): saved
        // here, they are live for the cluster, though nothing in this process uses them.
        for (const auto group :
             {SettingsService::Group::RateLimit, SettingsService::Group::TrustedProxies,
              SettingsService::Group::MemoryWatermarks}) {
            host->m_settings->setApplier(group,
                                         [](const FerryConfig &) -> Result<void> { return {}; });
        }
        host->m_probe = std::make_unique<ProcProbe>(host->m_config.dataDir);
        host->m_clusterMetrics = std::make_unique<ClusterMetrics>(*host->m_store, host->m_clock,
                                                                  ClusterMetrics::Options());
        host->createCluster();
    }
    return host;
}

Result<void> EngineHost::start()
{
    if (m_role == Role::Tool)
        return {};
    if (m_role == Role::Observer) {
        // No worker, no port, no leader candidacy: only the registry (as an observer), the
        // cluster's notifications (pause, cancels, settings) and its charts.
        if (auto clustered = startCluster(); !clustered)
            return clustered;
        m_clusterMetrics->start();
        qCInfo(lcHost).noquote() << "observing the cluster on" << m_config.database.describe()
                                 << "as node" << m_nodeId << "- no jobs run here";
        return {};
    }
    if (auto started = m_dispatcher->start(); !started)
        return started;
    RateLimitPolicy policy;
    policy.limit = m_config.rateLimit;
    policy.window = std::chrono::seconds(m_config.rateWindowSeconds);
    auto limiter = RateLimiter::create(policy, m_clock);
    if (!limiter)
        return limiter.error();
    m_limiter = std::move(*limiter);
    auto clients = ClientAddress::fromTrustedProxies(m_config.trustedProxies);
    if (!clients)
        return clients.error();
    m_accessLog =
        std::make_unique<AccessLog>(m_config.accessLog == u"json"  ? AccessLog::Format::Json
                                    : m_config.accessLog == u"off" ? AccessLog::Format::Off
                                                                   : AccessLog::Format::Text);
    m_accessLogFlush = std::make_unique<QTimer>();
    m_accessLogFlush->setInterval(250);
    QObject::connect(m_accessLogFlush.get(), &QTimer::timeout,
                     [log = m_accessLog.get()] { log->flush(); });
    m_accessLogFlush->start();
    m_api = std::make_unique<ApiHandler>(*m_users, *m_limiter, *clients, m_accessLog.get());
    // CORS and who reads /metrics (--cors-origins, --metrics-allow).
    auto origins = parseOriginList(m_config.corsOrigins);
    if (!origins)
        return origins.error();
    m_api->setCorsPolicy(CorsPolicy(*origins));
    // --- Cluster-wide rate limit: on PostgreSQL every node shares one GCRA state per client
    // (engine/store/postgresratelimit.h, table rate_limits of migration 0010) through its own
    // small connection pool; if the database cannot answer, each node limits on its own until it
    // can (RateLimiter). Fully reset keys are deleted every minute on the API pool, by every node
    // (idempotent; the DELETE is one statement). On SQLite one engine sees every request: the
    // in-memory limiter alone.
    if (m_config.database.backend == DatabaseConfig::Backend::Postgres) {
        m_sharedLimit = std::make_shared<PostgresRateLimit>(m_config.database);
        m_limiter->setSharedBackend(m_sharedLimit);
    }
    m_rateLimitPurge = std::make_unique<QTimer>();
    m_rateLimitPurge->setInterval(60'000);
    QObject::connect(m_rateLimitPurge.get(), &QTimer::timeout,
                     [limiter = m_limiter.get(), shared = m_sharedLimit, clock = &m_clock,
                      workers = &m_api->workers()] {
                         limiter->purgeReset(clock->nowMs());
                         if (!shared)
                             return;
                         workers->start([shared, now = clock->nowMs()] {
                             if (auto purged = shared->purgeReset(now); !purged)
                                 qCWarning(lcHost) << purged.error().toString();
                         });
                     });
    m_rateLimitPurge->start();
    // --- end cluster-wide rate limit ---
    // Every minute, on the API pool: the quota releases and idempotency keys the store refused
    // while it was away (QuotaLedger, IdempotencyKeys keep them), and, on PostgreSQL, the quota
    // reservations and idempotency keys of requests on nodes that died (gone from the registry)
    // or of tus uploads that are gone. SQLite releases its orphans at engine start (one process).
    QObject::connect(m_rateLimitPurge.get(), &QTimer::timeout,
                     [quotas = m_quotas.get(), keys = m_idempotencyKeys.get(),
                      workers = &m_api->workers(),
                      shared = m_config.database.backend == DatabaseConfig::Backend::Postgres] {
                         workers->start([quotas, keys, shared] {
                             quotas->retryPendingReleases();
                             keys->retryPending();
                             if (!shared)
                                 return;
                             if (auto released = quotas->releaseOrphans(false); !released)
                                 qCWarning(lcHost) << released.error().toString();
                             else if (*released > 0)
                                 qCInfo(lcHost) << "released" << *released
                                                << "quota reservations whose owner is gone";
                             if (auto released = keys->releaseOrphans(false); !released)
                                 qCWarning(lcHost) << released.error().toString();
                             else if (*released > 0)
                                 qCInfo(lcHost) << "released" << *released
                                                << "idempotency keys whose node is gone";
                         });
                     });
    // Console settings applied live: the rate limit and the trusted proxies.
    m_settings->setApplier(SettingsService::Group::RateLimit,
                           [limiter = m_limiter.get()](const FerryConfig &config) -> Result<void> {
                               RateLimitPolicy next = limiter->policy();
                               // Unchanged (a reload of every setting, or another node saving
                               // something else): every client keeps its place in its window.
                               if (next.limit == config.rateLimit &&
                                   next.window == std::chrono::seconds(config.rateWindowSeconds))
                                   return {};
                               next.limit = config.rateLimit;
                               next.window = std::chrono::seconds(config.rateWindowSeconds);
                               return limiter->setPolicy(next);
                           });
    m_settings->setApplier(SettingsService::Group::TrustedProxies,
                           [api = m_api.get()](const FerryConfig &config) -> Result<void> {
                               auto trusted =
                                   ClientAddress::fromTrustedProxies(config.trustedProxies);
                               if (!trusted)
                                   return trusted.error();
                               api->setClientAddress(*trusted);
                               return {};
                           });
    SystemRoutes::Options system;
    system.version = QByteArrayLiteral(FERRY_VERSION_STRING);
    system.metricsLoopbackOnly = !m_config.metricsAnyClient;
    m_systemRoutes =
        std::make_unique<SystemRoutes>(*m_store, m_api->metrics(), m_dispatcher.get(), system);
    // /metrics: open connections (read when served, once m_http exists) and job run durations.
    m_systemRoutes->setOpenConnections([this] { return m_http ? m_http->openConnections() : 0; });
    m_jobDurations = std::make_unique<JobDurations>();
    m_jobDurations->observe(*m_dispatcher);
    m_systemRoutes->setJobDurations(m_jobDurations.get());
    m_jobRoutes = std::make_unique<JobRoutes>(*m_store, *m_queue);
    m_api->addRoutes(*m_systemRoutes);
    m_api->addRoutes(*m_jobRoutes);
    m_quotaRoutes = std::make_unique<QuotaRoutes>(*m_quotas);
    m_api->addRoutes(*m_quotaRoutes);
    // Resumable (tus) uploads, counted against the same monthly quotas.
    TusOptions tus;
    // Shared (the directory, or the database), so a PATCH may land on any node.
    tus.directory = m_config.blobDir + QStringLiteral("/tus");
    tus.parts = m_tusParts;
    tus.maxSize = m_config.maxUploadBytes; // one size limit for every upload path
    m_tusUploads = std::make_unique<TusUploads>(*m_store, *m_queue, *m_blobs, m_clock,
                                                m_quotas.get(), std::move(tus));
    m_tusRoutes = std::make_unique<TusRoutes>(*m_tusUploads);
    m_api->addRoutes(*m_tusRoutes);
    m_tusPrune = std::make_unique<QTimer>();
    m_tusPrune->setInterval(10 * 60'000);
    auto pruneTus = [uploads = m_tusUploads.get(), workers = &m_api->workers(),
                     cluster = m_cluster.get()] {
        if (!cluster->isLeader())
            return; // cluster: once per cluster, on the leader
        workers->start([uploads] {
            if (auto pruned = uploads->pruneExpired(); !pruned)
                qCWarning(lcHost) << pruned.error().toString();
        });
    };
    QObject::connect(m_tusPrune.get(), &QTimer::timeout, pruneTus);
    m_tusPrune->start();
    pruneTus();
    // Migrations that ended outside their attempt (a rescue, a cancel while waiting to resume,
    // another node) are undone here, on every node, now and every few seconds.
    m_undoSweeper = std::make_unique<MigrationUndoSweeper>(m_store->datasets(), m_api->workers());
    m_undoSweeper->start();
    // Upload and job API: datasets and their exports.
    m_datasetRoutes = std::make_unique<DatasetRoutes>(*m_store, m_clock);
    m_api->addRoutes(*m_datasetRoutes);
    // Re-runs and dry runs of stored uploads: read like an import, never charged again.
    m_migrationRoutes = std::make_unique<MigrationRoutes>(*m_reruns);
    m_api->addRoutes(*m_migrationRoutes);
    // Uploads, counted against the monthly quotas.
    UploadRoutes::Options uploads;
    uploads.maxUploadBytes = m_config.maxUploadBytes;
    m_uploadRoutes = std::make_unique<UploadRoutes>(*m_queue, *m_blobs, m_clock, m_quotas.get(),
                                                    *m_idempotencyKeys, uploads);
    m_api->addRoutes(*m_uploadRoutes);
    // Job events: streams read the store (so other nodes' changes arrive too), woken by this
    // node's queue and dispatcher and, on PostgreSQL, by other nodes' NOTIFY.
    m_eventHub = std::make_unique<JobEventHub>(*m_store);
    QObject::connect(
        m_queue.get(), &JobQueue::jobsEnqueued, m_queue.get(),
        [hub = m_eventHub.get()] { hub->wake(); }, Qt::DirectConnection);
    QObject::connect(
        m_dispatcher.get(), &Dispatcher::jobStarted, m_dispatcher.get(),
        [hub = m_eventHub.get()] { hub->wake(); }, Qt::DirectConnection);
    QObject::connect(
        m_dispatcher.get(), &Dispatcher::jobFinished, m_dispatcher.get(),
        [hub = m_eventHub.get()] { hub->wake(); }, Qt::DirectConnection);
    m_eventRoutes = std::make_unique<EventRoutes>(*m_eventHub);
    m_api->addRoutes(*m_eventRoutes);
    // Deleting finished jobs and their uploads.
    m_jobDeleteRoutes = std::make_unique<JobDeleteRoutes>(*m_store, *m_blobs, m_clock);
    m_api->addRoutes(*m_jobDeleteRoutes);
    Http::HttpLimits limits;
    limits.networkThreads = m_config.httpThreads;
    m_http = std::make_unique<Http::HttpServer>(*m_api, limits);
    auto resolved = listenAddress(m_config.listenHost);
    if (!resolved)
        return resolved.error();
    const QHostAddress address = *resolved;
    m_config.listenHost = address.toString(); // what the log, the console and the cluster show
    auto port = m_http->listen(address, m_config.listenPort);
    if (!port)
        return port.error();
    m_httpPort = *port;
    if (!address.isLoopback()) {
        qCWarning(lcHost).noquote()
            << "the HTTP endpoint listens on" << m_config.listenHost
            << "- reachable from other machines (every request still needs a token)";
    }
    qCInfo(lcHost).noquote() << QStringLiteral("HTTP endpoint on http://%1:%2/api/v1/")
                                    .arg(address.protocol() == QAbstractSocket::IPv6Protocol
                                             ? u'[' + m_config.listenHost + u']'
                                             : m_config.listenHost)
                                    .arg(m_httpPort);
    qCInfo(lcHost).noquote() << "engine started on" << m_config.database.describe() << "as node"
                             << m_dispatcher->nodeId() << "- max concurrency"
                             << m_dispatcher->maxConcurrency()
                             << (m_queue->isPaused() ? "(queue paused)" : "");
    if (auto clustered = startCluster(); !clustered) // cluster: once the HTTP port is known
        return clustered;
    m_monitor->start(); // resource monitor: last, once everything it samples exists
    return {};
}

void EngineHost::stop()
{
    if (m_monitor)
        m_monitor->stop(); // resource monitor: first, before what it samples goes away
    if (m_clusterMetrics)
        m_clusterMetrics->stop();
    if (m_eventHub)
        m_eventHub->stop(); // events: the streams end cleanly before the server closes
    if (m_http)
        m_http->close();
    if (m_listener)
        m_listener->stop(); // cluster
    if (m_undoSweeper)
        m_undoSweeper->stop();
    if (m_dispatcher)
        m_dispatcher->stop();
    if (m_cluster)
        m_cluster->stop(); // cluster: after the dispatcher released its leases
}

} // namespace Ferry
