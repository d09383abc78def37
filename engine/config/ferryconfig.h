#pragma once

#include "migrate/migratehandler.h"
#include "queue/queueconfig.h"
#include "store/databaseconfig.h"

#include <QString>

namespace Ferry {

// Everything a Ferry process is configured with, after precedence is applied
// (command line > FERRY_* environment > <data-dir>/ferry.conf > defaults).
struct FerryConfig
{
    QString dataDir;
    QString listenHost = QStringLiteral("127.0.0.1");
    quint16 listenPort = 8080;
    DatabaseConfig database;
    QueueConfig queue;
    MigrateConfig migrate;
    qint64 minFreeDiskBytes = qint64(256) << 20; // uploads are refused below this
    qint64 maxUploadBytes = qint64(1024) << 20;  // POST /api/v1/uploads bodies over this: 413
    // --blob-dir: uploaded files (blobs) and unfinished tus uploads (<blob-dir>/tus) when they
    // are kept as files; shared by every node of a cluster. ConfigLoader defaults it to
    // <data-dir>/blobs.
    QString blobDir;
    // --blob-store: where uploads live. Database (PostgreSQL only, its default: nodes share no
    // directory) or files under blobDir (SQLite's default and only choice). ConfigLoader
    // resolves Default by the backend.
    enum class BlobStorage { Default, Files, Database };
    BlobStorage blobStorage = BlobStorage::Default;
    qint64 rateLimit = 50; // requests per client per window, /api/ routes
    qint64 rateWindowSeconds = 15 * 60;
    QString trustedProxies;                     // --trust-proxy: addresses or CIDR ranges
    QString accessLog = QStringLiteral("text"); // off, text or json
    int httpThreads = 0;                        // network threads; 0: one per core, at most 4
    // Resource monitor: adaptive concurrency (engine/monitor/concurrencygovernor.h).
    qint64 memoryHighBytes = qint64(500) << 20; // above: concurrency steps down to 1
    qint64 memoryLowBytes = qint64(400) << 20;  // below for the hold time: steps back up
    qint64 memoryHoldSeconds = 30;
    // HTTP endpoint: browsers and monitoring.
    QString corsOrigins; // --cors-origins: comma-separated web origins; empty: CORS off
    bool metricsAnyClient =
        false; // --metrics-allow any: /metrics for every client, not loopback only
};

} // namespace Ferry
