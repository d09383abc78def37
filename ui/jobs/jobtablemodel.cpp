#include "ui/jobs/jobtablemodel.h"

#include "store/store.h"
#include "ui/jobs/durationtext.h"
#include "ui/runonpool.h"

#include <QDateTime>
#include <QHash>
#include <QIcon>
#include <QLocale>
#include <QPainter>

#include <algorithm>

namespace Ferry {

namespace {

double progressFraction(const ConsoleJobRow &row)
{
    if (row.status == JobStatus::Completed)
        return 1.0;
    if (row.progressTotal > 0)
        return qBound(0.0, double(row.progressDone) / double(row.progressTotal), 1.0);
    return -1.0;
}

} // namespace

JobTableModel::JobTableModel(Store &store, QThreadPool *readers, QObject *parent)
    : QAbstractTableModel(parent), m_store(store), m_readers(readers)
{}

void JobTableModel::setQuery(const ConsoleJobFilter &filter, ConsoleJobSort sort)
{
    beginResetModel();
    m_filter = filter;
    m_sort = sort;
    m_rows.clear();
    ++m_generation;
    m_fetching = false;
    m_refreshing = false;
    m_atEnd = false;
    m_total = -1;
    endResetModel();
    Q_EMIT countChanged(m_total);
    fetchMore({});
    refreshCount();
}

int JobTableModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

int JobTableModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

// A status at a glance: a dot in the status's colour beside its name (green completed, blue
// running, grey pending, red failed or dead, amber cancelled). Drawn once per status.
QIcon JobTableModel::statusIcon(JobStatus status)
{
    static QHash<int, QIcon> icons; // GUI thread only, like the model
    if (const auto found = icons.constFind(int(status)); found != icons.constEnd())
        return *found;
    QColor colour;
    switch (status) {
    case JobStatus::Completed:
        colour = QColor(0x2e, 0x9d, 0x4a);
        break;
    case JobStatus::Running:
        colour = QColor(0x1f, 0x77, 0xd4);
        break;
    case JobStatus::Pending:
        colour = QColor(0x9e, 0x9e, 0x9e);
        break;
    case JobStatus::Failed:
    case JobStatus::Dead:
        colour = QColor(0xd3, 0x2f, 0x2f);
        break;
    case JobStatus::Cancelled:
        colour = QColor(0xe0, 0x9a, 0x1a);
        break;
    }
    QIcon icon;
    for (const int size : {12, 16, 24}) {
        QPixmap dot(size, size);
        dot.fill(Qt::transparent);
        QPainter painter(&dot);
        painter.setRenderHint(QPainter::Antialiasing);
        painter.setPen(Qt::NoPen);
        painter.setBrush(colour);
        const qreal margin = size * 0.2;
        painter.drawEllipse(QRectF(margin, margin, size - 2 * margin, size - 2 * margin));
        if (status == JobStatus::Dead) { // dead: a ring, not a dot
            painter.setBrush(Qt::white);
            painter.drawEllipse(QRectF(size * 0.38, size * 0.38, size * 0.24, size * 0.24));
        }
        icon.addPixmap(dot);
    }
    icons.insert(int(status), icon);
    return icon;
}

QVariant JobTableModel::data(const QModelIndex &index, int role) const
{
    if (!index.isValid() || index.row() >= m_rows.size())
        return {};
    const ConsoleJobRow &row = m_rows.at(index.row());
    if (role == JobIdRole)
        return row.id;
    if (role == ProgressRole)
        return progressFraction(row);
    if (role == Qt::TextAlignmentRole) {
        switch (index.column()) {
        case Id:
        case Priority:
        case Attempts:
        case Duration:
            return QVariant(Qt::AlignRight | Qt::AlignVCenter);
        default:
            return {};
        }
    }
    if (role == Qt::ToolTipRole && index.column() == Status && !row.error.isEmpty())
        return row.error;
    if (role == Qt::DecorationRole && index.column() == Status)
        return statusIcon(row.status);
    if (role != Qt::DisplayRole)
        return {};
    switch (index.column()) {
    case Id:
        return row.id;
    case User:
        return row.userName.isEmpty() ? QString::number(row.userId) : row.userName;
    case DatasetFile: {
        QStringList parts;
        if (!row.dataset.isEmpty())
            parts << row.dataset;
        if (!row.fileName.isEmpty())
            parts << row.fileName;
        return parts.isEmpty() ? row.type : parts.join(QStringLiteral(" · "));
    }
    case Status:
        return row.status == JobStatus::Running && row.cancelRequested
                   ? QStringLiteral("running (cancelling)")
                   : jobStatusName(row.status);
    case Priority:
        return row.priority;
    case Progress: {
        const double fraction = progressFraction(row);
        if (fraction < 0)
            return row.progressDone > 0
                       ? QStringLiteral("%1 %2").arg(row.progressDone).arg(row.progressUnit)
                       : QString();
        return QStringLiteral("%1%").arg(int(fraction * 100.0));
    }
    case Attempts:
        return QStringLiteral("%1/%2").arg(row.attempts).arg(row.maxAttempts);
    case Created:
        return QDateTime::fromMSecsSinceEpoch(row.createdAt)
            .toString(QStringLiteral("yyyy-MM-dd HH:mm:ss"));
    case Duration:
        if (row.startedAt <= 0)
            return QString();
        return durationText(
            (row.finishedAt > 0 ? row.finishedAt : QDateTime::currentMSecsSinceEpoch()) -
            row.startedAt);
    }
    return {};
}

QVariant JobTableModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return QAbstractTableModel::headerData(section, orientation, role);
    static const QStringList titles{
        QStringLiteral("Id"),       QStringLiteral("User"),     QStringLiteral("Dataset / file"),
        QStringLiteral("Status"),   QStringLiteral("Priority"), QStringLiteral("Progress"),
        QStringLiteral("Attempts"), QStringLiteral("Created"),  QStringLiteral("Duration")};
    return titles.value(section);
}

