#include "jobs/jobspage.h"

#include <QLabel>
#include <QVBoxLayout>

namespace Ferry {

JobsPage::JobsPage(ConsoleContext &context, QWidget *parent) : QWidget(parent), m_context(context)
{
    setObjectName(QStringLiteral("jobspage"));
    auto *layout = new QVBoxLayout(this);
    layout->addWidget(new QLabel(
        QStringLiteral("Every user's jobs: filter, search, sort, inspect, and act on them."),
        this));
}

} // namespace Ferry
