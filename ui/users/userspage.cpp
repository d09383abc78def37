#include "users/userspage.h"

#include <QLabel>
#include <QVBoxLayout>

namespace Ferry {

UsersPage::UsersPage(ConsoleContext &context, QWidget *parent) : QWidget(parent), m_context(context)
{
    setObjectName(QStringLiteral("userspage"));
    auto *layout = new QVBoxLayout(this);
    layout->addWidget(new QLabel(QStringLiteral("Users, tokens and monthly quotas."), this));
}

} // namespace Ferry
