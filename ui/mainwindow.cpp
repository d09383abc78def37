#include "mainwindow.h"

#include "config/ferryconfig.h"
#include "logpane.h"
#include "monitor/resourcemonitor.h"
#include "queue/dispatcher.h"
#include "queue/jobqueue.h"
#include "ui/aboutdialog.h"
#include "ui/attention/attention.h"
#include "ui/attention/notificationsettings.h"
#include "ui/attention/trayicon.h"
#include "ui/consoleicons.h"
#include "ui/datasets/datasetspage.h"
#include "ui/jobs/jobspage.h"
#include "ui/nodes/nodespage.h"
#include "ui/overview/overviewpage.h"
#include "ui/runonpool.h"
#include "ui/settings/settingspage.h"
#include "ui/users/userspage.h"
#include "ui/windowstate.h"

#include <QAction>
#include <QCloseEvent>
#include <QCoreApplication>
#include <QHBoxLayout>
#include <QLabel>
#include <QListWidget>
#include <QMenu>
#include <QMenuBar>
#include <QMessageBox>
#include <QPushButton>
#include <QSettings>
#include <QSignalBlocker>
#include <QSpinBox>
#include <QStackedWidget>
#include <QStatusBar>
#include <QSystemTrayIcon>
#include <QThreadPool>
#include <QTimer>
#include <QToolBar>

