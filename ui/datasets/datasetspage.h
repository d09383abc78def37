#pragma once

#include "datasets/datasetdetails.h"
#include "ui/consolecontext.h"

#include <QCoroTask>
#include <QWidget>

#include <functional>

class QComboBox;
class QHBoxLayout;
class QLabel;
class QPushButton;
class QSplitter;
class QTableWidget;
class QTextBrowser;
class QThreadPool;

namespace Ferry {

// One user's datasets: name, records, key, columns and last import in a table; the selected
// one's details (schema, size, the imports that wrote it); "Empty…" and "Delete…", asked first,
// refused while a migration writes into it or its undo is pending. Reads run on the context's
// reader pool, deletes on the page's own writer thread; the list is re-read every 5 s while
// shown. Nothing here blocks on SQL.
class DatasetsPage final : public QWidget
{
    Q_OBJECT
public:
    explicit DatasetsPage(ConsoleContext &context, QWidget *parent = nullptr);
    ~DatasetsPage() override;

    // Asked before a delete; it runs only when this returns true. Default: a QMessageBox.
    using Confirm = std::function<bool(QWidget *parent, const QString &question)>;
    void setConfirm(Confirm confirm) { m_confirm = std::move(confirm); }

    // Shows the user's datasets (as choosing them in the user box does).
    void showUser(qint64 userId);
    // Re-reads the shown user's datasets now (the window's Refresh).
    QCoro::Task<> reload();

Q_SIGNALS:
    // The list was read for the user shown (count datasets) or failed (error).
    void datasetsRead(qint64 userId, int count, const QString &error);
    // The details pane shows this dataset.
    void detailsShown(const QString &name);
    // A delete ended: what it did or why not, as shown on the page.
    void deleteFinished(const QString &summary);

protected:
    void showEvent(QShowEvent *event) override;

private:
    // The constructor's parts, top to bottom.
    QHBoxLayout *buildUserBar();
    QSplitter *buildBody();
    QHBoxLayout *buildActions();
    void connectSelection();
    void startTicking();

    // Coroutines: reads on the reader pool, deletes on the writer thread.
    QCoro::Task<> loadUsers();
    QCoro::Task<> showDetails(QString name);
    QCoro::Task<> remove(DatasetDeleteScope scope);
    QString selectedName() const;
    qint64 currentUser() const;

    ConsoleContext &m_context;
    QThreadPool *m_readers;
    QThreadPool *m_writers;
    Confirm m_confirm;

    QComboBox *m_user;
    QLabel *m_count;
    QTableWidget *m_table;
    QTextBrowser *m_details;
    QPushButton *m_empty;
    QPushButton *m_delete;
    QLabel *m_result;
    QString m_detailsName;
    qint64 m_wantedUser = 0; // showUser() before the user list arrived
    qint64 m_shownUser = 0;  // whose datasets the table shows
    int m_ticks = 0;
};

} // namespace Ferry
