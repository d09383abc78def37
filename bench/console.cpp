// bench/console: the console's Jobs page stays responsive over a large store while jobs run.
//
//   build/bench/console [--jobs N] [--seconds S] [--running R] [--dir DIR]
//
// Fills a fresh SQLite store with N jobs (default 1,000,000; all but the sleep jobs marked
// finished, in mixed statuses), starts a Dispatcher running R (default 8) concurrent "sleep" jobs,
// shows the JobsPage offscreen, and for S seconds (default 10) scrolls the table programmatically
// (to the end every 50 ms, so pages keep loading; a jump back to the top every second; a filter
// change every 2 s) while a 5 ms timer measures the gaps between its ticks on the GUI thread. A
// gap far above 5 ms is an event-loop stall. Prints one JSON line: max and p99 gap, rows loaded.
#include "queue/builtinhandlers.h"
#include "queue/dispatcher.h"
#include "quota/quotaledger.h"
#include "store/sqlitestore.h"
#include "ui/jobs/jobspage.h"
#include "ui/jobs/jobtablemodel.h"
#include "users/userdirectory.h"

#include "benchstats.h"

#include <QApplication>
#include <QComboBox>
#include <QCommandLineParser>
#include <QElapsedTimer>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QScrollBar>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QTableView>
#include <QTemporaryDir>
#include <QThreadPool>
#include <QTimer>

#include <cstdio>

using namespace Ferry;
using Ferry::Bench::percentile;

namespace {

// This thread's scheduler statistics (Linux): time on a CPU and time waiting for one, in ms.
struct SchedStat
{
    double runMs = 0;
    double waitMs = 0;
};

SchedStat schedStat()
{
    QFile file(QStringLiteral("/proc/thread-self/schedstat"));
    if (!file.open(QIODevice::ReadOnly))
        return {};
    const QList<QByteArray> fields = file.readAll().trimmed().split(' ');
    if (fields.size() < 2)
        return {};
    return {fields[0].toDouble() / 1e6, fields[1].toDouble() / 1e6};
}

[[noreturn]] void fail(const QString &message)
{
    std::fprintf(stderr, "bench/console: %s\n", qPrintable(message));
    std::exit(1);
}

// Finished statuses in a mix, by one UPDATE through a connection of its own (the store has no
// bulk status write; the engine would take hours to run a million jobs).
void finishAllBut(const QString &path, qint64 lastFinishedId, qint64 now)
{
    {
        QSqlDatabase db =
            QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), QStringLiteral("fill"));
        db.setDatabaseName(path);
        db.setConnectOptions(QStringLiteral("QSQLITE_BUSY_TIMEOUT=30000"));
        if (!db.open())
            fail(db.lastError().text());
        QSqlQuery q(db);
        q.prepare(QStringLiteral(
            "UPDATE jobs SET status = CASE id % 10 WHEN 1 THEN 'failed' WHEN 2 THEN 'cancelled' "
            "ELSE 'completed' END, attempts = 1, started_at = created_at, "
            "finished_at = created_at + (id % 5000), progress = '{\"done\":1,\"total\":1,"
            "\"unit\":\"items\"}' WHERE id <= ?"));
        q.addBindValue(lastFinishedId);
        if (!q.exec())
            fail(q.lastError().text());
        db.close();
    }
    QSqlDatabase::removeDatabase(QStringLiteral("fill"));
    Q_UNUSED(now);
}

} // namespace