namespace Ferry {

MainWindow::MainWindow(ConsoleContext context, QWidget *parent)
    : QMainWindow(parent), m_context(context), m_readers(new QThreadPool(this))
{
    setWindowTitle(m_context.observing() ? QStringLiteral("Ferry — observing the cluster")
                                         : QStringLiteral("Ferry"));
    setWindowIcon(applicationIcon());
    resize(1100, 700); // WindowState sizes it to the screen, or as it was left
    m_readers->setMaxThreadCount(1);
    m_readers->setObjectName(QStringLiteral("ferry-console-reader"));
    m_context.readers = m_readers;

    auto *central = new QWidget(this);
    auto *layout = new QHBoxLayout(central);
    m_navigation = new QListWidget(this);
    m_navigation->setObjectName(QStringLiteral("navigation"));
    layout->addWidget(m_navigation);
    m_pages = new QStackedWidget(this);
    m_pages->setObjectName(QStringLiteral("pages"));
    m_overview = new OverviewPage(m_context, this);
    m_jobs = new JobsPage(m_context, this);
    connect(m_jobs, &JobsPage::selectionChanged, this, &MainWindow::updateActions);
    m_datasets = new DatasetsPage(m_context, this);
    m_users = new UsersPage(m_context, this);
    m_settings = new SettingsPage(m_context, this);
    m_nodesPage = new NodesPage(m_context, this); // cluster: every node on the database
    for (QWidget *page : {static_cast<QWidget *>(m_overview), static_cast<QWidget *>(m_jobs),
                          static_cast<QWidget *>(m_datasets), static_cast<QWidget *>(m_users),
                          static_cast<QWidget *>(m_settings), static_cast<QWidget *>(m_nodesPage)})
        m_pages->addWidget(page);
    layout->addWidget(m_pages, 1);
    setCentralWidget(central);

    m_log = new LogPane(m_context.log, this);
    addDockWidget(Qt::BottomDockWidgetArea, m_log);
    resizeDocks({m_log}, {110}, Qt::Vertical); // the log is a glance, not the work

    buildActions();
    buildMenus();
    buildToolbar();
    buildNavigation();
    buildStatusBar();
    buildAttention();
    // Cluster: the status bar counts the nodes the Nodes page reads (every 2 s).
    connect(m_nodesPage, &NodesPage::nodesRead, this, [this](int count, const QString &error) {
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
    if (m_context.windowSettings) {
        WindowState::restore(*m_context.windowSettings, *this);
        const int page = m_context.windowSettings->value(QStringLiteral("window/page")).toInt();
        showPage(page >= 0 && page < PageCount ? Page(page) : Overview);
    }
    updateStatus({});
}

QAction *MainWindow::addAction(const QString &name,
                               const QString &icon,
                               const QString &text,
                               const QKeySequence &shortcut,
                               const QString &tip)
{
    auto *action = new QAction(icon.isEmpty() ? QIcon() : consoleIcon(icon), text, this);
    action->setObjectName(name + QStringLiteral("Action"));
    action->setShortcut(shortcut);
    action->setToolTip(shortcut.isEmpty() ? tip
                                          : QStringLiteral("%1 (%2)").arg(
                                                tip, shortcut.toString(QKeySequence::NativeText)));
    action->setStatusTip(tip);
    m_actions.insert(name, action);
    return action;
}

QAction *MainWindow::action(const QString &name) const
{
    return m_actions.value(name);
}

// Every command of the window is a QAction: the menus and the tool bar show the same ones.
void MainWindow::buildActions()
{
    auto *pause = addAction(QStringLiteral("pause"), QStringLiteral("media-playback-pause"),
                            QStringLiteral("&Pause queue"), QKeySequence(Qt::CTRL | Qt::Key_P),
                            QStringLiteral("Paused: running jobs finish, nothing new starts. "
                                           "Persisted."));
    connect(pause, &QAction::triggered, this, &MainWindow::togglePaused);
    auto *refresh = addAction(QStringLiteral("refresh"), QStringLiteral("view-refresh"),
                              QStringLiteral("&Refresh"), QKeySequence::Refresh,
                              QStringLiteral("Read this page again now"));
    connect(refresh, &QAction::triggered, this, &MainWindow::refreshCurrentPage);
    auto *find = addAction(QStringLiteral("find"), QStringLiteral("edit-find"),
                           QStringLiteral("&Find jobs…"), QKeySequence::Find,
                           QStringLiteral("Search jobs by id, file or error"));
    connect(find, &QAction::triggered, this, [this] {
        showPage(Jobs);
        m_jobs->focusSearch();
    });
    auto *cancel = addAction(QStringLiteral("cancelSelected"), QStringLiteral("process-stop"),
                             QStringLiteral("&Cancel selected jobs"),
                             QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_X),
                             QStringLiteral("Cancel the jobs selected on the Jobs page"));
    connect(cancel, &QAction::triggered, m_jobs, &JobsPage::cancelSelected);
    auto *retry = addAction(QStringLiteral("retrySelected"), QStringLiteral("edit-redo"),
                            QStringLiteral("Re&try selected jobs"),
                            QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_R),
                            QStringLiteral("Retry the jobs selected on the Jobs page"));
    connect(retry, &QAction::triggered, m_jobs, &JobsPage::retrySelected);

    const QList<std::pair<QString, QString>> pages{
        {QStringLiteral("Overview"), QStringLiteral("utilities-system-monitor")},
        {QStringLiteral("Jobs"), QStringLiteral("system-run")},
        {QStringLiteral("Datasets"), QStringLiteral("x-office-spreadsheet")},
        {QStringLiteral("Users and quotas"), QStringLiteral("system-users")},
        {QStringLiteral("Settings"), QStringLiteral("preferences-system")},
        {QStringLiteral("Nodes"), QStringLiteral("network-server")}};
    for (int i = 0; i < pages.size(); ++i) {
        auto *page = addAction(QStringLiteral("page%1").arg(i + 1), pages[i].second, pages[i].first,
                               QKeySequence(Qt::CTRL | Qt::Key(Qt::Key_1 + i)),
                               QStringLiteral("Show the %1 page").arg(pages[i].first));
        connect(page, &QAction::triggered, this, [this, i] { showPage(Page(i)); });
    }

    auto *showLog = m_log->toggleViewAction();
    showLog->setText(QStringLiteral("Engine &log"));
    showLog->setIcon(consoleIcon(QStringLiteral("utilities-terminal")));
    showLog->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_L));
    showLog->setToolTip(QStringLiteral("Show or hide the engine log (Ctrl+L)"));
    m_actions.insert(QStringLiteral("showLog"), showLog);

    auto *about = addAction(QStringLiteral("about"), QStringLiteral("help-about"),
                            QStringLiteral("&About Ferry"), {},
                            QStringLiteral("Version, Qt, database and data directory"));
    connect(about, &QAction::triggered, this, [this] {
        auto *dialog = new AboutDialog(m_context, this);
        dialog->setAttribute(Qt::WA_DeleteOnClose);
        dialog->open();
    });
    auto *aboutQt = addAction(QStringLiteral("aboutQt"), {}, QStringLiteral("About &Qt"), {},
                              QStringLiteral("The Qt version and licence"));
    connect(aboutQt, &QAction::triggered, this, [this] { QMessageBox::aboutQt(this); });
    auto *quit = addAction(QStringLiteral("quit"), QStringLiteral("application-exit"),
                           QStringLiteral("&Quit"), QKeySequence(Qt::CTRL | Qt::Key_Q),
                           QStringLiteral("Close the console and stop this node's engine"));
    connect(quit, &QAction::triggered, this, [this] {
        m_quitting = true; // no "keep running in the tray?" question: the operator chose to stop
        close();
        QCoreApplication::quit(); // the window may already be hidden in the tray
    });
    for (QAction *a : std::as_const(m_actions))
        QWidget::addAction(a); // shortcuts work even with the tool bar hidden
}

