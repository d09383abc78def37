// bench/queue: the durable queue's throughput and latency on the embedded SQLite store, or on
// PostgreSQL with --db.
//
//   build/bench/queue [--jobs N] [--single N] [--latency N] [--workers W] [--rounds R]
//                     [--dir DIR] [--sync normal|full] [--users U] [--max-per-user N]
//                     [--db postgresql://user@host:port/db [--analyze]]
//
// Per round, on a fresh database file (with --db: a fresh database created on that server
// through the URL's database, dropped after the round): bulk enqueue of N no-op jobs (one
// transaction), single enqueue of --single jobs (one transaction each), processing of the N jobs
// with W workers, and enqueue-to-start latency over --latency jobs enqueued one at a time while
// workers wait. Prints one JSON line per round and a final line with the medians. --users spreads
// the jobs round-robin over U users; --max-per-user sets the per-user cap (the capped claim path).
// --analyze (with --db) runs ANALYZE on the jobs table between the bulk enqueue and the
// processing, as autovacuum may at any moment: the statistics then count no running job, the
// worst case for the dispatch cycle's plans (see settleCtes in engine/store/postgresjobs.cpp).
#include "core/clock.h"
#include "queue/builtinhandlers.h"
#include "queue/dispatcher.h"
#include "queue/jobqueue.h"
#include "store/storefactory.h"
#include "users/userdirectory.h"

#include "benchstats.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRandomGenerator>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QUrl>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <optional>
#include <thread>

using namespace Ferry;
using Ferry::Bench::median;
using Ferry::Bench::percentile;
using SteadyClock = std::chrono::steady_clock;

