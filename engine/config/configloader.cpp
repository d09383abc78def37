#include "configloader.h"

#include "config/originlist.h"
#include "ratelimit/clientaddress.h"

#include <QDir>
#include <QFile>
#include <QHostAddress>
#include <QSettings>
#include <QStandardPaths>
#include <QUrl>

#include <functional>

namespace Ferry {

namespace {

struct Source
{
    QString value;
    QString origin; // "--max-concurrency", "FERRY_MAX_CONCURRENCY", "ferry.conf"
};

Error badValue(const QString &name, const Source &source, const QString &expected)
{
    return makeError(
        ErrorCode::Config,
        QStringLiteral("Invalid %1 '%2' (from %3).").arg(name, source.value, source.origin),
        QStringLiteral("Expected %1.").arg(expected));
}

Result<qint64> integerIn(const QString &name, const Source &source, qint64 min, qint64 max)
{
    bool ok = false;
    const qint64 value = source.value.trimmed().toLongLong(&ok);
    if (!ok || value < min || value > max)
        return badValue(name, source,
                        QStringLiteral("a whole number from %1 to %2").arg(min).arg(max));
    return value;
}

// A DNS host name (RFC 1123: dot-separated labels of ASCII letters, digits and inner hyphens).
// --listen takes one besides an IP address; the engine resolves it when it starts listening.
bool isHostName(const QString &host)
{
    if (host.isEmpty() || host.size() > 253)
        return false;
    for (const QStringView label : QStringView(host).split(u'.')) {
        if (label.isEmpty() || label.size() > 63 || label.startsWith(u'-') || label.endsWith(u'-'))
            return false;
        for (const QChar c : label) {
            if (c.unicode() > 127 || !(c.isLetterOrNumber() || c == u'-'))
                return false;
        }
    }
    return true;
}

using Apply = std::function<Result<void>(FerryConfig &, const QString &, const Source &)>;

Apply integer(qint64 min, qint64 max, std::function<void(FerryConfig &, qint64)> set)
{
    return [=](FerryConfig &config, const QString &name, const Source &source) -> Result<void> {
        auto value = integerIn(name, source, min, max);
        if (!value)
            return value.error();
        set(config, *value);
        return {};
    };
}

struct Definition
{
    ConfigLoader::Option option;
    Apply apply;
};

const QList<Definition> &definitions()
{
    static const QList<Definition> all{
        {{QStringLiteral("listen"), QStringLiteral("ADDR:PORT"),
          QStringLiteral("HTTP address or host name; port 0 picks a free one."),
          QStringLiteral("127.0.0.1:8080")},
         [](FerryConfig &config, const QString &name, const Source &source) -> Result<void> {
             const int colon = source.value.lastIndexOf(u':');
             QString host = source.value.left(colon);
             if (host.startsWith(u'[') && host.endsWith(u']'))
                 host = host.mid(1, host.size() - 2);
             bool ok = false;
             const int port = source.value.mid(colon + 1).toInt(&ok);
             if (colon <= 0 || !ok || port < 0 || port > 65535 ||
                 (QHostAddress(host).isNull() && !isHostName(host)))
                 return badValue(name, source,
                                 QStringLiteral("an IP address or host name and a port, e.g. "
                                                "127.0.0.1:8080 or localhost:8080"));
             config.listenHost = host;
             config.listenPort = quint16(port);
             return {};
         }},
        {{QStringLiteral("db"), QStringLiteral("URL"),
          QStringLiteral("Database: a SQLite file or postgresql://user@host:port/db."),
          QStringLiteral("<data-dir>/ferry.db")},
         [](FerryConfig &config, const QString &name, const Source &source) -> Result<void> {
             auto db = DatabaseConfig::fromUrl(source.value);
             if (!db) {
                 return badValue(
                     name,
                     QUrl(source.value).toDisplayString(QUrl::RemovePassword).isEmpty()
                         ? source
                         : Source{QUrl(source.value).toDisplayString(QUrl::RemovePassword),
                                  source.origin},
                     QStringLiteral("a SQLite file path or "
                                    "postgresql://user:password@host:port/database"));
             }
             db->sqliteSync = config.database.sqliteSync;
             db->maxConnections = config.database.maxConnections; // --db-max-connections
             config.database = *db;
             return {};
         }},
        {{QStringLiteral("sqlite-synchronous"), QStringLiteral("normal|full"),
          QStringLiteral("SQLite durability: full also survives power loss, at a cost."),
          QStringLiteral("normal")},
         [](FerryConfig &config, const QString &name, const Source &source) -> Result<void> {
             const QString value = source.value.trimmed().toLower();
             if (value != u"normal" && value != u"full")
                 return badValue(name, source, QStringLiteral("normal or full"));
             config.database.sqliteSync = value == u"full" ? DatabaseConfig::SqliteSync::Full
                                                           : DatabaseConfig::SqliteSync::Normal;
             return {};
         }},
        // Connection pool bound
        {{QStringLiteral("db-max-connections"), QStringLiteral("N"),
          QStringLiteral("Database connections this process opens at most (1-1000); past it a "
                         "caller waits, then fails."),
          QStringLiteral("96 SQLite, 40 PostgreSQL")},
         integer(1, 1000, [](FerryConfig &c, qint64 v) { c.database.maxConnections = int(v); })},
        {{QStringLiteral("max-concurrency"), QStringLiteral("N"),
          QStringLiteral("Jobs run at once (1-64)."), QStringLiteral("3")},
         integer(QueueConfig::MinConcurrency, QueueConfig::MaxConcurrency,
                 [](FerryConfig &c, qint64 v) { c.queue.maxConcurrency = int(v); })},
        // Per-user cap
        {{QStringLiteral("max-per-user"), QStringLiteral("N"),
          QStringLiteral("Running jobs per user at most (0-64; 0 = no cap); the console's "
                         "setting wins once saved."),
          QStringLiteral("0")},
         integer(0, QueueConfig::MaxPerUserLimit,
                 [](FerryConfig &c, qint64 v) { c.queue.maxPerUser = int(v); })},
        // Cluster: global concurrency limit across every node on the database (engine/cluster/).
        {{QStringLiteral("cluster-max-running"), QStringLiteral("N"),
          QStringLiteral("Jobs running at once across all nodes on the database (0 = no limit)."),
          QStringLiteral("0")},
         integer(0, 100'000, [](FerryConfig &c, qint64 v) { c.queue.clusterMaxRunning = int(v); })},
        {{QStringLiteral("lease-seconds"), QStringLiteral("S"),
          QStringLiteral("A running job's lease; a crashed node's jobs return after it."),
          QStringLiteral("30")},
         integer(2, 3600, [](FerryConfig &c, qint64 v) { c.queue.leaseMs = v * 1000; })},
        {{QStringLiteral("poll-interval-ms"), QStringLiteral("MS"),
          QStringLiteral("Fallback poll for work enqueued by other processes."),
          QStringLiteral("1000")},
         integer(10, 60'000, [](FerryConfig &c, qint64 v) { c.queue.pollIntervalMs = v; })},
        {{QStringLiteral("job-timeout-seconds"), QStringLiteral("S"),
          QStringLiteral("Default timeout of one attempt; 0 for none."), QStringLiteral("900")},
         integer(0, 7 * 86'400,
                 [](FerryConfig &c, qint64 v) { c.queue.defaultTimeoutMs = v * 1000; })},
        {{QStringLiteral("max-attempts"), QStringLiteral("N"),
          QStringLiteral("Default attempts before a job is dead (1-100)."), QStringLiteral("5")},
         integer(1, 100, [](FerryConfig &c, qint64 v) { c.queue.defaultMaxAttempts = int(v); })},
        {{QStringLiteral("retry-base-ms"), QStringLiteral("MS"),
          QStringLiteral("Backoff base: retry n waits up to base * 2^(n-1)."),
          QStringLiteral("1000")},
         integer(0, 3'600'000, [](FerryConfig &c, qint64 v) { c.queue.backoffBaseMs = v; })},
        {{QStringLiteral("retry-cap-ms"), QStringLiteral("MS"), QStringLiteral("Backoff cap."),
          QStringLiteral("600000")},
         integer(0, 86'400'000, [](FerryConfig &c, qint64 v) { c.queue.backoffCapMs = v; })},
        {{QStringLiteral("retention-days"), QStringLiteral("D"),
          QStringLiteral("Finished jobs older than this are pruned; 0 keeps them."),
          QStringLiteral("7")},
         integer(0, 3650, [](FerryConfig &c, qint64 v) { c.queue.retentionMs = v * 86'400'000; })},
        {{QStringLiteral("min-free-disk-mb"), QStringLiteral("MB"),
          QStringLiteral("Uploads are refused when less disk than this is free."),
          QStringLiteral("256")},
         integer(0, 1 << 30, [](FerryConfig &c, qint64 v) { c.minFreeDiskBytes = v << 20; })},
        {{QStringLiteral("max-upload-mb"), QStringLiteral("MB"),
          QStringLiteral("Largest upload (request body) the API accepts; bigger ones get 413."),
          QStringLiteral("1024")},
         integer(1, 1 << 20, [](FerryConfig &c, qint64 v) { c.maxUploadBytes = v << 20; })},
        // Uploads reachable from every node: the blob store's directory (shared between nodes).
        {{QStringLiteral("blob-dir"), QStringLiteral("DIR"),
          QStringLiteral("Uploaded files and unfinished tus uploads; with several nodes on "
                         "several machines, a directory they all share (NFS)."),
          QStringLiteral("<data-dir>/blobs")},
         [](FerryConfig &config, const QString &name, const Source &source) -> Result<void> {
             if (source.value.trimmed().isEmpty())
                 return badValue(name, source, QStringLiteral("a directory"));
             config.blobDir = QDir::cleanPath(QDir(source.value.trimmed()).absolutePath());
             return {};
         }},
        {{QStringLiteral("blob-store"), QStringLiteral("database|files"),
          QStringLiteral("Where uploads live: in the PostgreSQL database (PostgreSQL's default; "
                         "nodes share no directory) or as files under --blob-dir (SQLite's)."),
          QStringLiteral("database on PostgreSQL, files on SQLite")},
         [](FerryConfig &config, const QString &name, const Source &source) -> Result<void> {
             const QString value = source.value.trimmed().toLower();
             if (value == u"files")
                 config.blobStorage = FerryConfig::BlobStorage::Files;
             else if (value == u"database")
                 config.blobStorage = FerryConfig::BlobStorage::Database;
             else
                 return badValue(name, source, QStringLiteral("database or files"));
             return {};
         }},
        {{QStringLiteral("max-rejected-rows"), QStringLiteral("N"),
          QStringLiteral("A migration with more rejected rows than this fails."),
          QStringLiteral("1000")},
         integer(0, qint64(1) << 40,
                 [](FerryConfig &c, qint64 v) { c.migrate.maxRejectedRows = v; })},
        {{QStringLiteral("rate-limit"), QStringLiteral("N"),
          QStringLiteral("API requests per client address per window."), QStringLiteral("50")},
         integer(1, 1'000'000'000, [](FerryConfig &c, qint64 v) { c.rateLimit = v; })},
        {{QStringLiteral("rate-window-seconds"), QStringLiteral("S"),
          QStringLiteral("The rate limit's sliding window."), QStringLiteral("900")},
         integer(1, 31 * 86'400, [](FerryConfig &c, qint64 v) { c.rateWindowSeconds = v; })},
        {{QStringLiteral("trust-proxy"), QStringLiteral("LIST"),
          QStringLiteral("Proxies whose X-Forwarded-For is believed (addresses, CIDR ranges)."),
          QStringLiteral("none")},
         [](FerryConfig &config, const QString &name, const Source &source) -> Result<void> {
             if (auto parsed = ClientAddress::fromTrustedProxies(source.value); !parsed)
                 return badValue(name, source, parsed.error().toString());
             config.trustedProxies = source.value;
             return {};
         }},
        {{QStringLiteral("access-log"), QStringLiteral("off|text|json"),
          QStringLiteral("One line per HTTP request on standard error."), QStringLiteral("text")},
         [](FerryConfig &config, const QString &name, const Source &source) -> Result<void> {
             const QString value = source.value.trimmed().toLower();
             if (value != u"off" && value != u"text" && value != u"json")
                 return badValue(name, source, QStringLiteral("off, text or json"));
             config.accessLog = value;
             return {};
         }},
        {{QStringLiteral("http-threads"), QStringLiteral("N"),
          QStringLiteral("Network threads of the HTTP endpoint; 0: one per core, at most 4."),
          QStringLiteral("0")},
         integer(0, 64, [](FerryConfig &c, qint64 v) { c.httpThreads = int(v); })},
        // Resource monitor: adaptive concurrency.
        {{QStringLiteral("memory-high-mb"), QStringLiteral("MB"),
          QStringLiteral("Above this RSS the engine runs fewer jobs, one step a second, down to "
                         "1."),
          QStringLiteral("500")},
         integer(1, 1 << 30, [](FerryConfig &c, qint64 v) { c.memoryHighBytes = v << 20; })},
        {{QStringLiteral("memory-low-mb"), QStringLiteral("MB"),
          QStringLiteral("Below this RSS for the hold time, concurrency steps back up."),
          QStringLiteral("400")},
         integer(1, 1 << 30, [](FerryConfig &c, qint64 v) { c.memoryLowBytes = v << 20; })},
        {{QStringLiteral("memory-hold-seconds"), QStringLiteral("S"),
          QStringLiteral("How long RSS stays below the low mark before each step up."),
          QStringLiteral("30")},
         integer(1, 3600, [](FerryConfig &c, qint64 v) { c.memoryHoldSeconds = v; })},
        // HTTP endpoint: browsers and monitoring.
        {{QStringLiteral("cors-origins"), QStringLiteral("LIST"),
          QStringLiteral("Web origins whose pages may call the API (CORS), comma-separated, e.g. "
                         "https://app.example.com."),
          QStringLiteral("none (CORS off)")},
         [](FerryConfig &config, const QString &name, const Source &source) -> Result<void> {
             if (auto parsed = parseOriginList(source.value); !parsed) {
                 return badValue(name, source,
                                 QStringLiteral("comma-separated origins like "
                                                "https://app.example.com (%1)")
                                     .arg(parsed.error().message));
             }
             config.corsOrigins = source.value.trimmed();
             return {};
         }},
        {{QStringLiteral("metrics-allow"), QStringLiteral("loopback|any"),
          QStringLiteral("Who may read GET /metrics: loopback clients only, or any client."),
          QStringLiteral("loopback")},
         [](FerryConfig &config, const QString &name, const Source &source) -> Result<void> {
             const QString value = source.value.trimmed().toLower();
             if (value != u"loopback" && value != u"any")
                 return badValue(name, source, QStringLiteral("loopback or any"));
             config.metricsAnyClient = value == u"any";
             return {};
         }},
        {{QStringLiteral("shutdown-grace-seconds"), QStringLiteral("S"),
          QStringLiteral("How long running jobs get to stop at shutdown."), QStringLiteral("10")},
         integer(0, 3600, [](FerryConfig &c, qint64 v) { c.queue.shutdownGraceMs = v * 1000; })},
    };
    return all;
}

} // namespace

QString ConfigLoader::Option::environmentName() const
{
    return QStringLiteral("FERRY_") + QString(name).replace(u'-', u'_').toUpper();
}

const QList<ConfigLoader::Option> &ConfigLoader::options()
{
    static const QList<Option> all = [] {
        QList<Option> list;
        list.append({QStringLiteral("data-dir"), QStringLiteral("DIR"),
                     QStringLiteral("Where the database, uploads and ferry.conf live."),
                     defaultDataDir()});
        for (const Definition &d : definitions())
            list.append(d.option);
        return list;
    }();
    return all;
}

QString ConfigLoader::defaultDataDir()
{
    return QStandardPaths::writableLocation(QStandardPaths::GenericDataLocation) +
           QStringLiteral("/ferry");
}

Result<FerryConfig> ConfigLoader::load(const QHash<QString, QString> &commandLine,
                                       const QProcessEnvironment &environment,
                                       DataDir dataDir)
{
    FerryConfig config;
    // The data dir comes first: the config file lives in it.
    config.dataDir =
        commandLine.value(QStringLiteral("data-dir"),
                          environment.value(QStringLiteral("FERRY_DATA_DIR"), defaultDataDir()));
    if (config.dataDir.trimmed().isEmpty()) {
        return makeError(ErrorCode::Config, QStringLiteral("The data directory is empty."),
                         QStringLiteral("Pass --data-dir DIR."));
    }
    config.dataDir = QDir(config.dataDir).absolutePath();
    config.database.sqlitePath = config.dataDir + QStringLiteral("/ferry.db");

    const QString filePath = config.dataDir + u'/' + configFileName();
    QHash<QString, QString> file;
    if (QFile::exists(filePath)) {
        QSettings settings(filePath, QSettings::IniFormat);
        if (settings.status() != QSettings::NoError) {
            return makeError(
                ErrorCode::Config,
                QStringLiteral("Cannot read %1: it is not a valid INI file.").arg(filePath),
                QStringLiteral("Fix or remove it."));
        }
        for (const QString &key : settings.allKeys()) {
            const bool known =
                std::any_of(definitions().cbegin(), definitions().cend(),
                            [&](const Definition &d) { return d.option.name == key; });
            if (!known) {
                return makeError(ErrorCode::Config,
                                 QStringLiteral("Unknown setting '%1' in %2.").arg(key, filePath),
                                 QStringLiteral("Known settings are the long options of "
                                                "ferry --help, without the dashes."));
            }
            // INI splits "a, b" into a list; the list options want the text back.
            const QVariant value = settings.value(key);
            file.insert(key, value.typeId() == QMetaType::QStringList
                                 ? value.toStringList().join(u',')
                                 : value.toString());
        }
    }

    // sqlite-synchronous before db, so a db URL keeps the chosen mode.
    QList<const Definition *> ordered;
    for (const Definition &d : definitions())
        ordered.append(&d);
    std::stable_sort(ordered.begin(), ordered.end(), [](const Definition *a, const Definition *b) {
        return a->option.name == u"sqlite-synchronous" && b->option.name != u"sqlite-synchronous";
    });
    for (const Definition *d : std::as_const(ordered)) {
        const QString &name = d->option.name;
        Source source;
        if (commandLine.contains(name))
            source = {commandLine.value(name), QStringLiteral("--") + name};
        else if (environment.contains(d->option.environmentName()))
            source = {environment.value(d->option.environmentName()), d->option.environmentName()};
        else if (file.contains(name))
            source = {file.value(name), filePath};
        else
            continue;
        if (auto applied = d->apply(config, name, source); !applied)
            return applied.error();
    }
    if (config.blobDir.isEmpty())
        config.blobDir = config.dataDir + QStringLiteral("/blobs"); // --blob-dir's default
    const bool postgres = config.database.backend == DatabaseConfig::Backend::Postgres;
    if (config.blobStorage == FerryConfig::BlobStorage::Default) {
        config.blobStorage =
            postgres ? FerryConfig::BlobStorage::Database : FerryConfig::BlobStorage::Files;
    } else if (config.blobStorage == FerryConfig::BlobStorage::Database && !postgres) {
        return makeError(ErrorCode::Config,
                         QStringLiteral("--blob-store database needs a PostgreSQL store (--db "
                                        "postgresql://...); SQLite keeps uploads as files."),
                         QStringLiteral("Leave --blob-store out, or pass --blob-store files."));
    }
    // Only now, with every value valid, is anything created on disk.
    if (dataDir == DataDir::Create || QFileInfo::exists(config.dataDir)) {
        QFile probe(config.dataDir + QStringLiteral("/.ferry-write-test"));
        if (!QDir().mkpath(config.dataDir) || !probe.open(QIODevice::WriteOnly)) {
            return makeError(
                ErrorCode::Config,
                QStringLiteral("The data directory %1 is not writable.").arg(config.dataDir),
                QStringLiteral("Pass --data-dir with a directory you can write, or "
                               "fix its permissions."));
        }
        probe.close();
        probe.remove();
    }
    if (config.queue.backoffCapMs < config.queue.backoffBaseMs) {
        return makeError(ErrorCode::Config,
                         QStringLiteral("retry-cap-ms (%1) is below retry-base-ms (%2).")
                             .arg(config.queue.backoffCapMs)
                             .arg(config.queue.backoffBaseMs),
                         QStringLiteral("Raise the cap or lower the base."));
    }
    if (config.memoryLowBytes >= config.memoryHighBytes) {
        return makeError(ErrorCode::Config,
                         QStringLiteral("memory-low-mb (%1) is not below memory-high-mb (%2).")
                             .arg(config.memoryLowBytes >> 20)
                             .arg(config.memoryHighBytes >> 20),
                         QStringLiteral("The low-water mark must be below the high-water mark "
                                        "(the gap keeps concurrency from flapping)."));
    }
    return config;
}

} // namespace Ferry