void MainWindow::buildMenus()
{
    QMenu *file = menuBar()->addMenu(QStringLiteral("&File"));
    file->addAction(m_actions.value(QStringLiteral("quit")));
    QMenu *queue = menuBar()->addMenu(QStringLiteral("&Queue"));
    for (const char *name : {"pause", "cancelSelected", "retrySelected"})
        queue->addAction(m_actions.value(QLatin1String(name)));
    queue->addSeparator();
    queue->addAction(m_actions.value(QStringLiteral("find")));
    QMenu *view = menuBar()->addMenu(QStringLiteral("&View"));
    for (int i = 1; i <= PageCount; ++i)
        view->addAction(m_actions.value(QStringLiteral("page%1").arg(i)));
    view->addSeparator();
    view->addAction(m_actions.value(QStringLiteral("refresh")));
    view->addAction(m_actions.value(QStringLiteral("showLog")));
    QMenu *help = menuBar()->addMenu(QStringLiteral("&Help"));
    help->addAction(m_actions.value(QStringLiteral("about")));
    help->addAction(m_actions.value(QStringLiteral("aboutQt")));
}

void MainWindow::buildNavigation()
{
    m_navigation->setIconSize(QSize(22, 22));
    for (int i = 1; i <= PageCount; ++i) {
        const QAction *page = m_actions.value(QStringLiteral("page%1").arg(i));
        auto *item = new QListWidgetItem(page->icon(), page->text(), m_navigation);
        item->setToolTip(page->toolTip());
    }
    m_navigation->setFixedWidth(m_navigation->sizeHintForColumn(0) + 16);
    connect(m_navigation, &QListWidget::currentRowChanged, this, [this](int row) {
        m_pages->setCurrentIndex(row);
        updateActions();
    });
    m_navigation->setCurrentRow(Overview);
}

