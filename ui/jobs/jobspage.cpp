#include "ui/jobs/jobspage.h"

#include "queue/jobqueue.h"
#include "store/store.h"
#include "ui/jobs/jobdetailhtml.h"
#include "ui/jobs/jobtablemodel.h"
#include "ui/jobs/progressdelegate.h"
#include "ui/jobs/rerundialog.h"
#include "ui/runonpool.h"

#include <QComboBox>
#include <QDateTime>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QItemSelectionModel>
#include <QJsonDocument>
#include <QLabel>
#include <QLineEdit>
#include <QLocale>
#include <QMessageBox>
#include <QPushButton>
#include <QScrollBar>
#include <QSpinBox>
#include <QSplitter>
#include <QTableView>
#include <QTextBrowser>
#include <QThreadPool>
#include <QTimer>
#include <QVBoxLayout>

namespace Ferry {

namespace {

constexpr int PriorityStep = 10; // what Raise and Lower add or take away
constexpr int DetailRowErrors = 100;

QString number(qint64 n)
{
    return QLocale(QLocale::English).toString(n);
}

// "1 job", "12,345 jobs".
QString jobsText(qint64 n)
{
    return number(n) + (n == 1 ? QStringLiteral(" job") : QStringLiteral(" jobs"));
}

} // namespace

JobsPage::JobsPage(ConsoleContext &context, QWidget *parent)
    : QWidget(parent)
    , m_context(context)
    , m_readers(context.readers)
    , m_writers(new QThreadPool(this))
{
    setObjectName(QStringLiteral("jobspage"));
    if (!m_readers) { // a page on its own (tests): its own reader thread
        m_readers = new QThreadPool(this);
        m_readers->setMaxThreadCount(1);
    }
    m_writers->setMaxThreadCount(1);
    m_writers->setObjectName(QStringLiteral("ferry-console-jobs-writer"));
    m_confirm = [](QWidget *owner, const QString &question) {
        return QMessageBox::question(owner, QStringLiteral("Ferry"), question) == QMessageBox::Yes;
    };
    m_model = new JobTableModel(context.store, m_readers, this);

    auto *layout = new QVBoxLayout(this);
    layout->addLayout(buildFilters());
    // The detail pane sits below the table: both get the page's whole width, so the table's
    // columns and the attempts' headers never squeeze (beside it, at 1280 px, they did).
    auto *splitter = new QSplitter(Qt::Vertical, this);
    splitter->setObjectName(QStringLiteral("jobsSplitter"));
    splitter->addWidget(buildTable(splitter));
    splitter->addWidget(buildDetailPane(splitter));
    splitter->setStretchFactor(0, 3);
    splitter->setStretchFactor(1, 2);
    layout->addWidget(splitter, 1);
    layout->addLayout(buildActions());

    connectFilters();
    connectTable();
    startTicking();
    loadUsers();
    applyFilter();
}

// Status, user, dataset and search, and the count of the jobs they match.
QHBoxLayout *JobsPage::buildFilters()
{
    auto *filters = new QHBoxLayout;
    m_status = new QComboBox(this);
    m_status->setObjectName(QStringLiteral("statusFilter"));
    m_status->addItem(QStringLiteral("Any status"));
    for (JobStatus status : {JobStatus::Pending, JobStatus::Running, JobStatus::Completed,
                             JobStatus::Failed, JobStatus::Cancelled, JobStatus::Dead})
        m_status->addItem(jobStatusName(status), int(status));
    m_user = new QComboBox(this);
    m_user->setObjectName(QStringLiteral("userFilter"));
    m_user->addItem(QStringLiteral("Any user"));
    m_dataset = new QLineEdit(this);
    m_dataset->setObjectName(QStringLiteral("datasetFilter"));
    m_dataset->setPlaceholderText(QStringLiteral("Dataset"));
    m_dataset->setClearButtonEnabled(true);
    m_search = new QLineEdit(this);
    m_search->setObjectName(QStringLiteral("searchField"));
    m_search->setPlaceholderText(QStringLiteral("Search job id, session id, file name"));
    m_search->setClearButtonEnabled(true);
    m_count = new QLabel(this);
    m_count->setObjectName(QStringLiteral("countLabel"));
    filters->addWidget(m_status);
    filters->addWidget(m_user);
    filters->addWidget(m_dataset);
    filters->addWidget(m_search, 1);
    filters->addWidget(m_count);
    return filters;
}

// The jobs, sortable in the indexed orders only, with an empty state over them.
QTableView *JobsPage::buildTable(QSplitter *splitter)
{
    m_view = new QTableView(splitter);
    m_view->setObjectName(QStringLiteral("jobsView"));
    m_view->setModel(m_model);
    m_view->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_view->setSelectionMode(QAbstractItemView::ExtendedSelection);
    m_view->setItemDelegateForColumn(JobTableModel::Progress, new ProgressDelegate(m_view));
    m_view->verticalHeader()->hide();
    // Fixed row heights: the view never measures rows it does not show.
    m_view->verticalHeader()->setSectionResizeMode(QHeaderView::Fixed);
    m_view->verticalHeader()->setDefaultSectionSize(m_view->fontMetrics().height() + 8);
    // Each column as wide as what it holds (measured on sample text, not on rows: the model
    // may hold a million); "Dataset / file" takes what is left, so nothing hides behind a
    // horizontal scroll bar at 1280 px. The operator's own widths are remembered (WindowState).
    QHeaderView *header = m_view->horizontalHeader();
    header->setSectionResizeMode(QHeaderView::Interactive);
    header->setSectionResizeMode(JobTableModel::DatasetFile, QHeaderView::Stretch);
    header->setStretchLastSection(false);
    const QFontMetrics metrics = m_view->fontMetrics();
    const auto fit = [&](int column, const QString &sample, int extra = 0) {
        const QString title =
            m_model->headerData(column, Qt::Horizontal, Qt::DisplayRole).toString();
        m_view->setColumnWidth(column, qMax(metrics.horizontalAdvance(sample),
                                            header->fontMetrics().horizontalAdvance(title) + 24) +
                                           16 + extra);
    };
    fit(JobTableModel::Id, QStringLiteral("0000000"));
    fit(JobTableModel::User, QStringLiteral("margaret123"));
    fit(JobTableModel::Status, QStringLiteral("completed"), metrics.height() + 6); // and its dot
    fit(JobTableModel::Priority, QStringLiteral("-100"));
    fit(JobTableModel::Progress, QStringLiteral("100%"), 60); // and its bar
    fit(JobTableModel::Attempts, QStringLiteral("5/5"));
    fit(JobTableModel::Created, QStringLiteral("2026-12-06 21:58:37"));
    fit(JobTableModel::Duration, QStringLiteral("59 min 59 s"));
    m_view->setSortingEnabled(true);
    m_view->horizontalHeader()->setSortIndicator(JobTableModel::Id, Qt::DescendingOrder);
    m_view->setToolTip(QStringLiteral("Sort by Id, Created or Priority (the indexed orders)."));
    m_empty = new QLabel(m_view->viewport());
    m_empty->setObjectName(QStringLiteral("jobsEmptyState"));
    m_empty->setAlignment(Qt::AlignCenter);
    m_empty->setTextFormat(Qt::RichText);
    m_empty->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_empty->hide();
    (new QVBoxLayout(m_view->viewport()))->addWidget(m_empty); // follows the viewport's size
    return m_view;
}

// The shown job's attempts and errors; under them, "Run again" for a migration's stored upload.
QWidget *JobsPage::buildDetailPane(QSplitter *splitter)
{
    m_detail = new QTextBrowser(splitter);
    m_detail->setObjectName(QStringLiteral("jobDetail"));
    m_detail->setPlaceholderText(QStringLiteral("Select a job to see its attempts and errors."));
    auto *detailPane = new QWidget(splitter);
    auto *detailLayout = new QVBoxLayout(detailPane);
    detailLayout->setContentsMargins(0, 0, 0, 0);
    detailLayout->addWidget(m_detail, 1);
    m_rerun = new QPushButton(QStringLiteral("Run again…"), detailPane);
    m_rerun->setObjectName(QStringLiteral("rerunButton"));
    m_rerun->setToolTip(QStringLiteral("Import this upload's stored file again with a new "
                                       "mapping, format, delimiter or key; dry-run it first. "
                                       "Not charged to the user's quota again."));
    m_rerun->setEnabled(false);
    m_rerun->setVisible(m_context.reruns != nullptr);
    detailLayout->addWidget(m_rerun, 0, Qt::AlignRight);
    connect(m_rerun, &QPushButton::clicked, this, &JobsPage::runAgain);
    return detailPane;
}

// What the bulk actions apply to, the actions, and what the last one did.
QHBoxLayout *JobsPage::buildActions()
{
    auto *actions = new QHBoxLayout;
    m_scope = new QComboBox(this);
    m_scope->setObjectName(QStringLiteral("actionScope"));
    m_scope->addItem(QStringLiteral("Selected jobs"), int(Scope::Selection));
    m_scope->addItem(QStringLiteral("Everything matching the filter"), int(Scope::Filter));
    actions->addWidget(m_scope);
    const auto button = [this, actions](const char *name, const QString &text) {
        auto *b = new QPushButton(text, this);
        b->setObjectName(QLatin1String(name));
        actions->addWidget(b);
        return b;
    };
    auto *cancel = button("cancelButton", QStringLiteral("Cancel"));
    auto *retry = button("retryButton", QStringLiteral("Retry"));
    m_priority = new QSpinBox(this);
    m_priority->setObjectName(QStringLiteral("prioritySpin"));
    m_priority->setRange(MinPriority, MaxPriority);
    actions->addWidget(m_priority);
    auto *setPriority = button("setPriorityButton", QStringLiteral("Set priority"));
    auto *raise = button("raiseButton", QStringLiteral("Raise +%1").arg(PriorityStep));
    auto *lower = button("lowerButton", QStringLiteral("Lower −%1").arg(PriorityStep));
    auto *remove = button("deleteButton", QStringLiteral("Delete finished"));
    m_actionResult = new QLabel(this);
    m_actionResult->setObjectName(QStringLiteral("actionResult"));
    actions->addWidget(m_actionResult, 1);

    connect(cancel, &QPushButton::clicked, this,
            [this] { act(ConsoleBulkAction::Cancel, 0, QStringLiteral("Cancel")); });
    connect(retry, &QPushButton::clicked, this,
            [this] { act(ConsoleBulkAction::Retry, 0, QStringLiteral("Retry")); });
    connect(setPriority, &QPushButton::clicked, this, [this] {
        act(ConsoleBulkAction::SetPriority, m_priority->value(),
            QStringLiteral("Set the priority to %1 of").arg(m_priority->value()));
    });
    connect(raise, &QPushButton::clicked, this, [this] {
        act(ConsoleBulkAction::AdjustPriority, PriorityStep,
            QStringLiteral("Raise the priority by %1 of").arg(PriorityStep));
    });
    connect(lower, &QPushButton::clicked, this, [this] {
        act(ConsoleBulkAction::AdjustPriority, -PriorityStep,
            QStringLiteral("Lower the priority by %1 of").arg(PriorityStep));
    });
    connect(remove, &QPushButton::clicked, this, [this] {
        act(ConsoleBulkAction::DeleteFinished, 0, QStringLiteral("Delete the finished among"));
    });
    return actions;
}

// A status or user applies at once; typing waits for a pause. The model reports the count.
void JobsPage::connectFilters()
{
    m_filterDelay = new QTimer(this);
    m_filterDelay->setSingleShot(true);
    m_filterDelay->setInterval(300);
    connect(m_filterDelay, &QTimer::timeout, this, &JobsPage::applyFilter);
    connect(m_status, &QComboBox::currentIndexChanged, this, &JobsPage::applyFilter);
    connect(m_user, &QComboBox::currentIndexChanged, this, &JobsPage::applyFilter);
    connect(m_dataset, &QLineEdit::textChanged, m_filterDelay, qOverload<>(&QTimer::start));
    connect(m_search, &QLineEdit::textChanged, m_filterDelay, qOverload<>(&QTimer::start));
    connect(m_model, &JobTableModel::countChanged, this, &JobsPage::updateCount);
    connect(m_model, &JobTableModel::readFailed, this, [this](const QString &message) {
        m_count->setText(QStringLiteral("Store error: ") + message);
    });
}

// Sorting by a column that is not an indexed order is refused; the current row is detailed.
void JobsPage::connectTable()
{
    connect(m_view->horizontalHeader(), &QHeaderView::sortIndicatorChanged, this,
            [this](int column, Qt::SortOrder) {
                if (JobTableModel::isSortable(column))
                    return;
                // Not an indexed order: put the indicator back where the rows are.
                const ConsoleJobSort sort = m_model->sortOrder();
                const bool priority =
                    sort == ConsoleJobSort::PriorityHigh || sort == ConsoleJobSort::PriorityLow;
                const bool descending =
                    sort == ConsoleJobSort::NewestFirst || sort == ConsoleJobSort::PriorityHigh;
                const QSignalBlocker block(m_view->horizontalHeader());
                m_view->horizontalHeader()->setSortIndicator(
                    priority ? JobTableModel::Priority : JobTableModel::Id,
                    descending ? Qt::DescendingOrder : Qt::AscendingOrder);
            });
    connect(m_view->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
            [this](const QModelIndex &current) {
                if (current.isValid())
                    showDetail(m_model->jobId(current.row()));
            });
    connect(m_view->selectionModel(), &QItemSelectionModel::selectionChanged, this,
            [this] { Q_EMIT selectionChanged(selectedCount()); });
}

int JobsPage::selectedCount() const
{
    return int(m_view->selectionModel()->selectedRows().size());
}

// The visible rows (and, less often, the count and the users) are re-read every second.
void JobsPage::startTicking()
{
    m_tick = new QTimer(this);
    m_tick->setInterval(1000);
    connect(m_tick, &QTimer::timeout, this, &JobsPage::refreshVisible);
    m_tick->start();
}

JobsPage::~JobsPage()
{
    m_writers->waitForDone();
}

QCoro::Task<> JobsPage::loadUsers()
{
    Store *store = &m_context.store;
    auto reading = runOnPool(this, m_readers, [store] { return store->users(); });
    const auto users = co_await reading;
    if (!users || !*users)
        co_return; // the page is gone, or the list stays as it was
    const QVariant current = m_user->currentData();
    const QSignalBlocker block(m_user);
    while (m_user->count() > 1)
        m_user->removeItem(1);
    for (const User &user : **users)
        m_user->addItem(user.name, user.id);
    m_user->setCurrentIndex(qMax(0, m_user->findData(current)));
}

void JobsPage::applyFilter()
{
    m_filterDelay->stop();
    ConsoleJobFilter filter;
    if (m_status->currentIndex() > 0)
        filter.status = JobStatus(m_status->currentData().toInt());
    if (m_user->currentIndex() > 0)
        filter.userId = m_user->currentData().toLongLong();
    if (const QString dataset = m_dataset->text().trimmed(); !dataset.isEmpty())
        filter.dataset = dataset;
    filter.search = m_search->text().trimmed();
    m_model->setQuery(filter, m_model->sortOrder());
}

void JobsPage::updateCount(qint64 total)
{
    m_count->setText(total < 0 ? QStringLiteral("counting…") : jobsText(total));
    // The empty state says what to do next: nothing queued yet, or nothing matches the filter.
    if (total != 0) {
        m_empty->hide();
        return;
    }
    const ConsoleJobFilter filter = m_model->filter();
    const bool filtered =
        filter.status || filter.userId || filter.dataset || !filter.search.isEmpty();
    m_empty->setText(
        filtered ? QStringLiteral("<p>No job matches the filter.</p>"
                                  "<p>Clear the status, user, dataset or search to see more.</p>")
                 : QStringLiteral("<h3>No jobs yet</h3>"
                                  "<p>Create a user, then upload a file with its token:</p>"
                                  "<pre>ferry user add alice\n"
                                  "curl -H \"Authorization: Bearer $TOKEN\" -F dataset=people \\\n"
                                  "     -F file=@people.csv %1uploads</pre>"
                                  "<p>Every upload becomes a migration job here.</p>")
                       .arg((m_context.endpoint.isEmpty()
                                 ? QStringLiteral("http://127.0.0.1:8080/api/v1/")
                                 : m_context.endpoint)
                                .toHtmlEscaped()));
    m_empty->show();
}

void JobsPage::cancelSelected()
{
    m_scope->setCurrentIndex(m_scope->findData(int(Scope::Selection)));
    act(ConsoleBulkAction::Cancel, 0, QStringLiteral("Cancel"));
}

void JobsPage::retrySelected()
{
    m_scope->setCurrentIndex(m_scope->findData(int(Scope::Selection)));
    act(ConsoleBulkAction::Retry, 0, QStringLiteral("Retry"));
}

void JobsPage::focusSearch()
{
    m_search->setFocus(Qt::ShortcutFocusReason);
    m_search->selectAll();
}

void JobsPage::refresh()
{
    loadUsers();
    m_model->refreshCount();
    refreshShownRows();
    if (m_detailJob > 0)
        showDetail(m_detailJob);
}

void JobsPage::refreshVisible()
{
    if (!isVisible())
        return;
    if (++m_ticks % 10 == 0)
        loadUsers();
    if (m_ticks % 5 == 0)
        m_model->refreshCount();
    refreshShownRows();
    if (m_detailJob > 0)
        showDetail(m_detailJob);
}

// Re-reads the rows the view shows (all loaded rows when it cannot tell).
void JobsPage::refreshShownRows()
{
    const int first = qMax(0, m_view->rowAt(0));
    int last = m_view->rowAt(m_view->viewport()->height() - 1);
    if (last < 0)
        last = m_model->rowCount() - 1;
    m_model->refreshRows(first, last);
}

QCoro::Task<> JobsPage::showDetail(qint64 jobId)
{
    m_detailJob = jobId;
    Store *store = &m_context.store;
    auto reading = runOnPool(this, m_readers, [store, jobId] {
        JobDetail detail;
        detail.job = store->job(jobId, std::nullopt);
        detail.attempts = store->attempts(jobId);
        detail.rowErrors = store->datasets().rowErrors(jobId, DetailRowErrors);
        return detail;
    });
    const auto detail = co_await reading;
    if (!detail || jobId != m_detailJob)
        co_return; // the page is gone, or another job was chosen meanwhile
    const Result<std::optional<Job>> &job = detail->job;
    m_detailSession =
        job && job->has_value() && (*job)->type == u"migrate" ? (*job)->sessionId : QString();
    m_rerun->setEnabled(!m_detailSession.isEmpty());
    const QString html = jobDetailHtml(*detail);
    if (html != m_detail->toHtml()) {
        const int scroll = m_detail->verticalScrollBar()->value();
        m_detail->setHtml(html);
        m_detail->verticalScrollBar()->setValue(scroll);
    }
    Q_EMIT detailShown(jobId);
}

QCoro::Task<> JobsPage::runAgain()
{
    UploadReruns *reruns = m_context.reruns;
    const QString sessionId = m_detailSession;
    if (!reruns || sessionId.isEmpty())
        co_return;
    m_actionResult->setText(QStringLiteral("Reading upload %1…").arg(sessionId));
    auto reading = runOnPool(this, m_readers,
                             [reruns, sessionId] { return reruns->find(sessionId, std::nullopt); });
    auto found = co_await reading;
    if (!found)
        co_return; // the page is gone
    Result<std::optional<StoredUpload>> &upload = *found;
    if (!upload) {
        m_actionResult->setText(upload.error().toString());
        co_return;
    }
    if (!upload->has_value()) {
        m_actionResult->setText(
            QStringLiteral("Upload %1 is no longer stored: it cannot run again.").arg(sessionId));
        co_return;
    }
    m_actionResult->clear();
    auto *dialog = new RerunDialog(*reruns, m_writers, std::move(**upload), this);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    connect(
        dialog, &RerunDialog::rerunQueued, this, [this, sessionId](qint64 jobId, bool inProgress) {
            if (inProgress)
                return; // the dialog says so and stays open
            const QString summary =
                QStringLiteral("Job %1 queued: upload %2 runs again.").arg(jobId).arg(sessionId);
            m_actionResult->setText(summary);
            m_model->refreshCount();
            applyFilter();
            Q_EMIT actionFinished(summary);
        });
    dialog->open();
    Q_EMIT rerunDialogOpened(dialog);
}

QList<qint64> JobsPage::selectedIds() const
{
    QList<qint64> ids;
    const QModelIndexList rows = m_view->selectionModel()->selectedRows();
    for (const QModelIndex &index : rows)
        ids.append(m_model->jobId(index.row()));
    return ids;
}

QCoro::Task<> JobsPage::act(ConsoleBulkAction action, int value, QString verb)
{
    // The question states how many jobs the action concerns: the selected ones, or everything
    // matching the filter, counted first (off the GUI thread).
    const bool selection = Scope(m_scope->currentData().toInt()) == Scope::Selection;
    ConsoleJobFilter filter;
    QString question;
    if (selection) {
        const QList<qint64> ids = selectedIds();
        if (ids.isEmpty()) {
            m_actionResult->setText(QStringLiteral("Select jobs first, or choose \"Everything "
                                                   "matching the filter\"."));
            co_return;
        }
        filter.ids = ids;
        question =
            QStringLiteral("%1 %2 selected job%3?")
                .arg(verb, number(ids.size()), ids.size() == 1 ? QString() : QStringLiteral("s"));
    } else {
        filter = m_model->filter();
        Store *store = &m_context.store;
        m_actionResult->setText(QStringLiteral("Counting the jobs matching the filter…"));
        auto counting =
            runOnPool(this, m_readers, [store, filter] { return store->countConsoleJobs(filter); });
        const auto count = co_await counting;
        if (!count)
            co_return; // the page is gone
        if (!*count) {
            m_actionResult->setText(count->error().toString());
            co_return;
        }
        question = QStringLiteral("%1 all %2 matching the filter? Jobs the action does not apply "
                                  "to are left as they are.")
                       .arg(verb, jobsText(**count));
    }
    if (!m_confirm(this, question)) {
        if (!selection)
            m_actionResult->clear(); // no longer counting
        co_return;
    }

    m_actionResult->setText(QStringLiteral("Working…"));
    Store *store = &m_context.store;
    JobQueue *queue = &m_context.queue;
    auto applying = runOnPool(this, m_writers, [store, queue, filter, action, value] {
        auto result =
            store->applyConsoleAction(filter, action, value, QDateTime::currentMSecsSinceEpoch());
        // Running jobs were marked; through the queue their node hears it at once.
        if (result) {
            for (qint64 id : std::as_const(result->runningCancelled))
                (void)queue->cancel(id);
        }
        return result;
    });
    const auto applied = co_await applying;
    if (!applied)
        co_return; // the page is gone
    const Result<ConsoleBulkResult> &result = *applied;
    const QString summary = result
                                ? QStringLiteral("%1: %2 job%3 changed.")
                                      .arg(verb, number(result->changed),
                                           result->changed == 1 ? QString() : QStringLiteral("s"))
                                : result.error().toString();
    m_actionResult->setText(summary);
    refreshShownRows();
    m_model->refreshCount();
    if (m_detailJob > 0)
        showDetail(m_detailJob);
    Q_EMIT actionFinished(summary);
}

} // namespace Ferry
