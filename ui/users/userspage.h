#pragma once

#include "consolecontext.h"

#include <QWidget>

namespace Ferry {

// Users, tokens and monthly quotas.
class UsersPage final : public QWidget
{
    Q_OBJECT
public:
    explicit UsersPage(ConsoleContext &context, QWidget *parent = nullptr);

private:
    ConsoleContext &m_context;
};

} // namespace Ferry
