#include "api/systemroutes.h"

#include "api/processstats.h"
#include "core/sha256.h"

#include <QFile>

namespace Ferry {

namespace {

qint64 processRssBytes()
{
    QFile status(QStringLiteral("/proc/self/statm"));
    if (!status.open(QIODevice::ReadOnly))
        return 0;
    return status.readAll().split(' ').value(1).toLongLong() * 4096;
}

} // namespace

SystemRoutes::SystemRoutes(Store &store,
                           ApiMetrics &metrics,
                           Dispatcher *dispatcher,
                           Options options)
    : m_store(store), m_metrics(metrics), m_dispatcher(dispatcher), m_options(std::move(options))
{
    // Compiled in from docs/openapi.json (engine/api/CMakeLists.txt): read once, never changes
    // while the process runs, so its hash is the ETag of every answer.
    QFile openApi(QStringLiteral(":/ferry/openapi.json"));
    if (openApi.open(QIODevice::ReadOnly)) {
        m_openApi = openApi.readAll();
        m_openApiEtag = '"' + Sha256::hash(m_openApi).toHex() + '"';
    }
}

QList<ApiRoute> SystemRoutes::routes()
{
    ApiRoute health;
    health.method = "GET";
    health.path = "/api/v1/health";
    health.authenticated = false;
    health.rateLimited = false;
    health.handle = [this](const ApiCall &call) { this->health(call); };
    health.offload =
        true; // it asks the store (a PostgreSQL round trip): never on the network thread
    ApiRoute metrics;
    metrics.method = "GET";
    metrics.path = "/metrics";
    metrics.authenticated = false;
    metrics.rateLimited = false;
    metrics.offload = true; // the job counts are a store read: never on the network thread
    metrics.handle = [this](const ApiCall &call) { metricsText(call); };
    ApiRoute openApi;
    openApi.method = "GET";
    openApi.path = "/api/v1/openapi.json";
    openApi.authenticated = false; // the description is public; rate limited as every /api/ route
    openApi.handle = [this](const ApiCall &call) { this->openApi(call); };
    return {health, metrics, openApi};
}

// GET /api/v1/health (no auth, not rate limited)
//   200 {"success": true, "status": "ok", "version": "..."}; 503 when the store does not answer.
void SystemRoutes::health(const ApiCall &call)
{
    if (auto paused = m_store.setting(QStringLiteral("queue.paused")); !paused) {
        call.respond(
            Api::error(503, "Unavailable",
                       QStringLiteral("The store does not answer: %1").arg(paused.error().message),
                       "store_unavailable"));
        return;
    }
    call.respond(
        Api::json(200, {{QStringLiteral("success"), true},
                        {QStringLiteral("status"), QStringLiteral("ok")},
                        {QStringLiteral("version"), QString::fromUtf8(m_options.version)}}));
}

namespace {

// A request relayed by a proxy on this host arrives from loopback too; a proxy says so with a
// forwarding header (whether or not it is in --trust-proxy), and such a request is not local.
bool isLocalRequest(const Http::Request &request)
{
    if (!request.peerAddress.isLoopback())
        return false;
    for (const auto &[name, value] : request.headers) {
        if (name == "x-forwarded-for" || name == "forwarded" || name == "x-real-ip")
            return false;
    }
    return true;
}

} // namespace

// GET /metrics (Prometheus text 0.0.4; loopback clients only unless --metrics-allow any)
//   200 text/plain: requests by route and status, request durations, jobs by state (read at most
//   every Options::jobCountsMaxAgeMs), queue depth, running jobs, open connections, job run
//   durations, process CPU and memory; 403 from other addresses when loopback-only, and for
//   requests relayed by a proxy (X-Forwarded-For, Forwarded or X-Real-IP).
void SystemRoutes::metricsText(const ApiCall &call)
{
    if (m_options.metricsLoopbackOnly && !isLocalRequest(call.request())) {
        call.respond(Api::error(403, "Forbidden",
                                QStringLiteral("Metrics are served to loopback clients only, not "
                                               "through a proxy."),
                                "metrics_loopback_only"));
        return;
    }
    QByteArray text = m_metrics.text();
    if (auto counts = jobCounts(); counts) {
        text += "# HELP ferry_jobs Jobs by state.\n# TYPE ferry_jobs gauge\n";
        for (int s = int(JobStatus::Pending); s <= int(JobStatus::Dead); ++s) {
            text += "ferry_jobs{state=\"" + jobStatusName(JobStatus(s)).toUtf8() + "\"} " +
                    QByteArray::number(counts->value(JobStatus(s))) + '\n';
        }
        text += "# HELP ferry_queue_depth Pending jobs.\n# TYPE ferry_queue_depth gauge\n"
                "ferry_queue_depth " +
                QByteArray::number(counts->value(JobStatus::Pending)) + '\n';
    }
    if (m_dispatcher) {
        text += "# HELP ferry_active_jobs Jobs running now.\n# TYPE ferry_active_jobs gauge\n"
                "ferry_active_jobs " +
                QByteArray::number(m_dispatcher->runningCount()) + '\n';
        text += "# HELP ferry_max_concurrency The concurrency limit the operator set.\n"
                "# TYPE ferry_max_concurrency gauge\nferry_max_concurrency " +
                QByteArray::number(m_dispatcher->maxConcurrency()) + '\n';
        // What the resource governor leaves of it (docs/architecture.md, "Adaptive concurrency"):
        // the memory watermarks lower the limit, the free-disk floor stops claiming.
        const bool diskFloor = m_dispatcher->claimingPaused();
        const int effective = diskFloor ? 0 : m_dispatcher->effectiveConcurrency();
        const bool memory = effective < m_dispatcher->maxConcurrency() && !diskFloor;
        text += "# HELP ferry_effective_concurrency Jobs this node may start now: the operator's "
                "limit less the resource governor's reduction (0 while claiming is paused).\n"
                "# TYPE ferry_effective_concurrency gauge\nferry_effective_concurrency " +
                QByteArray::number(effective) + '\n';
        text += "# HELP ferry_concurrency_governor Why the effective concurrency is below the "
                "limit: 1 for the reason that applies.\n"
                "# TYPE ferry_concurrency_governor gauge\n"
                "ferry_concurrency_governor{reason=\"none\"} " +
                QByteArray(memory || diskFloor ? "0" : "1") +
                "\nferry_concurrency_governor{reason=\"memory\"} " +
                QByteArray(memory ? "1" : "0") +
                "\nferry_concurrency_governor{reason=\"disk_floor\"} " +
                QByteArray(diskFloor ? "1" : "0") + '\n';
    }
    if (m_dispatcher) {
        // Issue 17: the dispatch cycle is deadlock-free by construction; these say so in
        // production (0 and 0), and how often a settle waited for a row another node held.
        const DispatchConflicts conflicts = m_store.dispatchConflicts();
        text += "# HELP ferry_dispatch_deadlocks_total Dispatch statements of this node that the "
                "database rolled back as deadlocked (SQLSTATE 40P01).\n"
                "# TYPE ferry_dispatch_deadlocks_total counter\nferry_dispatch_deadlocks_total " +
                QByteArray::number(conflicts.deadlocks) + '\n';
        text += "# HELP ferry_dispatch_reruns_total Dispatch statements of this node run again "
                "after a deadlock or a serialization failure.\n"
                "# TYPE ferry_dispatch_reruns_total counter\nferry_dispatch_reruns_total " +
                QByteArray::number(conflicts.reruns) + '\n';
        text += "# HELP ferry_dispatch_deferred_settles_total Finished attempts whose row another "
                "transaction held for a moment, settled right after in a statement of their own.\n"
                "# TYPE ferry_dispatch_deferred_settles_total counter\n"
                "ferry_dispatch_deferred_settles_total " +
                QByteArray::number(conflicts.deferredSettles) + '\n';
    }
    if (m_openConnections) {
        text += "# HELP ferry_http_open_connections HTTP connections open now.\n"
                "# TYPE ferry_http_open_connections gauge\nferry_http_open_connections " +
                QByteArray::number(m_openConnections()) + '\n';
    }
    if (m_jobDurations)
        text += m_jobDurations->text();
    if (const auto cpu = processCpuSeconds()) {
        text += "# HELP process_cpu_seconds_total User and system CPU time spent, in seconds.\n"
                "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total " +
                QByteArray::number(*cpu) + '\n';
    }
    text += "# HELP process_resident_memory_bytes Resident memory.\n"
            "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes " +
            QByteArray::number(processRssBytes()) + '\n';
    Http::Response response;
    response.body = text;
    response.setHeader("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    call.respond(std::move(response));
}

namespace {

// If-None-Match (RFC 9110 13.1.2): "*" or a list of entity tags, compared weakly (W/ ignored);
// the field may be repeated.
bool noneMatchNames(const Http::Request &request, const QByteArray &etag)
{
    for (const auto &[name, value] : request.headers) {
        if (name != "if-none-match")
            continue;
        for (QByteArray tag : value.split(',')) {
            tag = tag.trimmed();
            if (tag.startsWith("W/"))
                tag = tag.mid(2);
            if (tag == "*" || tag == etag)
                return true;
        }
    }
    return false;
}

} // namespace

// GET /api/v1/openapi.json (no auth; rate limited)
//   200 application/json: docs/openapi.json as this binary was built with it, with a strong ETag
//   (the SHA-256 of the bytes) and Cache-Control: no-cache (clients revalidate: a new version of
//   the engine answers a new document); 304 without a body when If-None-Match names the ETag.
void SystemRoutes::openApi(const ApiCall &call) const
{
    if (m_openApi.isEmpty()) {
        call.respond(Api::error(500, "Internal error",
                                QStringLiteral("This build carries no OpenAPI document."),
                                "internal_error"));
        return;
    }
    Http::Response response;
    response.setHeader("ETag", m_openApiEtag);
    response.setHeader("Cache-Control", "no-cache");
    if (noneMatchNames(call.request(), m_openApiEtag)) {
        response.status = 304;
    } else {
        response.setHeader("Content-Type", "application/json");
        response.body = m_openApi;
    }
    call.respond(std::move(response));
}

// The store's counts when fresh enough; otherwise one caller reads them while the others
// serve the last ones, so a scrape storm costs one COUNT per max age.
std::optional<QHash<JobStatus, qint64>> SystemRoutes::jobCounts()
{
    {
        QMutexLocker lock(&m_countsMutex);
        const bool fresh =
            m_countsAge.isValid() && m_countsAge.elapsed() < m_options.jobCountsMaxAgeMs;
        if (fresh || m_countsRefreshing)
            return m_counts;
        m_countsRefreshing = true;
    }
    auto counts = m_store.countByStatus();
    QMutexLocker lock(&m_countsMutex);
    m_countsRefreshing = false;
    m_countsAge.start();
    if (counts)
        m_counts = std::move(*counts);
    else
        m_counts.reset(); // say nothing rather than old figures; retried after the max age
    return m_counts;
}

} // namespace Ferry
