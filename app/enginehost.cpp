#include "enginehost.h"

#include "config/originlist.h"
#include "core/nodeid.h"
#include "queue/builtinhandlers.h"
#include "store/storefactory.h"

#include <QLoggingCategory>

namespace Ferry {

Q_LOGGING_CATEGORY(lcHost, "ferry.engine")

EngineHost::EngineHost(const FerryConfig &config) : m_config(config) {}

EngineHost::~EngineHost()
{
    stop();
    m_http.reset();
    m_api.reset();
    m_jobRoutes.reset();
    m_systemRoutes.reset();
    m_accessLogFlush.reset();
    m_accessLog.reset();
    m_dispatcher.reset();
    m_queue.reset();
    m_store.reset();
}

Result<std::unique_ptr<EngineHost>> EngineHost::create(const FerryConfig &config, Role role)
{
    std::unique_ptr<EngineHost> host(new EngineHost(config));
    const bool sqlite = config.database.backend == DatabaseConfig::Backend::Sqlite;
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
    auto store = openStore(config.database);
    if (!store)
        return store.error();
    host->m_store = std::move(*store);
    host->m_blobs = std::make_unique<FileBlobStore>(config.dataDir + QStringLiteral("/blobs"),
                                                    config.minFreeDiskBytes);
    registerBuiltinHandlers(host->m_handlers);
    host->m_handlers.add(QStringLiteral("migrate"),
                         std::make_shared<MigrateHandler>(host->m_store->datasets(), *host->m_blobs,
                                                          host->m_clock, config.migrate));
    QueueConfig queueConfig = config.queue;
    queueConfig.exclusiveStore = sqlite;
    host->m_queue =
        std::make_unique<JobQueue>(*host->m_store, host->m_handlers, host->m_clock, queueConfig);
    host->m_users = std::make_unique<UserDirectory>(*host->m_store, host->m_clock);
    if (role == Role::Engine) {
        host->m_dispatcher = std::make_unique<Dispatcher>(*host->m_queue, host->m_handlers,
                                                          host->m_clock, makeNodeId());
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
    }
    return host;
}

Result<void> EngineHost::start()
{
    if (!m_dispatcher)
        return {};
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
    m_http = std::make_unique<Http::HttpServer>(*m_api);
    const QHostAddress address(m_config.listenHost);
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
    return {};
}

void EngineHost::stop()
{
    if (m_http)
        m_http->close();
    if (m_dispatcher)
        m_dispatcher->stop();
}

} // namespace Ferry
