#include "ui/users/userstablemodel.h"

#include <QDateTime>
#include <QLocale>

namespace Ferry {

namespace {

QString limitCell(qint64 limit, bool isDefault, bool bytes)
{
    const QString value = bytes ? humanBytes(limit) : limitText(limit);
    return isDefault ? value + QStringLiteral(" (tier default)") : value;
}

QString exactBytes(qint64 bytes)
{
    return bytes < 0 ? QStringLiteral("unlimited")
                     : QStringLiteral("%1 bytes")
                           .arg(QLocale(QLocale::English, QLocale::UnitedStates).toString(bytes));
}

} // namespace

UsersTableModel::UsersTableModel(QObject *parent) : QAbstractTableModel(parent) {}

void UsersTableModel::setRows(QList<UserRow> rows)
{
    beginResetModel();
    m_rows = std::move(rows);
    endResetModel();
}

void UsersTableModel::updateRow(const UserRow &row)
{
    const int index = rowOf(row.user.id);
    if (index < 0) {
        beginInsertRows({}, int(m_rows.size()), int(m_rows.size()));
        m_rows.append(row);
        endInsertRows();
        return;
    }
    m_rows[index] = row;
    Q_EMIT dataChanged(this->index(index, 0), this->index(index, ColumnCount - 1));
}

const UserRow *UsersTableModel::rowAt(int row) const
{
    return row >= 0 && row < m_rows.size() ? &m_rows.at(row) : nullptr;
}

int UsersTableModel::rowOf(qint64 userId) const
{
    for (int i = 0; i < m_rows.size(); ++i) {
        if (m_rows.at(i).user.id == userId)
            return i;
    }
    return -1;
}

int UsersTableModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

int UsersTableModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant UsersTableModel::data(const QModelIndex &index, int role) const
{
    const UserRow *row = rowAt(index.row());
    if (!row)
        return {};
    const QuotaStatus &quota = row->quota;
    if (role == Qt::DisplayRole) {
        switch (index.column()) {
        case Name:
            return row->user.name;
        case Tier:
            return row->user.tier;
        case Status:
            return row->user.disabled ? QStringLiteral("disabled") : QStringLiteral("active");
        case UploadsUsed:
            return QString::number(quota.uploadsUsed);
        case UploadsLimit:
            return limitCell(quota.uploadsLimit, quota.uploadsLimitIsDefault, false);
        case BytesUsed:
            return humanBytes(quota.bytesUsed);
        case BytesLimit:
            return limitCell(quota.bytesLimit, quota.bytesLimitIsDefault, true);
        case ResetsOn:
            return QDateTime::fromMSecsSinceEpoch(quota.resetsAtMs, Qt::UTC)
                .toString(QStringLiteral("yyyy-MM-dd"));
        }
    } else if (role == Qt::EditRole) {
        if (index.column() == UploadsLimit)
            return quota.uploadsLimitIsDefault ? QStringLiteral("default")
                                               : limitText(quota.uploadsLimit);
        if (index.column() == BytesLimit)
            return quota.bytesLimitIsDefault ? QStringLiteral("default")
                                             : limitText(quota.bytesLimit);
        return data(index, Qt::DisplayRole);
    } else if (role == Qt::ToolTipRole) {
        switch (index.column()) {
        case BytesUsed:
            return exactBytes(quota.bytesUsed);
        case BytesLimit:
            return QString(exactBytes(quota.bytesLimit) +
                           QStringLiteral("\nEdit: a number of bytes (K, M, G, T allowed), "
                                          "'unlimited' or 'default'."));
        case UploadsLimit:
            return QStringLiteral("Edit: a number of uploads, 'unlimited' or 'default'.");
        case ResetsOn:
            return QStringLiteral("Usage for %1 resets at %2 UTC.")
                .arg(quota.period, QDateTime::fromMSecsSinceEpoch(quota.resetsAtMs, Qt::UTC)
                                       .toString(Qt::ISODate));
        }
    } else if (role == Qt::TextAlignmentRole && index.column() >= UploadsUsed &&
               index.column() <= BytesLimit) {
        return QVariant(Qt::AlignRight | Qt::AlignVCenter);
    }
    return {};
}

QVariant UsersTableModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    switch (section) {
    case Name:
        return QStringLiteral("Name");
    case Tier:
        return QStringLiteral("Tier");
    case Status:
        return QStringLiteral("Status");
    case UploadsUsed:
        return QStringLiteral("Uploads used");
    case UploadsLimit:
        return QStringLiteral("Upload limit");
    case BytesUsed:
        return QStringLiteral("Bytes used");
    case BytesLimit:
        return QStringLiteral("Byte limit");
    case ResetsOn:
        return QStringLiteral("Resets on");
    }
    return {};
}

Qt::ItemFlags UsersTableModel::flags(const QModelIndex &index) const
{
    Qt::ItemFlags flags = QAbstractTableModel::flags(index);
    if (isLimitColumn(index.column()))
        flags |= Qt::ItemIsEditable;
    return flags;
}

bool UsersTableModel::setData(const QModelIndex &index, const QVariant &value, int role)
{
    const UserRow *row = rowAt(index.row());
    if (!row || role != Qt::EditRole || !isLimitColumn(index.column()))
        return false;
    const LimitKind kind = kindOf(index.column());
    auto parsed = parseLimit(value.toString(), kind,
                             kind == LimitKind::Bytes ? QStringLiteral("The byte limit")
                                                      : QStringLiteral("The upload limit"));
    if (!parsed) {
        Q_EMIT editRefused(parsed.error().message + u' ' + parsed.error().hint);
        return false;
    }
    Q_EMIT limitEdited(row->user.id, kind, *parsed);
    return true;
}

} // namespace Ferry
