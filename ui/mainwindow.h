#pragma once

#include "consolecontext.h"

#include <QMainWindow>

class QLabel;
class QListWidget;
class QPushButton;
class QSpinBox;
class QStackedWidget;
class QThreadPool;

namespace Ferry {

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

    enum Page { Overview, Jobs, Users, Settings };
    void showPage(Page page);

private:
    void togglePaused();
    void updateStatus(const QString &storeError);

    ConsoleContext m_context;
    QThreadPool *m_readers;

    QPushButton *m_pauseButton;
    QSpinBox *m_concurrency;
    QListWidget *m_navigation;
    QStackedWidget *m_pages;
    OverviewPage *m_overview;
    QLabel *m_status;
};

} // namespace Ferry
