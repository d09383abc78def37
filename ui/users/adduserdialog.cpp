#include "ui/users/adduserdialog.h"

#include "users/userdirectory.h"

#include <QComboBox>
#include <QDialogButtonBox>
#include <QFormLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>

namespace Ferry {

AddUserDialog::AddUserDialog(QWidget *parent)
    : QDialog(parent)
    , m_name(new QLineEdit(this))
    , m_tier(new QComboBox(this))
    , m_problem(new QLabel(this))
{
    setObjectName(QStringLiteral("addUserDialog"));
    setWindowTitle(QStringLiteral("Add user"));
    m_name->setObjectName(QStringLiteral("name"));
    m_name->setPlaceholderText(QStringLiteral("alice"));
    m_tier->setObjectName(QStringLiteral("tier"));
    m_tier->addItems(UserDirectory::tiers());
    m_tier->setCurrentText(QStringLiteral("standard"));
    m_problem->setObjectName(QStringLiteral("problem"));
    m_problem->setWordWrap(true);
    auto *buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    m_ok = buttons->button(QDialogButtonBox::Ok);
    m_ok->setText(QStringLiteral("Add"));
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    connect(m_name, &QLineEdit::textChanged, this, &AddUserDialog::check);
    auto *form = new QFormLayout(this);
    form->addRow(QStringLiteral("Name"), m_name);
    form->addRow(QStringLiteral("Tier"), m_tier);
    form->addRow(m_problem);
    form->addRow(buttons);
    check();
}

QString AddUserDialog::name() const
{
    return m_name->text().trimmed();
}

QString AddUserDialog::tier() const
{
    return m_tier->currentText();
}

void AddUserDialog::check()
{
    const auto valid = UserDirectory::validateName(name());
    m_ok->setEnabled(valid.ok());
    m_problem->setText(name().isEmpty() || valid.ok()
                           ? QString()
                           : valid.error().message + u' ' + valid.error().hint);
}

} // namespace Ferry
