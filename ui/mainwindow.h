#pragma once

#include <QMainWindow>

class QLabel;
class QPushButton;
class QSpinBox;
class QStackedWidget;
class QTableWidget;
class QThreadPool;

namespace Ferry {

class Dispatcher;
class JobQueue;
class Store;

// The operator console's first view: queue state, controls and the latest jobs. It reads the
// store on a worker thread and never blocks the GUI on SQL.
class MainWindow final : public QMainWindow
{
    Q_OBJECT
public:
    MainWindow(JobQueue &queue, Dispatcher &dispatcher, Store &store, QWidget *parent = nullptr);
    ~MainWindow() override;
    Q_DISABLE_COPY_MOVE(MainWindow)

    // Reads the store now (asynchronously); the view updates when the read is done.
    void refresh();

private:
    struct Snapshot;
    void apply(const Snapshot &snapshot);
    void togglePaused();

    JobQueue &m_queue;
    Dispatcher &m_dispatcher;
    Store &m_store;
    QThreadPool *m_readers;
    bool m_refreshing = false;

    QPushButton *m_pauseButton;
    QSpinBox *m_concurrency;
    QLabel *m_summary;
    QStackedWidget *m_body;
    QTableWidget *m_table;
    QLabel *m_status;
};

} // namespace Ferry
