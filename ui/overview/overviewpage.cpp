#include "ui/overview/overviewpage.h"

#include "monitor/resourcemonitor.h"
#include "queue/dispatcher.h"
#include "store/store.h"
#include "ui/overview/metricchart.h"
#include "ui/runonpool.h"

#include <QComboBox>
#include <QDateTime>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QStackedWidget>
#include <QTableWidget>
#include <QThreadPool>
#include <QTimer>
#include <QVBoxLayout>

namespace Ferry {

struct OverviewPage::Snapshot
{
    QHash<JobStatus, qint64> counts;
    QList<Job> latest;
    QHash<qint64, QString> userNames;
    QString error;
};

namespace {
constexpr int LatestJobs = 200;

constexpr double MiB = 1024.0 * 1024.0;

// What each range shows: its span and the time axis's label format.
struct RangeView
{
    qint64 spanMs;
    const char *timeFormat;
};
RangeView rangeView(MetricRange range)
{
    switch (range) {
    case MetricRange::LastMinute:
        return {60'000, "HH:mm:ss"};
    case MetricRange::Last15Minutes:
        return {15 * 60'000, "HH:mm"};
    case MetricRange::Last24Hours:
        return {24 * 3'600'000LL, "HH:mm"};
    }
    return {60'000, "HH:mm:ss"};
}

QString number(double value, int decimals = 0)
{
    return value < 0 ? QStringLiteral("–") : QString::number(value, 'f', decimals);
}

QString formatTime(qint64 ms)
{
    return ms > 0
               ? QDateTime::fromMSecsSinceEpoch(ms).toString(QStringLiteral("yyyy-MM-dd HH:mm:ss"))
               : QString();
}
} // namespace

OverviewPage::OverviewPage(ConsoleContext &context, QWidget *parent)
    : QWidget(parent), m_context(context)
{
    setObjectName(QStringLiteral("overviewpage"));
    auto *layout = new QVBoxLayout(this);
    layout->addLayout(buildHeader());
    layout->addWidget(buildCharts(), 3);
    layout->addWidget(buildLatestJobs(), 2);
    connectMonitor();
    connect(m_range, &QComboBox::currentIndexChanged, this, &OverviewPage::refreshCharts);
    showCurrentLimit();
    refreshCharts();

    auto *timer = new QTimer(this);
    timer->setInterval(1000);
    connect(timer, &QTimer::timeout, this, &OverviewPage::refresh);
    timer->start();
    refresh();
}

// Job counts, the concurrency limit and the charts' time range.
QHBoxLayout *OverviewPage::buildHeader()
{
    auto *header = new QHBoxLayout;
    m_summary = new QLabel(this);
    m_summary->setObjectName(QStringLiteral("summary"));
    m_summary->setTextFormat(Qt::RichText);
    header->addWidget(m_summary, 1);
    m_limit = new QLabel(this);
    m_limit->setObjectName(QStringLiteral("limit"));
    header->addWidget(m_limit);
    m_range = new QComboBox(this);
    m_range->setObjectName(QStringLiteral("range"));
    m_range->setProperty("ferryRemember", true); // WindowState keeps the choice across starts
    m_range->addItem(QStringLiteral("Last minute"), int(MetricRange::LastMinute));
    m_range->addItem(QStringLiteral("Last 15 minutes"), int(MetricRange::Last15Minutes));
    m_range->addItem(QStringLiteral("Last 24 hours"), int(MetricRange::Last24Hours));
    m_range->setToolTip(QStringLiteral("The charts' time range"));
    m_range->setVisible(m_context.chartFeed() != nullptr); // no charts without samples
    header->addWidget(m_range);
    return header;
}

// The latest jobs, or, before there are any, how to queue some.
QStackedWidget *OverviewPage::buildLatestJobs()
{
    m_body = new QStackedWidget(this);
    m_body->setObjectName(QStringLiteral("body"));
    auto *empty = new QLabel(
        QStringLiteral(
            "<h3>No jobs yet</h3>"
            "<p>Create a user (it prints the user's API token once), then upload a file or "
            "queue some work from a shell:</p>"
            "<pre>ferry user add alice\n"
            "curl -H \"Authorization: Bearer $TOKEN\" -F dataset=people -F file=@people.csv \\\n"
            "     %1uploads\n"
            "ferry enqueue sleep --user alice --count 20 --payload '{\"ms\": 500}'</pre>"
            "<p>Jobs appear here as they are queued, run and finish.</p>")
            .arg((m_context.endpoint.isEmpty() ? QStringLiteral("http://127.0.0.1:8080/api/v1/")
                                               : m_context.endpoint)
                     .toHtmlEscaped()),
        this);
    empty->setAlignment(Qt::AlignCenter);
    empty->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_body->addWidget(empty);

    m_table = new QTableWidget(0, 8, this);
    m_table->setObjectName(QStringLiteral("jobsTable"));
    m_table->setHorizontalHeaderLabels({QStringLiteral("Id"), QStringLiteral("User"),
                                        QStringLiteral("Type"), QStringLiteral("Status"),
                                        QStringLiteral("Priority"), QStringLiteral("Attempts"),
                                        QStringLiteral("Created"), QStringLiteral("Error")});
    m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    m_table->horizontalHeader()->setStretchLastSection(true);
    m_table->verticalHeader()->hide();
    m_table->setWordWrap(false);
    m_table->setAlternatingRowColors(true);
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_body->addWidget(m_table);
    return m_body;
}

// The monitor's (or, observing, the cluster's) samples redraw the charts; the monitor's limit
// and its pause show in the header.
void OverviewPage::connectMonitor()
{
    // Both emit on their own thread: these connections are queued.
    if (MetricFeed *feed = m_context.chartFeed()) {
        connect(feed, &MetricFeed::sampled, this, &OverviewPage::scheduleCharts,
                Qt::QueuedConnection);
    }
    ResourceMonitor *monitor = m_context.monitor;
    if (!monitor)
        return;
    connect(monitor, &ResourceMonitor::limitChanged, this, &OverviewPage::showLimit,
            Qt::QueuedConnection);
    connect(
        monitor, &ResourceMonitor::claimingPausedChanged, this,
        [this](bool, const QString &reason) {
            m_claimingReason = reason;
            showCurrentLimit();
        },
        Qt::QueuedConnection);
}

QWidget *OverviewPage::buildCharts()
{
    if (!m_context.chartFeed()) {
        auto *none = new QLabel(
            QStringLiteral("Resource charts appear here when the engine's resource monitor runs "
                           "(the console started by 'ferry' always runs one)."),
            this);
        none->setObjectName(QStringLiteral("noMonitor"));
        none->setAlignment(Qt::AlignCenter);
        none->setWordWrap(true);
        return none;
    }
    auto *charts = new QWidget(this);
    charts->setObjectName(QStringLiteral("charts"));
    auto *grid = new QGridLayout(charts);
    grid->setContentsMargins(0, 0, 0, 0);
    grid->setSpacing(6);
    const QColor blue(0x1f, 0x77, 0xb4), orange(0xff, 0x7f, 0x0e), green(0x2c, 0xa0, 0x2c),
        red(0xd6, 0x27, 0x28), purple(0x94, 0x67, 0xbd), grey(0x7f, 0x7f, 0x7f);
    auto make = [&](const char *name, const QString &title, const QString &unit) {
        auto *chart = new MetricChart(title, unit, charts);
        chart->setObjectName(QLatin1String(name));
        return chart;
    };
    // Observing a cluster: every node's figures together (ClusterMetrics says how).
    const bool cluster = m_context.observing();
    m_memory =
        make("memoryChart",
             cluster ? QStringLiteral("Memory (RSS, all nodes)") : QStringLiteral("Memory (RSS)"),
             QStringLiteral("MiB"));
    m_memory->addLine(QStringLiteral("RSS"), blue);
    m_cpu =
        make("cpuChart", cluster ? QStringLiteral("CPU (mean of nodes)") : QStringLiteral("CPU"),
             QStringLiteral("%"));
    m_cpu->addLine(QStringLiteral("CPU"), orange);
    m_jobs =
        make("jobsChart",
             cluster ? QStringLiteral("Active jobs (all nodes)") : QStringLiteral("Active jobs"),
             QStringLiteral("jobs"));
    m_jobs->addLine(QStringLiteral("running"), green);
    m_jobs->addLine(QStringLiteral("limit"), grey, true);
    m_queueDepth = make("queueChart", QStringLiteral("Queue depth"), QStringLiteral("jobs"));
    m_queueDepth->addLine(QStringLiteral("pending"), purple);
    m_throughput =
        make("throughputChart", QStringLiteral("Throughput"), QStringLiteral("jobs/min"));
    m_throughput->addLine(QStringLiteral("completed"), green);
    m_http = make("httpChart", QStringLiteral("HTTP"), QStringLiteral("req/s"));
    m_http->addLine(QStringLiteral("requests"), blue);
    m_http->addLine(QStringLiteral("429s"), red);
    const QList<MetricChart *> all{m_memory, m_cpu, m_jobs, m_queueDepth, m_throughput, m_http};
    for (int i = 0; i < all.size(); ++i)
        grid->addWidget(all.at(i), i / 3, i % 3);
    return charts;
}

void OverviewPage::scheduleCharts()
{
    // Samples that arrived together (a busy GUI thread, a history load) redraw once; a hidden
    // page does not redraw at all (showEvent catches up).
    if (m_chartsScheduled || !isVisible())
        return;
    m_chartsScheduled = true;
    QTimer::singleShot(0, this, [this] {
        m_chartsScheduled = false;
        refreshCharts();
    });
}

void OverviewPage::showEvent(QShowEvent *event)
{
    QWidget::showEvent(event);
    refreshCharts();
}

MetricRange OverviewPage::range() const
{
    return MetricRange(m_range->currentData().toInt());
}

void OverviewPage::refreshCharts()
{
    MetricFeed *feed = m_context.chartFeed();
    if (!feed || !m_memory)
        return;
    // A copy of at most 1440 samples under the feed's mutex: no SQL, no I/O.
    const QList<ResourceSample> samples = feed->history(range());
    const RangeView view = rangeView(range());
    const qint64 end = samples.isEmpty() ? QDateTime::currentMSecsSinceEpoch()
                                         : qMax(samples.constLast().timestampMs,
                                                samples.constFirst().timestampMs + view.spanMs);
    QList<QPointF> rss, cpu, active, limit, depth, throughput, requests, limited;
    for (const ResourceSample &s : samples) {
        const auto x = double(s.timestampMs);
        if (s.rssBytes >= 0)
            rss.append({x, double(s.rssBytes) / MiB});
        if (s.cpuPercent >= 0)
            cpu.append({x, s.cpuPercent});
        active.append({x, double(s.activeJobs)});
        limit.append({x, double(s.concurrencyLimit)});
        depth.append({x, double(s.queueDepth)});
        throughput.append({x, s.jobsCompletedPerMin});
        requests.append({x, s.httpRequestsPerSec});
        limited.append({x, s.http429PerSec});
    }
    const QList<MetricChart *> all{m_memory, m_cpu, m_jobs, m_queueDepth, m_throughput, m_http};
    for (MetricChart *chart : all)
        chart->setWindow(end - view.spanMs, end, QLatin1String(view.timeFormat));
    m_memory->setPoints(0, rss);
    m_cpu->setPoints(0, cpu);
    m_jobs->setPoints(0, active);
    m_jobs->setPoints(1, limit);
    m_queueDepth->setPoints(0, depth);
    m_throughput->setPoints(0, throughput);
    m_http->setPoints(0, requests);
    m_http->setPoints(1, limited);

    // The current values: the newest one-second sample, whatever the range.
    const auto latest = feed->latest();
    if (m_context.observing())
        showCurrentLimit(); // the cluster's, from its newest sample
    if (!latest)
        return;
    const ResourceSample &s = *latest;
    m_memory->setCurrent(s.rssBytes < 0
                             ? QStringLiteral("–")
                             : number(double(s.rssBytes) / MiB) + QStringLiteral(" MiB"));
    m_cpu->setCurrent(number(s.cpuPercent, 1) + QStringLiteral(" %"));
    m_jobs->setCurrent(QStringLiteral("%1 of %2").arg(s.activeJobs).arg(s.concurrencyLimit));
    m_queueDepth->setCurrent(QString::number(s.queueDepth));
    m_throughput->setCurrent(number(s.jobsCompletedPerMin, 1) + QStringLiteral("/min"));
    m_http->setCurrent(QStringLiteral("%1/s · 429: %2/s")
                           .arg(number(s.httpRequestsPerSec, 1), number(s.http429PerSec, 1)));
}

void OverviewPage::showLimit(int effective, int configured, const QString &reason)
{
    m_limitReason = effective < configured ? reason : QString();
    m_limit->setText(effective < configured
                         ? QStringLiteral("Concurrency: <b>%1</b> (adaptive) of %2 configured%3")
                               .arg(effective)
                               .arg(configured)
                               .arg(reason.isEmpty()
                                        ? QString()
                                        : QStringLiteral(" — ") + reason.toHtmlEscaped())
                         : QStringLiteral("Concurrency: <b>%1</b> configured").arg(configured));
    if (m_context.dispatcher && m_context.dispatcher->claimingPaused()) {
        m_limit->setText(m_limit->text() +
                         QStringLiteral(" · <b>not starting jobs</b>%1")
                             .arg(m_claimingReason.isEmpty()
                                      ? QString()
                                      : QStringLiteral(": ") + m_claimingReason.toHtmlEscaped()));
    }
}

// This node's limit; observing a cluster, every node's together, from the newest sample.
void OverviewPage::showCurrentLimit()
{
    if (const Dispatcher *dispatcher = m_context.dispatcher) {
        showLimit(dispatcher->effectiveConcurrency(), dispatcher->maxConcurrency(), m_limitReason);
        return;
    }
    const MetricFeed *feed = m_context.chartFeed();
    const auto latest = feed ? feed->latest() : std::nullopt;
    m_limit->setText(
        latest ? QStringLiteral("Cluster: <b>%1</b> running of %2 allowed · observing, no jobs "
                                "run here")
                     .arg(latest->activeJobs)
                     .arg(latest->concurrencyLimit)
               : QStringLiteral("Observing the cluster: no jobs run here"));
}

QCoro::Task<> OverviewPage::refresh()
{
    if (m_refreshing)
        co_return; // the previous read is still running; never queue reads up
    m_refreshing = true;
    Store *store = &m_context.store;
    auto reading = runOnPool(this, m_context.readers, [store] {
        Snapshot snapshot;
        auto counts = store->countByStatus();
        JobFilter filter;
        filter.newestFirst = true;
        filter.limit = LatestJobs;
        auto latest = store->jobs(filter);
        auto users = store->users();
        if (!counts || !latest || !users) {
            snapshot.error = (!counts   ? counts.error()
                              : !latest ? latest.error()
                                        : users.error())
                                 .toString();
        } else {
            snapshot.counts = *counts;
            snapshot.latest = *latest;
            for (const User &user : std::as_const(*users))
                snapshot.userNames.insert(user.id, user.name);
        }
        return snapshot;
    });
    const auto snapshot = co_await reading;
    if (!snapshot)
        co_return; // the page is gone
    m_refreshing = false;
    apply(*snapshot);
}

void OverviewPage::apply(const Snapshot &snapshot)
{
    QStringList parts;
    for (int s = int(JobStatus::Pending); s <= int(JobStatus::Dead); ++s) {
        parts.append(QStringLiteral("%1 <b>%2</b>")
                         .arg(jobStatusName(JobStatus(s)))
                         .arg(snapshot.counts.value(JobStatus(s))));
    }
    m_summary->setText(parts.join(QStringLiteral(" &nbsp;·&nbsp; ")));
    // The operator may have changed the maximum since the governor last spoke.
    showCurrentLimit();
    Q_EMIT storeRead(snapshot.error);

    m_body->setCurrentIndex(snapshot.latest.isEmpty() ? 0 : 1);
    m_table->setRowCount(int(snapshot.latest.size()));
    for (int row = 0; row < snapshot.latest.size(); ++row) {
        const Job &job = snapshot.latest.at(row);
        const QStringList cells{QString::number(job.id),
                                snapshot.userNames.value(job.userId, QString::number(job.userId)),
                                job.type,
                                jobStatusName(job.status),
                                QString::number(job.priority),
                                QStringLiteral("%1/%2").arg(job.attempts).arg(job.maxAttempts),
                                formatTime(job.createdAt),
                                job.error};
        for (int column = 0; column < cells.size(); ++column) {
            auto *item = m_table->item(row, column);
            if (!item) {
                item = new QTableWidgetItem;
                m_table->setItem(row, column, item);
            }
            item->setText(cells.at(column));
        }
    }
}

} // namespace Ferry
