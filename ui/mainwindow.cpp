#include "mainwindow.h"

#include "config/ferryconfig.h"
#include "logpane.h"
#include "monitor/resourcemonitor.h"
#include "queue/dispatcher.h"
#include "queue/jobqueue.h"
#include "ui/datasets/datasetspage.h"
#include "ui/jobs/jobspage.h"
#include "ui/nodes/nodespage.h"
#include "ui/overview/overviewpage.h"
#include "ui/runonpool.h"
#include "ui/settings/settingspage.h"
#include "ui/users/userspage.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QListWidget>
#include <QMessageBox>
#include <QPushButton>
#include <QSignalBlocker>
#include <QSpinBox>
#include <QStackedWidget>
#include <QStatusBar>
#include <QThreadPool>
#include <QTimer>
#include <QToolBar>

namespace Ferry {

MainWindow::MainWindow(ConsoleContext context, QWidget *parent)
    : QMainWindow(parent), m_context(context), m_readers(new QThreadPool(this))
{
    setWindowTitle(QStringLiteral("Ferry"));
    resize(1100, 700);
    m_readers->setMaxThreadCount(1);
    m_readers->setObjectName(QStringLiteral("ferry-console-reader"));
    m_context.readers = m_readers;

    buildToolbar();

    auto *central = new QWidget(this);
    auto *layout = new QHBoxLayout(central);
    m_navigation = new QListWidget(this);
    m_navigation->setObjectName(QStringLiteral("navigation"));
    m_navigation->addItems({QStringLiteral("Overview"), QStringLiteral("Jobs"),
                            QStringLiteral("Datasets"), QStringLiteral("Users and quotas"),
                            QStringLiteral("Settings"), QStringLiteral("Nodes")});
    m_navigation->setFixedWidth(160);
    layout->addWidget(m_navigation);
    m_pages = new QStackedWidget(this);
    m_pages->setObjectName(QStringLiteral("pages"));
    m_overview = new OverviewPage(m_context, this);
    m_pages->addWidget(m_overview);
    m_pages->addWidget(new JobsPage(m_context, this));
    m_pages->addWidget(new DatasetsPage(m_context, this));
    m_pages->addWidget(new UsersPage(m_context, this));
    m_pages->addWidget(new SettingsPage(m_context, this));
    auto *nodes = new NodesPage(m_context, this); // cluster: every node on the database
    m_pages->addWidget(nodes);
    layout->addWidget(m_pages, 1);
    setCentralWidget(central);
    connect(m_navigation, &QListWidget::currentRowChanged, m_pages,
            &QStackedWidget::setCurrentIndex);
    m_navigation->setCurrentRow(Overview);

    m_log = new LogPane(m_context.log, this);
    addDockWidget(Qt::BottomDockWidgetArea, m_log);
    resizeDocks({m_log}, {150}, Qt::Vertical);
    findChild<QToolBar *>(QStringLiteral("queueToolbar"))->addAction(m_log->toggleViewAction());

    buildStatusBar();
    // Cluster: the status bar counts the nodes the Nodes page reads (every 2 s).
    connect(nodes, &NodesPage::nodesRead, this, [this](int count, const QString &error) {
        if (error.isEmpty())
            m_nodes->setText(count == 1 ? QStringLiteral("1 node")
                                        : QStringLiteral("%1 nodes").arg(count));
    });
    connect(m_overview, &OverviewPage::storeRead, this, &MainWindow::updateStatus);
    connect(&m_context.queue, &JobQueue::pausedChanged, this, [this] { updateStatus({}); });
    connect(&m_context.queue, &JobQueue::maxPerUserChanged, this, [this](int cap) {
        const QSignalBlocker quiet(m_perUserCap);
        m_perUserCap->setValue(cap);
    });
    if (m_context.monitor) {
        // Emitted on the monitor's thread: queued.
        connect(m_context.monitor, &ResourceMonitor::limitChanged, this, &MainWindow::updateLimits,
                Qt::QueuedConnection);
    }
    updateStatus({});
}

void MainWindow::buildToolbar()
{
    auto *toolbar = addToolBar(QStringLiteral("Queue"));
    toolbar->setObjectName(QStringLiteral("queueToolbar"));
    toolbar->setMovable(false);
    m_pauseButton = new QPushButton(this);
    m_pauseButton->setObjectName(QStringLiteral("pauseButton"));
    m_pauseButton->setToolTip(
        QStringLiteral("Paused: running jobs finish, nothing new starts. Persisted."));
    connect(m_pauseButton, &QPushButton::clicked, this, &MainWindow::togglePaused);
    toolbar->addWidget(m_pauseButton);
    toolbar->addSeparator();
    toolbar->addWidget(new QLabel(QStringLiteral(" Max concurrent jobs "), this));
    m_concurrency = new QSpinBox(this);
    m_concurrency->setObjectName(QStringLiteral("concurrency"));
    m_concurrency->setRange(QueueConfig::MinConcurrency, QueueConfig::MaxConcurrency);
    m_concurrency->setValue(m_context.dispatcher.maxConcurrency());
    m_concurrency->setToolTip(QStringLiteral("Applied at once; running jobs are not interrupted."));
    connect(m_concurrency, &QSpinBox::valueChanged, this, [this](int value) {
        (void)m_context.dispatcher.setMaxConcurrency(value);
        updateLimits();
    });
    toolbar->addWidget(m_concurrency);
    m_effective = new QLabel(this);
    m_effective->setObjectName(QStringLiteral("effectiveLimit"));
    m_effective->setToolTip(
        QStringLiteral("The adaptive limit: the resource governor lowers it under memory or CPU "
                       "pressure and raises it back up to the configured maximum."));
    toolbar->addWidget(m_effective);
    toolbar->addSeparator();
    toolbar->addWidget(new QLabel(QStringLiteral(" Per user "), this));
    m_perUserCap = new QSpinBox(this);
    m_perUserCap->setObjectName(QStringLiteral("perUserCap"));
    m_perUserCap->setRange(0, QueueConfig::MaxPerUserLimit);
    m_perUserCap->setSpecialValueText(QStringLiteral("no cap"));
    m_perUserCap->setValue(m_context.queue.maxPerUser());
    m_perUserCap->setToolTip(
        QStringLiteral("At most this many running jobs per user; applied at once, persisted."));
    connect(m_perUserCap, &QSpinBox::valueChanged, this, &MainWindow::setPerUserCap);
    toolbar->addWidget(m_perUserCap);
    toolbar->addSeparator();
    updateLimits();
}

void MainWindow::buildStatusBar()
{
    m_status = new QLabel(this);
    m_status->setObjectName(QStringLiteral("statusText"));
    statusBar()->addWidget(m_status, 1);
    m_pausedIndicator = new QLabel(QStringLiteral(" PAUSED "), this);
    m_pausedIndicator->setObjectName(QStringLiteral("pausedIndicator"));
    m_pausedIndicator->setStyleSheet(
        QStringLiteral("QLabel { background: #c62828; color: white; font-weight: bold; }"));
    m_pausedIndicator->setToolTip(QStringLiteral("The queue is paused: nothing new starts."));
    statusBar()->addPermanentWidget(m_pausedIndicator);
    m_endpoint = new QLabel(this);
    m_endpoint->setObjectName(QStringLiteral("endpointStatus"));
    m_endpoint->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_endpoint->setText(m_context.endpoint.isEmpty()
                            ? QStringLiteral("API: not listening")
                            : QStringLiteral("API: %1 (listening)").arg(m_context.endpoint));
    statusBar()->addPermanentWidget(m_endpoint);
    m_nodes = new QLabel(this);
    m_nodes->setObjectName(QStringLiteral("nodeCount"));
    // This node, until the Nodes page's first read counts every node on the database.
    m_nodes->setText(QStringLiteral("1 node"));
    m_nodes->setToolTip(QStringLiteral("This node: %1").arg(m_context.dispatcher.nodeId()));
    statusBar()->addPermanentWidget(m_nodes);
    auto *timer = new QTimer(this); // running count and the adaptive limit change without signals
    timer->setInterval(1000);
    connect(timer, &QTimer::timeout, this, &MainWindow::updateLimits);
    timer->start();
}

// Queue settings are SQL writes: they run on the reader pool (one thread, so in click order).
QCoro::Task<> MainWindow::setPerUserCap(int cap)
{
    JobQueue *queue = &m_context.queue;
    auto writing = runOnPool(this, m_readers, [queue, cap] { return queue->setMaxPerUser(cap); });
    const auto written = co_await writing;
    if (!written)
        co_return; // the window is gone
    {
        const QSignalBlocker quiet(m_perUserCap);
        m_perUserCap->setValue(m_context.queue.maxPerUser());
    }
    warnIfFailed(*written);
}

void MainWindow::warnIfFailed(const Result<void> &write)
{
    if (!write)
        QMessageBox::warning(this, QStringLiteral("Ferry"), write.error().toString());
}

void MainWindow::updateLimits()
{
    const int effective = m_context.dispatcher.effectiveConcurrency();
    const int configured = m_context.dispatcher.maxConcurrency();
    m_effective->setText(effective < configured
                             ? QStringLiteral(" adaptive: <b>%1</b> ").arg(effective)
                             : QStringLiteral(" adaptive: %1 ").arg(effective));
}

MainWindow::~MainWindow()
{
    m_readers->waitForDone();
}

void MainWindow::showPage(Page page)
{
    m_navigation->setCurrentRow(page);
}

void MainWindow::updateStatus(const QString &storeError)
{
    const bool paused = m_context.queue.isPaused();
    m_pausedIndicator->setVisible(paused);
    m_pauseButton->setText(paused ? QStringLiteral("Resume queue") : QStringLiteral("Pause queue"));
    m_status->setText(
        storeError.isEmpty()
            ? QStringLiteral("%1 running of %2 allowed%3")
                  .arg(m_context.dispatcher.runningCount())
                  .arg(m_context.dispatcher.effectiveConcurrency())
                  .arg(paused ? QStringLiteral(" · PAUSED: nothing new starts") : QString())
            : QStringLiteral("Store error: ") + storeError);
}

QCoro::Task<> MainWindow::togglePaused()
{
    JobQueue *queue = &m_context.queue;
    const bool paused = !queue->isPaused();
    m_pauseButton->setEnabled(false); // until this write is done
    auto writing = runOnPool(this, m_readers, [queue, paused] { return queue->setPaused(paused); });
    const auto written = co_await writing;
    if (!written)
        co_return; // the window is gone
    m_pauseButton->setEnabled(true);
    updateStatus({});
    m_overview->refresh();
    warnIfFailed(*written);
}

} // namespace Ferry
