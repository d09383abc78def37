#include "settings/settingspage.h"

#include <QLabel>
#include <QVBoxLayout>

namespace Ferry {

SettingsPage::SettingsPage(ConsoleContext &context, QWidget *parent)
    : QWidget(parent), m_context(context)
{
    setObjectName(QStringLiteral("settingspage"));
    auto *layout = new QVBoxLayout(this);
    layout->addWidget(new QLabel(
        QStringLiteral("Engine settings, validated, persisted and applied live where possible."),
        this));
}

} // namespace Ferry
