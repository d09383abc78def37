#include "mainwindow.h"

#include "jobs/jobspage.h"
#include "overview/overviewpage.h"
#include "queue/dispatcher.h"
#include "queue/jobqueue.h"
#include "settings/settingspage.h"
#include "users/userspage.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QListWidget>
#include <QMessageBox>
#include <QPushButton>
#include <QSpinBox>
#include <QStackedWidget>
#include <QStatusBar>
#include <QThreadPool>
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

    auto *toolbar = addToolBar(QStringLiteral("Queue"));
    toolbar->setObjectName(QStringLiteral("queueToolbar"));
    toolbar->setMovable(false);
    m_pauseButton = new QPushButton(this);
    m_pauseButton->setObjectName(QStringLiteral("pauseButton"));
    connect(m_pauseButton, &QPushButton::clicked, this, &MainWindow::togglePaused);
    toolbar->addWidget(m_pauseButton);
    toolbar->addSeparator();
    toolbar->addWidget(new QLabel(QStringLiteral(" Max concurrent jobs "), this));
    m_concurrency = new QSpinBox(this);
    m_concurrency->setObjectName(QStringLiteral("concurrency"));
    m_concurrency->setRange(1, 64);
    m_concurrency->setValue(m_context.dispatcher.maxConcurrency());
    m_concurrency->setToolTip(QStringLiteral("Applied at once; running jobs are not interrupted."));
    connect(m_concurrency, &QSpinBox::valueChanged, this,
            [this](int value) { (void)m_context.dispatcher.setMaxConcurrency(value); });
    toolbar->addWidget(m_concurrency);

    auto *central = new QWidget(this);
    auto *layout = new QHBoxLayout(central);
    m_navigation = new QListWidget(this);
    m_navigation->setObjectName(QStringLiteral("navigation"));
    m_navigation->addItems({QStringLiteral("Overview"), QStringLiteral("Jobs"),
                            QStringLiteral("Users and quotas"), QStringLiteral("Settings")});
    m_navigation->setFixedWidth(160);
    layout->addWidget(m_navigation);
    m_pages = new QStackedWidget(this);
    m_pages->setObjectName(QStringLiteral("pages"));
    m_overview = new OverviewPage(m_context, this);
    m_pages->addWidget(m_overview);
    m_pages->addWidget(new JobsPage(m_context, this));
    m_pages->addWidget(new UsersPage(m_context, this));
    m_pages->addWidget(new SettingsPage(m_context, this));
    layout->addWidget(m_pages, 1);
    setCentralWidget(central);
    connect(m_navigation, &QListWidget::currentRowChanged, m_pages,
            &QStackedWidget::setCurrentIndex);
    m_navigation->setCurrentRow(Overview);

    m_status = new QLabel(this);
    m_status->setObjectName(QStringLiteral("statusText"));
    statusBar()->addWidget(m_status);
    connect(m_overview, &OverviewPage::storeRead, this, &MainWindow::updateStatus);
    connect(&m_context.queue, &JobQueue::pausedChanged, this, [this] { updateStatus({}); });
    updateStatus({});
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
    m_pauseButton->setText(paused ? QStringLiteral("Resume queue") : QStringLiteral("Pause queue"));
    m_status->setText(
        storeError.isEmpty()
            ? QStringLiteral("%1 running of %2 allowed%3%4")
                  .arg(m_context.dispatcher.runningCount())
                  .arg(m_context.dispatcher.maxConcurrency())
                  .arg(paused ? QStringLiteral(" · PAUSED: nothing new starts") : QString())
                  .arg(m_context.endpoint.isEmpty() ? QString()
                                                    : QStringLiteral(" · ") + m_context.endpoint)
            : QStringLiteral("Store error: ") + storeError);
}

void MainWindow::togglePaused()
{
    if (auto done = m_context.queue.setPaused(!m_context.queue.isPaused()); !done)
        QMessageBox::warning(this, QStringLiteral("Ferry"), done.error().toString());
    updateStatus({});
    m_overview->refresh();
}

} // namespace Ferry
