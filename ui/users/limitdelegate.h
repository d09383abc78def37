#pragma once

#include <QStyledItemDelegate>

namespace Ferry {

// Edits the Users table's limit cells in a line edit that only takes what LimitValidator
// accepts; the model checks again when the value is committed.
class LimitDelegate final : public QStyledItemDelegate
{
    Q_OBJECT
public:
    using QStyledItemDelegate::QStyledItemDelegate;

    QWidget *createEditor(QWidget *parent,
                          const QStyleOptionViewItem &option,
                          const QModelIndex &index) const override;
    void setEditorData(QWidget *editor, const QModelIndex &index) const override;
    void setModelData(QWidget *editor,
                      QAbstractItemModel *model,
                      const QModelIndex &index) const override;
};

} // namespace Ferry