namespace {

// Records when each job's handler started, to measure enqueue-to-start latency.
class ProbeHandler final : public JobHandler
{
public:
    JobOutcome run(JobContext &) override
    {
        startedNs.store(SteadyClock::now().time_since_epoch().count());
        started.fetch_add(1);
        started.notify_all();
        return JobOutcome::completed();
    }
    std::atomic<qint64> startedNs{0};
    std::atomic<int> started{0};
};

void fail(const Error &error)
{
    std::fprintf(stderr, "bench/queue: %s\n", qPrintable(error.toString()));
    std::exit(1);
}

// --db postgresql://...: one statement on the given database (the URL's, or a round's).
void adminStatement(const DatabaseConfig &admin, const QString &sql)
{
    const QString name = QStringLiteral("ferry_bench_admin");
    {
        QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QPSQL"), name);
        db.setHostName(admin.host);
        db.setPort(admin.port);
        db.setUserName(admin.user);
        db.setPassword(admin.password);
        db.setDatabaseName(admin.database);
        if (!db.open())
            fail(makeError(ErrorCode::Storage, db.lastError().text()));
        QSqlQuery query(db);
        if (!query.exec(sql))
            fail(makeError(ErrorCode::Storage, query.lastError().text() + u' ' + sql));
    }
    QSqlDatabase::removeDatabase(name);
}

QJsonObject runRound(const DatabaseConfig &db,
                     int jobs,
                     int singles,
                     int latencyJobs,
                     int workers,
                     int userCount,
                     int maxPerUser,
                     bool analyze)
{
    auto opened = openStore(db);
    if (!opened)
        fail(opened.error());
    Store &store = **opened;
    SystemClock clock;
    HandlerRegistry handlers;
    registerBuiltinHandlers(handlers);
    auto probe = std::make_shared<ProbeHandler>();
    handlers.add(QStringLiteral("probe"), probe);
    QueueConfig config;
    config.maxConcurrency = workers;
    config.retentionMs = 0;
    config.maxPerUser = maxPerUser; // per-user cap: 0 = none (the default, uncapped claim)
    JobQueue queue(store, handlers, clock, config);
    UserDirectory users(store, clock);
    QList<qint64> userIds;
    for (int u = 0; u < qMax(1, userCount); ++u) {
        auto user =
            users.addUser(u == 0 ? QStringLiteral("bench") : QStringLiteral("bench%1").arg(u));
        if (!user)
            fail(user.error());
        userIds.append(user->user.id);
    }
    NewJob noop;
    noop.userId = userIds.first();
    noop.type = QStringLiteral("noop");
    QList<NewJob> batch(jobs, noop);
    for (int i = 0; i < batch.size(); ++i)
        batch[i].userId = userIds.at(i % userIds.size()); // round-robin over --users

    QJsonObject result;
    // Bulk enqueue: N jobs, one transaction.
    QElapsedTimer timer;
    timer.start();
    if (auto r = queue.enqueueBatch(batch); !r)
        fail(r.error());
    result.insert(QStringLiteral("bulkEnqueuePerSec"), jobs / (double(timer.nsecsElapsed()) / 1e9));
    if (analyze)
        adminStatement(db, QStringLiteral("ANALYZE jobs"));

    // Processing: the N jobs with W workers.
    Dispatcher dispatcher(queue, handlers, clock, QStringLiteral("bench"));
    std::atomic<int> finished{0};
    QObject::connect(
        &dispatcher, &Dispatcher::jobFinished, &dispatcher,
        [&finished, jobs](qint64, int) {
            if (finished.fetch_add(1) + 1 == jobs)
                finished.notify_all();
        },
        Qt::DirectConnection);
    timer.restart();
    if (auto r = dispatcher.start(); !r)
        fail(r.error());
    // Blocks (a futex) until the last one, as graphile-worker's bench awaits a promise: polling
    // here every 0.2 ms cost a tenth of a core, taken from the threads being measured.
    for (int seen = finished.load(); seen < jobs; seen = finished.load())
        finished.wait(seen);
    result.insert(QStringLiteral("processPerSec"), jobs / (double(timer.nsecsElapsed()) / 1e9));

    // Latency: one job at a time while the workers wait.
    NewJob probeJob = noop;
    probeJob.type = QStringLiteral("probe");
    QList<double> latenciesMs;
    for (int i = 0; i < latencyJobs; ++i) {
        const int before = probe->started.load();
        const auto t0 = SteadyClock::now();
        if (auto r = queue.enqueue(probeJob); !r)
            fail(r.error());
        // Blocks (a futex), as graphile-worker's bench awaits a promise: a waiter spinning
        // here took one of the machine's cores from the threads being measured.
        probe->started.wait(before);
        latenciesMs.append(double(probe->startedNs.load() - t0.time_since_epoch().count()) / 1e6);
        std::this_thread::sleep_for(std::chrono::microseconds(500)); // let it settle; idle again
    }
    result.insert(QStringLiteral("latencyP50Ms"), percentile(latenciesMs, 0.50));
    result.insert(QStringLiteral("latencyP99Ms"), percentile(latenciesMs, 0.99));
    dispatcher.stop();

    // Single enqueue: one transaction each, while the engine is idle.
    timer.restart();
    for (int i = 0; i < singles; ++i) {
        if (auto r = queue.enqueue(noop); !r)
            fail(r.error());
    }
    result.insert(QStringLiteral("singleEnqueuePerSec"),
                  singles / (double(timer.nsecsElapsed()) / 1e9));
    return result;
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    QCommandLineParser parser;
    parser.addHelpOption();
    parser.addOptions(
        {{QStringLiteral("jobs"), QStringLiteral("No-op jobs to process."), QStringLiteral("N"),
          QStringLiteral("100000")},
         {QStringLiteral("single"), QStringLiteral("Single enqueues."), QStringLiteral("N"),
          QStringLiteral("20000")},
         {QStringLiteral("latency"), QStringLiteral("Latency samples."), QStringLiteral("N"),
          QStringLiteral("1000")},
         {QStringLiteral("workers"), QStringLiteral("Concurrency."), QStringLiteral("W"),
          QStringLiteral("8")},
         {QStringLiteral("rounds"), QStringLiteral("Rounds (medians reported)."),
          QStringLiteral("R"), QStringLiteral("3")},
         {QStringLiteral("dir"), QStringLiteral("Where the database goes."), QStringLiteral("DIR")},
         {QStringLiteral("sync"), QStringLiteral("normal or full."), QStringLiteral("MODE"),
          QStringLiteral("normal")},
         {QStringLiteral("users"), QStringLiteral("Users the jobs are spread over."),
          QStringLiteral("U"), QStringLiteral("1")},
         {QStringLiteral("max-per-user"),
          QStringLiteral("Per-user cap on running jobs (0 = none)."), QStringLiteral("N"),
          QStringLiteral("0")},
         {QStringLiteral("db"),
          QStringLiteral("A PostgreSQL server to run on instead of SQLite: each round creates a "
                         "fresh database through this URL's database and drops it after."),
          QStringLiteral("URL")},
         {QStringLiteral("analyze"),
          QStringLiteral("With --db: ANALYZE the jobs table between the bulk enqueue and the "
                         "processing (statistics that count no running job).")}});
    parser.process(app);
    const int jobs = parser.value(QStringLiteral("jobs")).toInt();
    const int singles = parser.value(QStringLiteral("single")).toInt();
    const int latency = parser.value(QStringLiteral("latency")).toInt();
    const int workers = parser.value(QStringLiteral("workers")).toInt();
    const int rounds = qMax(1, parser.value(QStringLiteral("rounds")).toInt());
    const int userCount = qMax(1, parser.value(QStringLiteral("users")).toInt());
    const int maxPerUser = qMax(0, parser.value(QStringLiteral("max-per-user")).toInt());
    const auto sync = parser.value(QStringLiteral("sync")) == u"full"
                          ? DatabaseConfig::SqliteSync::Full
                          : DatabaseConfig::SqliteSync::Normal;
    std::optional<DatabaseConfig> server;
    if (parser.isSet(QStringLiteral("db"))) {
        auto parsed = DatabaseConfig::fromUrl(parser.value(QStringLiteral("db")));
        if (!parsed)
            fail(parsed.error());
        if (parsed->backend != DatabaseConfig::Backend::Postgres)
            fail(makeError(ErrorCode::Config, QStringLiteral("--db takes a postgresql:// URL; "
                                                             "SQLite is the default.")));
        server = *parsed;
    }
    const bool analyze = parser.isSet(QStringLiteral("analyze"));
    if (analyze && !server)
        fail(makeError(ErrorCode::Config, QStringLiteral("--analyze needs --db.")));

    QHash<QString, QList<double>> samples;
    for (int round = 0; round < rounds; ++round) {
        QTemporaryDir temp(parser.isSet(QStringLiteral("dir"))
                               ? parser.value(QStringLiteral("dir")) +
                                     QStringLiteral("/benchXXXXXX")
                               : QString());
        DatabaseConfig db;
        db.sqlitePath = temp.path() + QStringLiteral("/bench.db");
        db.sqliteSync = sync;
        if (server) {
            // A name of our own making (never user input), so it can be spliced into the DDL.
            db = *server;
            db.database =
                QStringLiteral("ferry_bench_%1").arg(QRandomGenerator::global()->generate());
            adminStatement(*server, QStringLiteral("CREATE DATABASE ") + db.database);
        }
        const QJsonObject result =
            runRound(db, jobs, singles, latency, workers, userCount, maxPerUser, analyze);
        if (server)
            adminStatement(*server, QStringLiteral("DROP DATABASE ") + db.database +
                                        QStringLiteral(" WITH (FORCE)"));
        for (auto it = result.begin(); it != result.end(); ++it)
            samples[it.key()].append(it.value().toDouble());
        QJsonObject line = result;
        line.insert(QStringLiteral("round"), round + 1);
        std::printf("%s\n", QJsonDocument(line).toJson(QJsonDocument::Compact).constData());
        std::fflush(stdout);
    }
    QJsonObject summary{{QStringLiteral("bench"), QStringLiteral("queue")},
                        {QStringLiteral("store"),
                         server ? QStringLiteral("postgresql") : QStringLiteral("sqlite-wal")},
                        {QStringLiteral("synchronous"), parser.value(QStringLiteral("sync"))},
                        {QStringLiteral("jobs"), jobs},
                        {QStringLiteral("workers"), workers},
                        {QStringLiteral("users"), userCount},
                        {QStringLiteral("maxPerUser"), maxPerUser},
                        {QStringLiteral("analyze"), analyze},
                        {QStringLiteral("rounds"), rounds}};
    for (auto it = samples.cbegin(); it != samples.cend(); ++it)
        summary.insert(QStringLiteral("median_") + it.key(), median(it.value()));
    std::printf("%s\n", QJsonDocument(summary).toJson(QJsonDocument::Compact).constData());
    return 0;
}
