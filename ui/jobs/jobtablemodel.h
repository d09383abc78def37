#pragma once

#include "store/consolerecords.h"

#include <QAbstractTableModel>
#include <QCoroTask>
#include <QIcon>
#include <QList>

class QThreadPool;

namespace Ferry {

class Store;

// Every user's jobs as a table, for a store of any size. Rows are fetched in keyset pages
// (pageSize rows after the last loaded row, in the sort order) on the reader pool, never on the
// GUI thread: canFetchMore/fetchMore, so the view asks for the next page as it scrolls to the
// end. The total for the filter is counted separately (exact COUNT off the GUI thread).
// Live updates never reload everything: refreshRows() re-reads the given rows by id, and, sorted
// newest first, jobs created since the first row was read are prepended.
class JobTableModel final : public QAbstractTableModel
{
    Q_OBJECT
public:
    enum Column { Id, User, DatasetFile, Status, Priority, Progress, Attempts, Created, Duration };
    // The Status column's dot, in the status's colour.
    static QIcon statusIcon(JobStatus status);
    static constexpr int ColumnCount = Duration + 1;
    enum Role {
        JobIdRole = Qt::UserRole + 1,
        ProgressRole, // fraction done, 0..1; -1 when unknown
    };

    JobTableModel(Store &store, QThreadPool *readers, QObject *parent = nullptr);

    // A new filter or order: the rows are dropped and the first page and the count are read.
    void setQuery(const ConsoleJobFilter &filter, ConsoleJobSort sort);
    const ConsoleJobFilter &filter() const { return m_filter; }
    ConsoleJobSort sortOrder() const { return m_sort; }
    void setPageSize(int rows) { m_pageSize = qMax(1, rows); }
    int pageSize() const { return m_pageSize; }

    // Jobs matching the filter; -1 until counted.
    qint64 totalCount() const { return m_total; }
    bool isFetching() const { return m_fetching; }
    bool atEnd() const { return m_atEnd; }
    const ConsoleJobRow &jobRow(int row) const { return m_rows.at(row); }
    qint64 jobId(int row) const { return m_rows.at(row).id; }

    // Re-reads rows first..last (at most MaxRefreshRows) by id; when sorted newest first, also
    // prepends jobs created since. Ignored while a page or a refresh is being read.
    QCoro::Task<> refreshRows(int first, int last);
    QCoro::Task<> refreshCount();
    static constexpr int MaxRefreshRows = 300;

    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;
    bool canFetchMore(const QModelIndex &parent) const override;
    void fetchMore(const QModelIndex &parent) override;
    // Only indexed orders: Id and Created (both id order) and Priority; other columns ignore it.
    void sort(int column, Qt::SortOrder order) override;
    static bool isSortable(int column);

Q_SIGNALS:
    void pageLoaded(int rows);
    void countChanged(qint64 total);
    void refreshed();
    void readFailed(const QString &message);

private:
    QCoro::Task<> readPage(ConsoleJobQuery query);
    void applyRefresh(int first, const QList<ConsoleJobRow> &changed, QList<ConsoleJobRow> newer);

    Store &m_store;
    QThreadPool *m_readers;
    ConsoleJobFilter m_filter;
    ConsoleJobSort m_sort = ConsoleJobSort::NewestFirst;
    QList<ConsoleJobRow> m_rows;
    int m_pageSize = 500;
    quint64 m_generation = 0; // a read started for an older query is dropped
    bool m_fetching = false;
    bool m_refreshing = false;
    bool m_atEnd = false;
    qint64 m_total = -1;
    quint64 m_countGeneration = 0;
};

} // namespace Ferry
