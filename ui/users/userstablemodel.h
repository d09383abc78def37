#pragma once

#include "quota/limitparser.h"
#include "quota/quotaledger.h"
#include "store/records.h"

#include <QAbstractTableModel>

#include <optional>

namespace Ferry {

// One user and where they stand this month.
struct UserRow
{
    User user;
    QuotaStatus quota;
};

// The Users page's table: name, tier, status, uploads used/limit, bytes used/limit (MiB/GiB,
// the exact count in the tooltip), resets on. The two limit columns are editable: a valid edit
// is not applied here but announced (limitEdited) for the page to write off the GUI thread and
// refresh the row; an invalid one is refused (editRefused) and changes nothing.
class UsersTableModel final : public QAbstractTableModel
{
    Q_OBJECT
public:
    enum Column {
        Name,
        Tier,
        Status,
        UploadsUsed,
        UploadsLimit,
        BytesUsed,
        BytesLimit,
        ResetsOn,
        ColumnCount
    };

    explicit UsersTableModel(QObject *parent = nullptr);

    void setRows(QList<UserRow> rows);
    void updateRow(const UserRow &row); // by user id
    const UserRow *rowAt(int row) const;
    int rowOf(qint64 userId) const;

    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;
    Qt::ItemFlags flags(const QModelIndex &index) const override;
    bool setData(const QModelIndex &index, const QVariant &value, int role) override;

    static bool isLimitColumn(int column) { return column == UploadsLimit || column == BytesLimit; }
    static LimitKind kindOf(int column)
    {
        return column == BytesLimit ? LimitKind::Bytes : LimitKind::Uploads;
    }

Q_SIGNALS:
    // limit: -1 unlimited, nullopt the tier's default.
    void limitEdited(qint64 userId, Ferry::LimitKind kind, std::optional<qint64> limit);
    void editRefused(const QString &message);

private:
    QList<UserRow> m_rows;
};

} // namespace Ferry
