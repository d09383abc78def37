#pragma once

#include "store/consolerecords.h"
#include "ui/consolecontext.h"

#include <QCoroTask>
#include <QDialog>
#include <QWidget>

#include <functional>

class QComboBox;
class QHBoxLayout;
class QLabel;
class QLineEdit;
class QPushButton;
class QSpinBox;
class QSplitter;
class QTableView;
class QTextBrowser;
class QThreadPool;
class QTimer;

namespace Ferry {

class JobTableModel;

// Every user's jobs: filter, search, sort, inspect, and act on them. The table is a
// JobTableModel (keyset pages read on the context's reader pool); actions run on the page's own
// writer thread; the visible rows are re-read every second. Nothing here blocks on SQL.
class JobsPage final : public QWidget
{
    Q_OBJECT
public:
    explicit JobsPage(ConsoleContext &context, QWidget *parent = nullptr);
    ~JobsPage() override;

    // Asked before every action with a sentence that states how many jobs it concerns; the
    // action runs only when it returns true. Default: a QMessageBox question.
    using Confirm = std::function<bool(QWidget *parent, const QString &question)>;
    void setConfirm(Confirm confirm) { m_confirm = std::move(confirm); }

    enum class Scope { Selection, Filter };
    JobTableModel *model() const { return m_model; }

    // What the window's Queue menu and tool bar do on this page: cancel or retry the selected
    // jobs (asking first, like the page's buttons), put the cursor in the search field, and
    // re-read the rows shown, the count and the users now.
    void cancelSelected();
    void retrySelected();
    // How many rows are selected (what cancelSelected and retrySelected act on).
    int selectedCount() const;
    void focusSearch();
    void refresh();

Q_SIGNALS:
    // The selection changed: selected rows now.
    void selectionChanged(int selected);
    // After an action was applied (or failed): what it did, as shown on the page.
    void actionFinished(const QString &summary);
    // The detail pane now shows this job.
    void detailShown(qint64 jobId);
    // "Run again" opened its dialog (a RerunDialog, child of the page) for the shown upload.
    void rerunDialogOpened(QDialog *dialog);

private:
    // The constructor's parts, in the order the page is laid out (which is also the tab order).
    QHBoxLayout *buildFilters();
    QTableView *buildTable(QSplitter *splitter);
    QWidget *buildDetailPane(QSplitter *splitter);
    QHBoxLayout *buildActions();
    void connectFilters();
    void connectTable();
    void startTicking();

    void applyFilter();
    void refreshVisible();
    void refreshShownRows();
    // The coroutines read and write on the pools; each returns early once the page is gone.
    QCoro::Task<> showDetail(qint64 jobId);
    QCoro::Task<> runAgain();
    void updateCount(qint64 total);
    QCoro::Task<> act(ConsoleBulkAction action, int value, QString verb);
    QCoro::Task<> loadUsers();
    QList<qint64> selectedIds() const;

    ConsoleContext &m_context;
    QThreadPool *m_readers;
    QThreadPool *m_writers;
    JobTableModel *m_model;
    Confirm m_confirm;

    QComboBox *m_status;
    QComboBox *m_user;
    QLineEdit *m_dataset;
    QLineEdit *m_search;
    QLabel *m_empty = nullptr; // over the table when there is nothing to show
    QLabel *m_count;
    QTableView *m_view;
    QComboBox *m_scope;
    QSpinBox *m_priority;
    QLabel *m_actionResult;
    QTextBrowser *m_detail;
    QPushButton *m_rerun;
    QString m_detailSession; // the shown job's upload session, when it is a migration
    QTimer *m_filterDelay;
    QTimer *m_tick;
    qint64 m_detailJob = 0;
    int m_ticks = 0;
};

} // namespace Ferry