int main(int argc, char **argv)
{
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM"))
        qputenv("QT_QPA_PLATFORM", "offscreen");
    QApplication app(argc, argv);
    QCommandLineParser parser;
    parser.addHelpOption();
    parser.addOption({QStringLiteral("jobs"), QStringLiteral("Jobs in the store."),
                      QStringLiteral("N"), QStringLiteral("1000000")});
    parser.addOption({QStringLiteral("seconds"), QStringLiteral("Measured seconds."),
                      QStringLiteral("S"), QStringLiteral("10")});
    parser.addOption({QStringLiteral("running"), QStringLiteral("Concurrent sleep jobs."),
                      QStringLiteral("R"), QStringLiteral("8")});
    parser.addOption({QStringLiteral("idle"),
                      QStringLiteral("Baseline: the page shown but not scrolled or filtered.")});
    parser.addOption({QStringLiteral("dir"), QStringLiteral("Directory for the database."),
                      QStringLiteral("DIR")});
    parser.process(app);
    const qint64 jobs = parser.value(QStringLiteral("jobs")).toLongLong();
    const int seconds = parser.value(QStringLiteral("seconds")).toInt();
    const int running = parser.value(QStringLiteral("running")).toInt();
    const bool idle = parser.isSet(QStringLiteral("idle"));

    QTemporaryDir temp(parser.isSet(QStringLiteral("dir"))
                           ? parser.value(QStringLiteral("dir")) + QStringLiteral("/console-XXXXXX")
                           : QString());
    if (!temp.isValid())
        fail(QStringLiteral("cannot create a temporary directory"));
    DatabaseConfig config;
    config.sqlitePath = temp.path() + QStringLiteral("/ferry.db");
    auto opened = SqliteStore::open(config);
    if (!opened)
        fail(opened.error().toString());
    SqliteStore &store = **opened;
    SystemClock clock;
    UserDirectory users(store, clock);
    QList<qint64> userIds;
    for (const char *name : {"alice", "bob", "carol", "dave"}) {
        auto user = users.addUser(QLatin1String(name));
        if (!user)
            fail(user.error().toString());
        userIds.append(user->user.id);
    }

    // The store: `jobs` noop jobs in batches of 10,000, then marked finished.
    QElapsedTimer fillTimer;
    fillTimer.start();
    const qint64 now = clock.nowMs();
    constexpr int Batch = 10'000;
    for (qint64 first = 1; first <= jobs; first += Batch) {
        QList<NewJob> batch;
        for (qint64 i = first; i < first + Batch && i <= jobs; ++i) {
            NewJob job;
            job.userId = userIds.at(int(i % userIds.size()));
            job.type = QStringLiteral("noop");
            job.payload = {{QStringLiteral("dataset"), QStringLiteral("ds%1").arg(i % 20)}};
            job.maxAttempts = 5;
            batch.append(job);
        }
        if (auto enqueued = store.enqueue(batch, now - (jobs - first)); !enqueued)
            fail(enqueued.error().toString());
    }
    const qint64 enqueueMs = fillTimer.elapsed();
    finishAllBut(config.sqlitePath, jobs, now);
    const qint64 fillMs = fillTimer.elapsed();

    // The engine: R concurrent sleep jobs for longer than the measurement.
    HandlerRegistry handlers;
    registerBuiltinHandlers(handlers);
    QueueConfig queueConfig;
    queueConfig.maxConcurrency = running;
    JobQueue queue(store, handlers, clock, queueConfig);
    Dispatcher dispatcher(queue, handlers, clock, QStringLiteral("bench"));
    if (auto set = dispatcher.setMaxConcurrency(running); !set)
        fail(set.error().toString());
    QList<NewJob> sleepers;
    const int sleepMs = 500;
    for (int i = 0; i < running * (seconds + 5) * 1000 / sleepMs; ++i) {
        NewJob job;
        job.userId = userIds.at(i % userIds.size());
        job.type = QStringLiteral("sleep");
        job.payload = {{QStringLiteral("ms"), sleepMs}};
        sleepers.append(job);
    }
    if (auto enqueued = queue.enqueueBatch(sleepers); !enqueued)
        fail(enqueued.error().toString());
    int finished = 0;
    QObject::connect(&dispatcher, &Dispatcher::jobFinished, &app, [&finished] { ++finished; });
    if (auto started = dispatcher.start(); !started)
        fail(started.error().toString());

    // The console page, as MainWindow builds it: one reader thread.
    QuotaLedger quotas(store, clock);
    QThreadPool readers;
    readers.setMaxThreadCount(1);
    ConsoleContext context{store,   queue,   &dispatcher, users,   quotas,
                           nullptr, nullptr, QString(),   &readers};
    auto *page = new JobsPage(context);
    page->resize(1200, 800);
    page->show();
    auto *view = page->findChild<QTableView *>(QStringLiteral("jobsView"));
    auto *status = page->findChild<QComboBox *>(QStringLiteral("statusFilter"));
    JobTableModel *model = page->model();
    int pages = 0;
    QObject::connect(model, &JobTableModel::pageLoaded, &app, [&pages] { ++pages; });

    // The stall meter: gaps between ticks of a 5 ms timer on the GUI thread.
    QList<double> gaps;
    // The same gaps less the time the GUI thread waited for a CPU (another process's turn on a
    // busy machine): what is left is our own work or waiting on our own locks.
    QList<double> ownGaps;
    QList<double> cpuInGaps;
    SchedStat lastStat;
    QElapsedTimer sinceTick;
    QTimer meter;
    meter.setTimerType(Qt::PreciseTimer);
    meter.setInterval(5);
    QObject::connect(&meter, &QTimer::timeout, &app, [&] {
        const double gap = double(sinceTick.nsecsElapsed()) / 1e6;
        sinceTick.start();
        const SchedStat stat = schedStat();
        gaps.append(gap);
        ownGaps.append(qMax(0.0, gap - (stat.waitMs - lastStat.waitMs)));
        cpuInGaps.append(stat.runMs - lastStat.runMs);
        lastStat = stat;
    });

    // The slowest synchronous handling of each kind of operator step.
    QHash<QString, double> slowestStep;

    // The operator: scroll to the end (loading pages), back to the top, change the filter.
    int step = 0;
    qint64 maxRows = 0;
    QTimer scroller;
    scroller.setInterval(50);
    QObject::connect(&scroller, &QTimer::timeout, &app, [&] {
        ++step;
        if (idle)
            return;
        QElapsedTimer took;
        took.start();
        QString kind;
        QScrollBar *bar = view->verticalScrollBar();
        maxRows = qMax<qint64>(maxRows, model->rowCount());
        if (step % 40 == 0) {
            // Every 2 s: any status, failed, completed, any status again...
            const int choices[] = {0, 4, 3};
            status->setCurrentIndex(choices[(step / 40) % 3]);
            kind = QStringLiteral("filter");
        } else if (step % 20 == 0) {
            bar->setValue(0);
            kind = QStringLiteral("top");
        } else if (step % 2 == 0) {
            bar->setValue(bar->maximum());
            kind = QStringLiteral("end");
        } else {
            view->scrollTo(model->index(qMax(0, model->rowCount() / 2), 0));
            kind = QStringLiteral("middle");
        }
        double &slowest = slowestStep[kind];
        slowest = qMax(slowest, double(took.nsecsElapsed()) / 1e6);
    });

    QElapsedTimer measured;
    const auto startMeasuring = [&] {
        gaps.clear();
        ownGaps.clear();
        cpuInGaps.clear();
        lastStat = schedStat();
        sinceTick.start();
        measured.start();
        meter.start();
        scroller.start();
        QTimer::singleShot(seconds * 1000, Qt::PreciseTimer, &app, &QApplication::quit);
    };
    // Let the first page and the count arrive, then measure.
    QTimer::singleShot(1000, &app, startMeasuring);
    app.exec();
    meter.stop();
    scroller.stop();
    const qint64 measuredMs = measured.elapsed();
    const int runningAtEnd = dispatcher.runningCount();
    delete page;
    readers.waitForDone();
    dispatcher.stop();

    QJsonObject out{
        {QStringLiteral("jobs"), double(jobs)},
        {QStringLiteral("fill_ms"), double(fillMs)},
        {QStringLiteral("enqueue_ms"), double(enqueueMs)},
        {QStringLiteral("measured_ms"), double(measuredMs)},
        {QStringLiteral("ticks"), double(gaps.size())},
        {QStringLiteral("max_gap_ms"),
         gaps.isEmpty() ? 0.0 : *std::max_element(gaps.cbegin(), gaps.cend())},
        {QStringLiteral("p99_gap_ms"), percentile(gaps, 0.99)},
        {QStringLiteral("p50_gap_ms"), percentile(gaps, 0.5)},
        {QStringLiteral("gaps_over_50ms"),
         double(std::count_if(gaps.cbegin(), gaps.cend(), [](double g) { return g > 50.0; }))},
        {QStringLiteral("max_gap_less_cpu_wait_ms"),
         ownGaps.isEmpty() ? 0.0 : *std::max_element(ownGaps.cbegin(), ownGaps.cend())},
        {QStringLiteral("p99_gap_less_cpu_wait_ms"), percentile(ownGaps, 0.99)},
        {QStringLiteral("max_gui_cpu_in_a_gap_ms"),
         cpuInGaps.isEmpty() ? 0.0 : *std::max_element(cpuInGaps.cbegin(), cpuInGaps.cend())},
        {QStringLiteral("mode"), idle ? QStringLiteral("idle") : QStringLiteral("scrolling")},
        {QStringLiteral("rows_loaded_max"), double(maxRows)},
        {QStringLiteral("pages_loaded"), pages},
        {QStringLiteral("sleep_jobs_finished"), finished},
        {QStringLiteral("running_at_end"), runningAtEnd},
        {QStringLiteral("concurrency"), running},
    };
    QJsonObject steps;
    for (auto it = slowestStep.cbegin(); it != slowestStep.cend(); ++it)
        steps.insert(it.key(), it.value());
    out.insert(QStringLiteral("slowest_step_ms"), steps);
    std::printf("%s\n", QJsonDocument(out).toJson(QJsonDocument::Compact).constData());
    return 0;
}
