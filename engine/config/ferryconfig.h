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
};

} // namespace Ferry
