#pragma once

#include "consolecontext.h"

#include "core/error.h"

#include <QCoroTask>
#include <QHash>
#include <QKeySequence>

#include <QMainWindow>
#include <functional>

class QAction;
class QLabel;
class QListWidget;
class QSpinBox;
class QStackedWidget;
class QThreadPool;

namespace Ferry {

class Attention;
class DatasetsPage;
class JobsPage;
class LogPane;
class NodesPage;
class OverviewPage;
class SettingsPage;
class TrayIcon;
class UsersPage;

// The operator console: a menu bar (File, Queue, View, Help) and a tool bar of the same actions
// with icons and shortcuts, pages (overview, jobs, datasets, users and quotas, settings, nodes)
// picked on the left, engine state in the status bar. Every page reads the store on the
// console's reader thread; nothing blocks the GUI on SQL. The layout is remembered across
// starts when the context carries window settings (WindowState).
class MainWindow final : public QMainWindow
{
    Q_OBJECT
public:
    explicit MainWindow(ConsoleContext context, QWidget *parent = nullptr);
    ~MainWindow() override;
    Q_DISABLE_COPY_MOVE(MainWindow)

    enum Page { Overview, Jobs, Datasets, Users, Settings, Nodes, PageCount };
    void showPage(Page page);

    // The window's actions, by name ("pause", "refresh", "find", "cancelSelected",
    // "retrySelected", "page1".."page6", "showLog", "about", "quit"), for tests and scripts.
    QAction *action(const QString &name) const;

    // Closing the window while jobs run, with a tray to keep running in: asked what to do.
    enum class CloseChoice { KeepRunningInTray, Stop, Cancel };
    using CloseQuestion = std::function<CloseChoice(QWidget *parent, int running)>;
    void setCloseQuestion(CloseQuestion question) { m_closeQuestion = std::move(question); }
    Attention &attention() { return *m_attention; }

protected:
    void closeEvent(QCloseEvent *event) override;

private:
    void buildActions();
    void buildMenus();
    void buildToolbar();
    void buildNavigation();
    void buildStatusBar();
    void buildAttention();
    QAction *addAction(const QString &name,
                       const QString &icon,
                       const QString &text,
                       const QKeySequence &shortcut,
                       const QString &tip);
    void refreshCurrentPage();
    void updateActions();
    void saveLayout();
    // Coroutines: the queue's setting is written on the reader pool, then shown.
    QCoro::Task<> togglePaused();
    QCoro::Task<> setPerUserCap(int cap);
    // A failed write is shown in a message box.
    void warnIfFailed(const Result<void> &write);
    void updateStatus(const QString &storeError);
    void updateLimits();

    ConsoleContext m_context;
    QThreadPool *m_readers;

    QHash<QString, QAction *> m_actions;
    Attention *m_attention = nullptr;
    TrayIcon *m_tray = nullptr; // null where the desktop has no system tray
    CloseQuestion m_closeQuestion;
    bool m_quitting = false;
    QSpinBox *m_concurrency = nullptr;
    QSpinBox *m_perUserCap = nullptr;
    QLabel *m_effective = nullptr;
    QListWidget *m_navigation = nullptr;
    QStackedWidget *m_pages = nullptr;
    OverviewPage *m_overview = nullptr;
    JobsPage *m_jobs = nullptr;
    DatasetsPage *m_datasets = nullptr;
    UsersPage *m_users = nullptr;
    SettingsPage *m_settings = nullptr;
    NodesPage *m_nodesPage = nullptr;
    QLabel *m_status = nullptr;
    QLabel *m_endpoint = nullptr;
    QLabel *m_pausedIndicator = nullptr;
    QLabel *m_nodes = nullptr;
    LogPane *m_log = nullptr;
};

} // namespace Ferry
