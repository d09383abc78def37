#pragma once

#include "consolecontext.h"

#include <QWidget>

namespace Ferry {

// Engine settings, validated, persisted and applied live where possible.
class SettingsPage final : public QWidget
{
    Q_OBJECT
public:
    explicit SettingsPage(ConsoleContext &context, QWidget *parent = nullptr);

private:
    ConsoleContext &m_context;
};

} // namespace Ferry
