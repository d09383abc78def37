#pragma once

#include <QStyledItemDelegate>

namespace Ferry {

// Paints a job's progress (JobTableModel::ProgressRole, 0..1) as a progress bar with the
// model's text ("45%"); an unknown fraction is painted as plain text.
class ProgressDelegate final : public QStyledItemDelegate
{
    Q_OBJECT
public:
    using QStyledItemDelegate::QStyledItemDelegate;
    void paint(QPainter *painter,
               const QStyleOptionViewItem &option,
               const QModelIndex &index) const override;
};

} // namespace Ferry
