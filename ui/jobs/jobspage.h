#pragma once

#include "consolecontext.h"

#include <QWidget>

namespace Ferry {

// Every user's jobs: filter, search, sort, inspect, and act on them.
class JobsPage final : public QWidget
{
    Q_OBJECT
public:
    explicit JobsPage(ConsoleContext &context, QWidget *parent = nullptr);

private:
    ConsoleContext &m_context;
};

} // namespace Ferry
