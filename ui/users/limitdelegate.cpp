#include "ui/users/limitdelegate.h"

#include "ui/users/limitvalidator.h"
#include "ui/users/userstablemodel.h"

#include <QLineEdit>

namespace Ferry {

QWidget *LimitDelegate::createEditor(QWidget *parent,
                                     const QStyleOptionViewItem &option,
                                     const QModelIndex &index) const
{
    if (!UsersTableModel::isLimitColumn(index.column()))
        return QStyledItemDelegate::createEditor(parent, option, index);
    auto *editor = new QLineEdit(parent);
    editor->setObjectName(QStringLiteral("limitEditor"));
    editor->setValidator(new LimitValidator(UsersTableModel::kindOf(index.column()), editor));
    editor->setPlaceholderText(index.column() == UsersTableModel::BytesLimit
                                   ? QStringLiteral("bytes, 10G, unlimited, default")
                                   : QStringLiteral("uploads, unlimited, default"));
    return editor;
}

void LimitDelegate::setEditorData(QWidget *editor, const QModelIndex &index) const
{
    if (auto *line = qobject_cast<QLineEdit *>(editor))
        line->setText(index.data(Qt::EditRole).toString());
    else
        QStyledItemDelegate::setEditorData(editor, index);
}

void LimitDelegate::setModelData(QWidget *editor,
                                 QAbstractItemModel *model,
                                 const QModelIndex &index) const
{
    auto *line = qobject_cast<QLineEdit *>(editor);
    if (!line) {
        QStyledItemDelegate::setModelData(editor, model, index);
        return;
    }
    if (line->text() == index.data(Qt::EditRole).toString())
        return; // nothing changed: no write
    // The model refuses what does not parse, and says why.
    model->setData(index, line->text(), Qt::EditRole);
}

} // namespace Ferry
