#include "ui/users/tokendialog.h"

#include <QClipboard>
#include <QDialogButtonBox>
#include <QGuiApplication>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QVBoxLayout>

namespace Ferry {

TokenDialog::TokenDialog(const QString &heading, const QString &token, QWidget *parent)
    : QDialog(parent), m_token(new QLineEdit(token, this))
{
    setObjectName(QStringLiteral("tokenDialog"));
    setWindowTitle(QStringLiteral("API token"));
    auto *layout = new QVBoxLayout(this);
    auto *intro = new QLabel(heading, this);
    intro->setWordWrap(true);
    layout->addWidget(intro);
    m_token->setObjectName(QStringLiteral("token"));
    m_token->setReadOnly(true);
    m_token->setMinimumWidth(420);
    auto *copy = new QPushButton(QStringLiteral("Copy"), this);
    copy->setObjectName(QStringLiteral("copyToken"));
    connect(copy, &QPushButton::clicked, this, [this, copy] {
        QGuiApplication::clipboard()->setText(m_token->text());
        copy->setText(QStringLiteral("Copied"));
    });
    auto *row = new QHBoxLayout;
    row->addWidget(m_token, 1);
    row->addWidget(copy);
    layout->addLayout(row);
    auto *warning = new QLabel(QStringLiteral("Copy it now: it will not be shown again. Clients "
                                              "send it as \"Authorization: Bearer <token>\"."),
                               this);
    warning->setWordWrap(true);
    layout->addWidget(warning);
    auto *buttons = new QDialogButtonBox(QDialogButtonBox::Close, this);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::accept);
    layout->addWidget(buttons);
}

QString TokenDialog::token() const
{
    return m_token->text();
}

} // namespace Ferry
