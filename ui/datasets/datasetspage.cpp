#include "ui/datasets/datasetspage.h"

#include "store/store.h"
#include "ui/runonpool.h"

#include <QComboBox>
#include <QDateTime>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QJsonObject>
#include <QJsonValue>
#include <QLabel>
#include <QLocale>
#include <QMessageBox>
#include <QPushButton>
#include <QScrollBar>
#include <QSplitter>
#include <QTableWidget>
#include <QTextBrowser>
#include <QThreadPool>
#include <QTimer>
#include <QVBoxLayout>

namespace Ferry {

namespace {

enum Column { Name, Records, Key, Columns, Updated, ColumnCount };

QString number(qint64 n)
{
    return QLocale(QLocale::English).toString(n);
}

QString recordsText(qint64 n)
{
    return number(n) + (n == 1 ? QStringLiteral(" record") : QStringLiteral(" records"));
}

QString timeText(qint64 ms)
{
    return ms > 0
               ? QDateTime::fromMSecsSinceEpoch(ms).toString(QStringLiteral("yyyy-MM-dd HH:mm:ss"))
               : QStringLiteral("—");
}

QString sizeText(qint64 bytes)
{
    return QLocale(QLocale::English)
        .formattedDataSize(bytes, 1, QLocale::DataSizeTraditionalFormat);
}

QString columnsText(const QJsonArray &columns)
{
    QStringList names;
    for (const QJsonValue &column : columns)
        names.append(column.toString());
    return names.join(QStringLiteral(", "));
}

// "id (integer), name, score (mixed: integer, string)": the schema with each column's type.
QString schemaText(const DatasetInfo &dataset)
{
    QStringList parts;
    const QJsonArray schema = datasetSchema(dataset);
    for (const QJsonValue &entry : schema) {
        const QJsonObject field = entry.toObject();
        QString part = field.value(u"name").toString();
        const QString type = field.value(u"type").toString();
        if (type == u"mixed") {
            QStringList types;
            const QJsonArray given = field.value(u"types").toArray();
            for (const QJsonValue &t : given)
                types.append(t.toString());
            part += QStringLiteral(" (mixed: %1)").arg(types.join(QStringLiteral(", ")));
        } else if (!type.isEmpty()) {
            part += QStringLiteral(" (%1)").arg(type);
        }
        parts.append(part);
    }
    return parts.join(QStringLiteral(", "));
}

QString detailsHtml(const Result<std::optional<DatasetDetails>> &details, const QString &name)
{
    if (!details)
        return details.error().toString().toHtmlEscaped();
    if (!details->has_value())
        return QStringLiteral("<i>Dataset %1 no longer exists.</i>").arg(name.toHtmlEscaped());
    const DatasetDetails &d = **details;
    QString html =
        QStringLiteral("<h3>%1</h3><p>%2 · %3 of JSON · key %4<br>created %5<br>"
                       "last written %6</p>")
            .arg(d.info.name.toHtmlEscaped(), recordsText(d.info.records), sizeText(d.sizeBytes),
                 d.info.key.isEmpty() ? QStringLiteral("none")
                                      : QStringLiteral("<b>%1</b>").arg(d.info.key.toHtmlEscaped()),
                 timeText(d.info.createdAt), timeText(d.info.updatedAt));
    html += QStringLiteral("<h4>Columns</h4><p>%1</p>")
                .arg(d.info.columns.isEmpty() ? QStringLiteral("<i>none yet</i>")
                                              : schemaText(d.info).toHtmlEscaped());
    html += QStringLiteral("<h4>Imports (newest first, at most %1)</h4>").arg(MaxDatasetImports);
    if (d.imports.isEmpty())
        return html + QStringLiteral("<p>None left (retention prunes old jobs).</p>");
    html += QStringLiteral("<table border=1 cellpadding=3><tr><th>job</th><th>status</th>"
                           "<th>imported</th><th>rejected</th><th>created</th><th>finished</th>"
                           "</tr>");
    for (const DatasetImport &i : d.imports) {
        html += QStringLiteral("<tr><td>%1</td><td>%2</td><td>%3</td><td>%4</td><td>%5</td>"
                               "<td>%6</td></tr>")
                    .arg(i.jobId)
                    .arg(jobStatusName(i.status), number(i.rowsImported), number(i.rowsRejected),
                         timeText(i.createdAt), timeText(i.finishedAt));
    }
    return html + QStringLiteral("</table>");
}

} // namespace

DatasetsPage::DatasetsPage(ConsoleContext &context, QWidget *parent)
    : QWidget(parent)
    , m_context(context)
    , m_readers(context.readers)
    , m_writers(new QThreadPool(this))
{
    setObjectName(QStringLiteral("datasetspage"));
    if (!m_readers) { // a page on its own (tests): its own reader thread
        m_readers = new QThreadPool(this);
        m_readers->setMaxThreadCount(1);
    }
    m_writers->setMaxThreadCount(1);
    m_writers->setObjectName(QStringLiteral("ferry-console-datasets-writer"));
    m_confirm = [](QWidget *owner, const QString &question) {
        return QMessageBox::question(owner, QStringLiteral("Ferry"), question) == QMessageBox::Yes;
    };

    auto *layout = new QVBoxLayout(this);
    layout->addLayout(buildUserBar());
    layout->addWidget(buildBody(), 1);
    layout->addLayout(buildActions());
    connectSelection();
    startTicking();
    loadUsers();
}

// Whose datasets are shown, and how many there are.
QHBoxLayout *DatasetsPage::buildUserBar()
{
    auto *top = new QHBoxLayout;
    top->addWidget(new QLabel(QStringLiteral("User"), this));
    m_user = new QComboBox(this);
    m_user->setObjectName(QStringLiteral("datasetUser"));
    m_user->setMinimumWidth(200);
    top->addWidget(m_user);
    m_count = new QLabel(this);
    m_count->setObjectName(QStringLiteral("datasetCount"));
    top->addWidget(m_count, 1);
    return top;
}

// The datasets' table, and the selected one's details beside it.
QSplitter *DatasetsPage::buildBody()
{
    auto *splitter = new QSplitter(this);
    splitter->setObjectName(QStringLiteral("datasetsSplitter"));
    m_table = new QTableWidget(0, ColumnCount, splitter);
    m_table->setObjectName(QStringLiteral("datasetsTable"));
    m_table->setHorizontalHeaderLabels({QStringLiteral("Dataset"), QStringLiteral("Records"),
                                        QStringLiteral("Key"), QStringLiteral("Columns"),
                                        QStringLiteral("Last written")});
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setSelectionMode(QAbstractItemView::SingleSelection);
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_table->verticalHeader()->hide();
    m_table->horizontalHeader()->setStretchLastSection(true);
    m_table->setColumnWidth(Name, 160);
    m_table->setColumnWidth(Records, 80);
    m_table->setColumnWidth(Key, 80);
    m_table->setColumnWidth(Columns, 200);
    m_details = new QTextBrowser(splitter);
    m_details->setObjectName(QStringLiteral("datasetDetails"));
    m_details->setPlaceholderText(
        QStringLiteral("Select a dataset to see its columns, size and the imports that wrote it."));
    splitter->addWidget(m_table);
    splitter->addWidget(m_details);
    splitter->setStretchFactor(0, 3);
    splitter->setStretchFactor(1, 2);
    return splitter;
}

// "Empty…" and "Delete…" for the selected dataset, and what the last one did.
QHBoxLayout *DatasetsPage::buildActions()
{
    auto *actions = new QHBoxLayout;
    m_empty = new QPushButton(QStringLiteral("Empty…"), this);
    m_empty->setObjectName(QStringLiteral("emptyDatasetButton"));
    m_empty->setToolTip(QStringLiteral("Delete the dataset's records; its name and key stay."));
    m_delete = new QPushButton(QStringLiteral("Delete…"), this);
    m_delete->setObjectName(QStringLiteral("deleteDatasetButton"));
    m_delete->setToolTip(QStringLiteral("Delete the dataset: its records, key and columns."));
    m_result = new QLabel(this);
    m_result->setObjectName(QStringLiteral("datasetResult"));
    m_result->setWordWrap(true);
    actions->addWidget(m_empty);
    actions->addWidget(m_delete);
    actions->addWidget(m_result, 1);
    m_empty->setEnabled(false);
    m_delete->setEnabled(false);
    connect(m_empty, &QPushButton::clicked, this, [this] { remove(DatasetDeleteScope::Records); });
    connect(m_delete, &QPushButton::clicked, this, [this] { remove(DatasetDeleteScope::Dataset); });
    return actions;
}

// Another user: their list; another dataset: its details and the buttons for it.
void DatasetsPage::connectSelection()
{
    connect(m_user, &QComboBox::currentIndexChanged, this, [this] {
        m_details->clear();
        m_detailsName.clear();
        m_result->clear();
        reload();
    });
    connect(m_table, &QTableWidget::itemSelectionChanged, this, [this] {
        const QString name = selectedName();
        m_empty->setEnabled(!name.isEmpty());
        m_delete->setEnabled(!name.isEmpty());
        if (!name.isEmpty() && name != m_detailsName)
            showDetails(name);
    });
}

// While shown, the list is re-read every 5 s and the users every 10 s.
void DatasetsPage::startTicking()
{
    auto *tick = new QTimer(this);
    tick->setInterval(1000);
    connect(tick, &QTimer::timeout, this, [this] {
        if (!isVisible())
            return;
        if (++m_ticks % 10 == 0)
            loadUsers();
        if (m_ticks % 5 == 0)
            reload();
    });
    tick->start();
}

DatasetsPage::~DatasetsPage()
{
    m_writers->waitForDone();
}

void DatasetsPage::showEvent(QShowEvent *event)
{
    QWidget::showEvent(event);
    loadUsers(); // users added while the page was hidden are in its box at once
}

void DatasetsPage::showUser(qint64 userId)
{
    const int index = m_user->findData(userId);
    if (index < 0) {
        m_wantedUser = userId; // chosen once the list arrives
        loadUsers();
        return;
    }
    if (index == m_user->currentIndex())
        reload();
    else
        m_user->setCurrentIndex(index);
}

qint64 DatasetsPage::currentUser() const
{
    return m_user->currentData().toLongLong();
}

QString DatasetsPage::selectedName() const
{
    const QList<QTableWidgetItem *> items = m_table->selectedItems();
    for (QTableWidgetItem *item : items) {
        if (item->column() == Name)
            return item->text();
    }
    return {};
}

QCoro::Task<> DatasetsPage::loadUsers()
{
    Store *store = &m_context.store;
    auto reading = runOnPool(this, m_readers, [store] { return store->users(); });
    const auto read = co_await reading;
    if (!read)
        co_return; // the page is gone
    const Result<QList<User>> &users = *read;
    if (!users) {
        m_count->setText(users.error().toString());
        co_return;
    }
    const qint64 wanted = m_wantedUser ? m_wantedUser : currentUser();
    m_wantedUser = 0;
    {
        const QSignalBlocker block(m_user);
        m_user->clear();
        for (const User &user : *users)
            m_user->addItem(user.name, user.id);
        m_user->setCurrentIndex(qMax(0, m_user->findData(wanted)));
    }
    if (users->isEmpty())
        m_count->setText(QStringLiteral("No users yet: add one on the Users page."));
    if (currentUser() != m_shownUser)
        reload();
}

QCoro::Task<> DatasetsPage::reload()
{
    const qint64 userId = currentUser();
    if (userId <= 0) {
        m_table->setRowCount(0);
        co_return;
    }
    Store *store = &m_context.store;
    auto reading =
        runOnPool(this, m_readers, [store, userId] { return store->datasets().datasets(userId); });
    const auto read = co_await reading;
    if (!read || userId != currentUser())
        co_return; // the page is gone, or the user changed meanwhile: its own read follows
    const Result<QList<DatasetInfo>> &datasets = *read;
    if (!datasets) {
        m_count->setText(QStringLiteral("Store error: ") + datasets.error().toString());
        Q_EMIT datasetsRead(userId, 0, datasets.error().toString());
        co_return;
    }
    m_shownUser = userId;
    const QString selected = selectedName();
    const int scroll = m_table->verticalScrollBar()->value();
    {
        const QSignalBlocker block(m_table);
        m_table->clearSelection();
        m_table->setRowCount(int(datasets->size()));
        for (int row = 0; row < datasets->size(); ++row) {
            const DatasetInfo &d = datasets->at(row);
            const auto set = [&](int column, const QString &text,
                                 Qt::Alignment align = Qt::AlignLeft) {
                auto *item = new QTableWidgetItem(text);
                item->setTextAlignment(align | Qt::AlignVCenter);
                m_table->setItem(row, column, item);
            };
            set(Name, d.name);
            set(Records, number(d.records), Qt::AlignRight);
            set(Key, d.key.isEmpty() ? QStringLiteral("—") : d.key);
            set(Columns, columnsText(d.columns));
            set(Updated, timeText(d.updatedAt));
            if (d.name == selected)
                m_table->selectRow(row);
        }
    }
    m_table->verticalScrollBar()->setValue(scroll);
    const bool stillThere = !selectedName().isEmpty();
    m_empty->setEnabled(stillThere);
    m_delete->setEnabled(stillThere);
    if (!stillThere && !m_detailsName.isEmpty()) {
        m_detailsName.clear();
        m_details->clear();
    } else if (stillThere) {
        showDetails(selected); // its counts and imports change while imports run
    }
    m_count->setText(datasets->isEmpty()
                         ? QStringLiteral("No datasets: an upload creates one.")
                         : QStringLiteral("%1 dataset%2")
                               .arg(datasets->size())
                               .arg(datasets->size() == 1 ? QString() : QStringLiteral("s")));
    Q_EMIT datasetsRead(userId, int(datasets->size()), QString());
}

QCoro::Task<> DatasetsPage::showDetails(QString name)
{
    m_detailsName = name;
    const qint64 userId = currentUser();
    Store *store = &m_context.store;
    auto reading = runOnPool(this, m_readers, [store, userId, name] {
        return datasetDetails(store->datasets(), *store, userId, name);
    });
    const auto details = co_await reading;
    if (!details || name != m_detailsName)
        co_return; // the page is gone, or another dataset was chosen meanwhile
    const QString html = detailsHtml(*details, name);
    if (html != m_details->toHtml()) {
        const int scroll = m_details->verticalScrollBar()->value();
        m_details->setHtml(html);
        m_details->verticalScrollBar()->setValue(scroll);
    }
    Q_EMIT detailsShown(name);
}

QCoro::Task<> DatasetsPage::remove(DatasetDeleteScope scope)
{
    const QString name = selectedName();
    const qint64 userId = currentUser();
    if (name.isEmpty() || userId <= 0)
        co_return;
    const QString user = m_user->currentText();
    const QString question =
        scope == DatasetDeleteScope::Dataset
            ? QStringLiteral("Delete dataset %1 of %2: its records, key and columns? This "
                             "cannot be undone.")
                  .arg(name, user)
            : QStringLiteral("Delete every record of dataset %1 of %2? Its name and key stay. "
                             "This cannot be undone.")
                  .arg(name, user);
    if (!m_confirm(this, question))
        co_return;
    m_result->setText(QStringLiteral("Deleting…"));
    m_empty->setEnabled(false);
    m_delete->setEnabled(false);
    Store *store = &m_context.store;
    auto deleting = runOnPool(this, m_writers, [store, userId, name, scope] {
        return store->datasets().deleteDataset(userId, name, scope,
                                               QDateTime::currentMSecsSinceEpoch());
    });
    const auto deleted = co_await deleting;
    if (!deleted)
        co_return; // the page is gone
    const Result<DatasetDeletion> &deletion = *deleted;
    QString summary;
    if (!deletion) {
        summary = deletion.error().toString();
    } else if (deletion->outcome == DatasetDeletion::Outcome::Busy) {
        summary = datasetBusy(name, *deletion).toString();
    } else if (deletion->outcome == DatasetDeletion::Outcome::NotFound) {
        summary = QStringLiteral("Dataset %1 no longer exists.").arg(name);
    } else {
        summary = scope == DatasetDeleteScope::Dataset
                      ? QStringLiteral("Deleted dataset %1 and its %2.")
                            .arg(name, recordsText(deletion->records))
                      : QStringLiteral("Emptied dataset %1: %2 deleted.")
                            .arg(name, recordsText(deletion->records));
    }
    m_result->setText(summary);
    reload();
    Q_EMIT deleteFinished(summary);
}

} // namespace Ferry