bool JobTableModel::canFetchMore(const QModelIndex &parent) const
{
    return !parent.isValid() && !m_atEnd;
}

void JobTableModel::fetchMore(const QModelIndex &parent)
{
    if (parent.isValid() || m_atEnd || m_fetching)
        return;
    m_fetching = true;
    ConsoleJobQuery query;
    query.filter = m_filter;
    query.sort = m_sort;
    query.limit = m_pageSize;
    if (!m_rows.isEmpty()) {
        query.afterId = m_rows.constLast().id;
        query.afterPriority = m_rows.constLast().priority;
    }
    readPage(query);
}

QCoro::Task<> JobTableModel::readPage(ConsoleJobQuery query)
{
    const quint64 generation = m_generation;
    Store *store = &m_store;
    auto reading = runOnPool(this, m_readers, [store, query] { return store->consoleJobs(query); });
    auto page = co_await reading;
    if (!page || generation != m_generation)
        co_return; // the model is gone, or its query changed meanwhile
    m_fetching = false;
    if (!*page) {
        m_atEnd = true;
        Q_EMIT readFailed(page->error().toString());
        co_return;
    }
    QList<ConsoleJobRow> &rows = **page;
    if (rows.size() < m_pageSize)
        m_atEnd = true;
    if (!rows.isEmpty()) {
        beginInsertRows({}, int(m_rows.size()), int(m_rows.size() + rows.size() - 1));
        m_rows.append(std::move(rows));
        endInsertRows();
    }
    Q_EMIT pageLoaded(int(m_rows.size()));
}

QCoro::Task<> JobTableModel::refreshCount()
{
    const quint64 generation = m_generation;
    const quint64 countGeneration = ++m_countGeneration;
    Store *store = &m_store;
    const ConsoleJobFilter filter = m_filter;
    auto counting =
        runOnPool(this, m_readers, [store, filter] { return store->countConsoleJobs(filter); });
    const auto count = co_await counting;
    if (!count || generation != m_generation || countGeneration != m_countGeneration)
        co_return; // the model is gone, or a newer count is coming
    if (!*count) {
        Q_EMIT readFailed(count->error().toString());
        co_return;
    }
    m_total = **count;
    Q_EMIT countChanged(m_total);
}

