#pragma once

#include "consolecontext.h"

#include "core/error.h"

#include <QCoroTask>
#include <QMainWindow>

class QLabel;
class QListWidget;
class QPushButton;
class QSpinBox;
class QStackedWidget;
class QThreadPool;

namespace Ferry {

class LogPane;
class OverviewPage;

// The operator console: queue controls in the toolbar, pages (overview, jobs, users and
// quotas, settings) picked on the left, engine state in the status bar. Every page reads the
// store on the console's reader thread; nothing blocks the GUI on SQL.
class MainWindow final : public QMainWindow
{
    Q_OBJECT
public:
    explicit MainWindow(ConsoleContext context, QWidget *parent = nullptr);
    ~MainWindow() override;
    Q_DISABLE_COPY_MOVE(MainWindow)

    enum Page { Overview, Jobs, Datasets, Users, Settings, Nodes };
    void showPage(Page page);

private:
    void buildToolbar();
    void buildStatusBar();
    // Coroutines: the queue's setting is written on the reader pool, then shown.
    QCoro::Task<> togglePaused();
    QCoro::Task<> setPerUserCap(int cap);
    // A failed write is shown in a message box.
    void warnIfFailed(const Result<void> &write);
    void updateStatus(const QString &storeError);
    void updateLimits();

    ConsoleContext m_context;
    QThreadPool *m_readers;

    QPushButton *m_pauseButton = nullptr;
    QSpinBox *m_concurrency = nullptr;
    QSpinBox *m_perUserCap = nullptr;
    QLabel *m_effective = nullptr;
    QListWidget *m_navigation = nullptr;
    QStackedWidget *m_pages = nullptr;
    OverviewPage *m_overview = nullptr;
    QLabel *m_status = nullptr;
    QLabel *m_endpoint = nullptr;
    QLabel *m_pausedIndicator = nullptr;
    QLabel *m_nodes = nullptr;
    LogPane *m_log = nullptr;
};

} // namespace Ferry