void MainWindow::buildToolbar()
{
    auto *toolbar = addToolBar(QStringLiteral("Queue"));
    toolbar->setObjectName(QStringLiteral("queueToolbar"));
    toolbar->setMovable(false);
    toolbar->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
    toolbar->addAction(m_actions.value(QStringLiteral("pause")));
    toolbar->addAction(m_actions.value(QStringLiteral("refresh")));
    toolbar->addSeparator();
    toolbar->addAction(m_actions.value(QStringLiteral("cancelSelected")));
    toolbar->addAction(m_actions.value(QStringLiteral("retrySelected")));
    toolbar->addAction(m_actions.value(QStringLiteral("find")));
    toolbar->addSeparator();
    // This node's maximum: an observer runs no job, so it has none (each node keeps its own).
    if (Dispatcher *dispatcher = m_context.dispatcher) {
        toolbar->addWidget(new QLabel(QStringLiteral(" Max concurrent jobs "), this));
        m_concurrency = new QSpinBox(this);
        m_concurrency->setObjectName(QStringLiteral("concurrency"));
        m_concurrency->setRange(QueueConfig::MinConcurrency, QueueConfig::MaxConcurrency);
        m_concurrency->setValue(dispatcher->maxConcurrency());
        m_concurrency->setToolTip(
            QStringLiteral("Applied at once; running jobs are not interrupted."));
        connect(m_concurrency, &QSpinBox::valueChanged, this, [this, dispatcher](int value) {
            (void)dispatcher->setMaxConcurrency(value);
            updateLimits();
        });
        toolbar->addWidget(m_concurrency);
        m_effective = new QLabel(this);
        m_effective->setObjectName(QStringLiteral("effectiveLimit"));
        m_effective->setToolTip(
            QStringLiteral("The adaptive limit: the resource governor lowers it under memory or "
                           "CPU pressure and raises it back up to the configured maximum."));
        toolbar->addWidget(m_effective);
        toolbar->addSeparator();
    }
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
    toolbar->addAction(m_actions.value(QStringLiteral("showLog")));
    updateLimits();
}

// Cancel and retry act on the Jobs page's selection: enabled while that page is shown with jobs
// selected.
void MainWindow::updateActions()
{
    const bool enabled = m_pages->currentIndex() == Jobs && m_jobs->selectedCount() > 0;
    m_actions.value(QStringLiteral("cancelSelected"))->setEnabled(enabled);
    m_actions.value(QStringLiteral("retrySelected"))->setEnabled(enabled);
}

void MainWindow::refreshCurrentPage()
{
    switch (Page(m_pages->currentIndex())) {
    case Overview:
        m_overview->refresh();
        break;
    case Jobs:
        m_jobs->refresh();
        break;
    case Datasets:
        m_datasets->reload();
        break;
    case Users:
        m_users->refresh();
        break;
    case Settings:
        m_settings->reload();
        break;
    case Nodes:
        m_nodesPage->refresh();
        break;
    case PageCount:
        break;
    }
}