QCoro::Task<> JobTableModel::refreshRows(int first, int last)
{
    if (m_fetching || m_refreshing)
        co_return;
    first = qMax(0, first);
    last = qMin(int(m_rows.size()) - 1, qMin(last, first + MaxRefreshRows - 1));
    QList<qint64> ids;
    for (int row = first; row <= last; ++row)
        ids.append(m_rows.at(row).id);
    // Newest first, jobs created since the first row was read go on top.
    const bool prepend = m_sort == ConsoleJobSort::NewestFirst && (!m_rows.isEmpty() || m_atEnd);
    if (ids.isEmpty() && !prepend)
        co_return;
    ConsoleJobQuery newer;
    newer.filter = m_filter;
    newer.sort = ConsoleJobSort::OldestFirst;
    newer.afterId = m_rows.isEmpty() ? 0 : m_rows.constFirst().id;
    newer.limit = m_pageSize;
    m_refreshing = true;
    const quint64 generation = m_generation;
    Store *store = &m_store;
    struct Refresh
    {
        Result<QList<ConsoleJobRow>> changed = QList<ConsoleJobRow>{};
        Result<QList<ConsoleJobRow>> newer = QList<ConsoleJobRow>{};
    };
    auto reading = runOnPool(this, m_readers, [store, ids, newer, prepend] {
        Refresh refresh;
        refresh.changed = store->consoleJobsById(ids);
        if (prepend)
            refresh.newer = store->consoleJobs(newer);
        return refresh;
    });
    auto refresh = co_await reading;
    if (!refresh || generation != m_generation)
        co_return; // the model is gone, or its query changed meanwhile
    m_refreshing = false;
    if (!refresh->changed || !refresh->newer) {
        Q_EMIT readFailed(
            (!refresh->changed ? refresh->changed : refresh->newer).error().toString());
        co_return;
    }
    applyRefresh(first, *refresh->changed, std::move(*refresh->newer));
}

void JobTableModel::applyRefresh(int first,
                                 const QList<ConsoleJobRow> &changed,
                                 QList<ConsoleJobRow> newer)
{
    // Row indices are stable between the request and here: pages only append, and rows are
    // prepended only below, after this.
    if (!changed.isEmpty()) {
        QHash<qint64, const ConsoleJobRow *> byId;
        for (const ConsoleJobRow &row : changed)
            byId.insert(row.id, &row);
        int last = -1;
        for (int i = first; i < m_rows.size() && i < first + MaxRefreshRows; ++i) {
            auto it = byId.constFind(m_rows.at(i).id);
            if (it == byId.cend())
                continue;
            m_rows[i] = **it;
            last = i;
        }
        if (last >= 0)
            Q_EMIT dataChanged(index(first, 0), index(last, ColumnCount - 1));
    }
    if (!newer.isEmpty()) {
        if (newer.size() >= m_pageSize) {
            // More arrived than a page: start over rather than leave a gap.
            setQuery(m_filter, m_sort);
            return;
        }
        // newer is oldest first: prepending each in turn leaves the newest on top.
        beginInsertRows({}, 0, int(newer.size() - 1));
        for (ConsoleJobRow &row : newer)
            m_rows.prepend(std::move(row));
        endInsertRows();
    }
    Q_EMIT refreshed();
}

bool JobTableModel::isSortable(int column)
{
    return column == Id || column == Created || column == Priority;
}

void JobTableModel::sort(int column, Qt::SortOrder order)
{
    if (!isSortable(column))
        return;
    ConsoleJobSort sort;
    if (column == Priority)
        sort = order == Qt::DescendingOrder ? ConsoleJobSort::PriorityHigh
                                            : ConsoleJobSort::PriorityLow;
    else
        sort = order == Qt::DescendingOrder ? ConsoleJobSort::NewestFirst
                                            : ConsoleJobSort::OldestFirst;
    if (sort != m_sort)
        setQuery(m_filter, sort);
}

} // namespace Ferry
