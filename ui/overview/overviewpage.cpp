#include "overview/overviewpage.h"

#include "store/store.h"

#include <QDateTime>
#include <QFutureWatcher>
#include <QHeaderView>
#include <QLabel>
#include <QStackedWidget>
#include <QTableWidget>
#include <QThreadPool>
#include <QTimer>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

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
    m_summary = new QLabel(this);
    m_summary->setObjectName(QStringLiteral("summary"));
    m_summary->setTextFormat(Qt::RichText);
    layout->addWidget(m_summary);

    m_body = new QStackedWidget(this);
    m_body->setObjectName(QStringLiteral("body"));
    auto *empty = new QLabel(
        QStringLiteral("<h3>No jobs yet</h3>"
                       "<p>Create a user and queue some work from a shell:</p>"
                       "<pre>ferry user add alice\n"
                       "ferry enqueue sleep --user alice --count 20 --payload '{\"ms\": 500}'</pre>"
                       "<p>Jobs appear here as they are queued, run and finish.</p>"),
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
    layout->addWidget(m_body, 1);

    auto *timer = new QTimer(this);
    timer->setInterval(1000);
    connect(timer, &QTimer::timeout, this, &OverviewPage::refresh);
    timer->start();
    refresh();
}

void OverviewPage::refresh()
{
    if (m_refreshing)
        return; // the previous read is still running; never queue reads up
    m_refreshing = true;
    auto *watcher = new QFutureWatcher<Snapshot>(this);
    connect(watcher, &QFutureWatcher<Snapshot>::finished, this, [this, watcher] {
        m_refreshing = false;
        apply(watcher->result());
        watcher->deleteLater();
    });
    Store *store = &m_context.store;
    watcher->setFuture(QtConcurrent::run(m_context.readers, [store] {
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
    }));
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