// Failures, used-up quotas and memory pressure become notices: in the tray where there is one,
// and in the status bar always.
void MainWindow::buildAttention()
{
    m_attention = new Attention(m_context, this);
    if (m_context.dispatcher) { // observing, no job ends here
        connect(
            m_context.dispatcher, &Dispatcher::jobFinished, m_attention,
            [attention = m_attention](qint64 id, int status) {
                attention->jobFinished(id, status);
            },
            Qt::QueuedConnection); // from the dispatcher's thread
    }
    if (m_context.monitor) {
        connect(m_context.monitor, &ResourceMonitor::limitChanged, m_attention,
                &Attention::limitChanged, Qt::QueuedConnection);
    }
    connect(m_attention, &Attention::notice, this,
            [this](const QString &title, const QString &text) {
                statusBar()->showMessage(title + QStringLiteral(": ") + text, 15'000);
            });
    m_settings->addSection(new NotificationSettings(*m_attention, m_settings));
    if (QSystemTrayIcon::isSystemTrayAvailable()) {
        m_tray = new TrayIcon(*m_attention, m_actions.value(QStringLiteral("pause")),
                              m_actions.value(QStringLiteral("quit")), this);
    }
    m_closeQuestion = [](QWidget *parent, int running) {
        QMessageBox box(QMessageBox::Question, QStringLiteral("Ferry"),
                        QStringLiteral("%1 running. Keep Ferry running in the tray, or stop it?")
                            .arg(running == 1 ? QStringLiteral("A job is")
                                              : QStringLiteral("%1 jobs are").arg(running)),
                        QMessageBox::NoButton, parent);
        auto *keep =
            box.addButton(QStringLiteral("Keep running in the tray"), QMessageBox::AcceptRole);
        QAbstractButton *stop =
            box.addButton(QStringLiteral("Stop Ferry"), QMessageBox::DestructiveRole);
        box.addButton(QMessageBox::Cancel);
        box.setDefaultButton(keep);
        box.exec();
        return box.clickedButton() == keep   ? CloseChoice::KeepRunningInTray
               : box.clickedButton() == stop ? CloseChoice::Stop
                                             : CloseChoice::Cancel;
    };
}

void MainWindow::closeEvent(QCloseEvent *event)
{
    // Observing, closing stops nothing: the jobs run on the nodes.
    const int running = m_context.dispatcher ? m_context.dispatcher->runningCount() : 0;
    if (!m_quitting && m_tray && m_tray->isVisible() && running > 0 && m_closeQuestion) {
        switch (m_closeQuestion(this, running)) {
        case CloseChoice::KeepRunningInTray:
            saveLayout();
            hide();
            event->ignore();
            return;
        case CloseChoice::Cancel:
            event->ignore();
            return;
        case CloseChoice::Stop:
            break;
        }
    }
    saveLayout();
    QMainWindow::closeEvent(event);
}

void MainWindow::saveLayout()
{
    if (!m_context.windowSettings)
        return;
    m_context.windowSettings->setValue(QStringLiteral("window/page"), m_pages->currentIndex());
    WindowState::save(*m_context.windowSettings, *this);
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
    m_endpoint->setText(m_context.observing() ? QStringLiteral("API: on the nodes, none here")
                        : m_context.endpoint.isEmpty()
                            ? QStringLiteral("API: not listening")
                            : QStringLiteral("API: %1 (listening)").arg(m_context.endpoint));
    statusBar()->addPermanentWidget(m_endpoint);
    m_nodes = new QLabel(this);
    m_nodes->setObjectName(QStringLiteral("nodeCount"));
    // This node, until the Nodes page's first read counts every node on the database.
    m_nodes->setText(QStringLiteral("1 node"));
    m_nodes->setToolTip(QStringLiteral("This node: %1%2")
                            .arg(m_context.thisNode(), m_context.observing()
                                                           ? QStringLiteral(" (an observer)")
                                                           : QString()));
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
    if (!m_context.dispatcher)
        return; // observing: each node has its own
    const int effective = m_context.dispatcher->effectiveConcurrency();
    const int configured = m_context.dispatcher->maxConcurrency();
    m_effective->setText(effective < configured
                             ? QStringLiteral(" adaptive: <b>%1</b> ").arg(effective)
                             : QStringLiteral(" adaptive: %1 ").arg(effective));
}

MainWindow::~MainWindow()
{
    saveLayout(); // also when the app quits without closing the window (a signal, a test)
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
    QAction *pause = m_actions.value(QStringLiteral("pause"));
    pause->setText(paused ? QStringLiteral("Resume queue") : QStringLiteral("Pause queue"));
    pause->setIcon(consoleIcon(paused ? QStringLiteral("media-playback-start")
                                      : QStringLiteral("media-playback-pause")));
    const QString pausedText = paused ? QStringLiteral(" · PAUSED: nothing new starts") : QString();
    if (!storeError.isEmpty()) {
        m_status->setText(QStringLiteral("Store error: ") + storeError);
    } else if (const Dispatcher *dispatcher = m_context.dispatcher) {
        m_status->setText(QStringLiteral("%1 running of %2 allowed%3")
                              .arg(dispatcher->runningCount())
                              .arg(dispatcher->effectiveConcurrency())
                              .arg(pausedText));
    } else {
        m_status->setText(QStringLiteral("Observing: %1 running on the cluster's nodes, none "
                                         "here%2")
                              .arg(m_nodesPage->runningJobs())
                              .arg(pausedText));
    }
}

QCoro::Task<> MainWindow::togglePaused()
{
    JobQueue *queue = &m_context.queue;
    const bool paused = !queue->isPaused();
    QAction *pause = m_actions.value(QStringLiteral("pause"));
    pause->setEnabled(false); // until this write is done
    auto writing = runOnPool(this, m_readers, [queue, paused] { return queue->setPaused(paused); });
    const auto written = co_await writing;
    if (!written)
        co_return; // the window is gone
    pause->setEnabled(true);
    updateStatus({});
    m_overview->refresh();
    warnIfFailed(*written);
}

} // namespace Ferry
