#include "ui/attention/notificationsettings.h"

#include "ui/attention/attention.h"

#include <QCheckBox>
#include <QVBoxLayout>

namespace Ferry {

NotificationSettings::NotificationSettings(Attention &attention, QWidget *parent)
    : QGroupBox(QStringLiteral("Desktop notifications (this console)"), parent)
{
    setObjectName(QStringLiteral("notificationSettings"));
    auto *layout = new QVBoxLayout(this);
    const auto box = [&](Attention::Kind kind, const char *name, const QString &text) {
        auto *check = new QCheckBox(text, this);
        check->setObjectName(QLatin1String(name));
        check->setChecked(attention.isEnabled(kind));
        connect(check, &QCheckBox::toggled, this,
                [&attention, kind](bool on) { attention.setEnabled(kind, on); });
        layout->addWidget(check);
    };
    box(Attention::Kind::Failures, "notifyFailures",
        QStringLiteral("When jobs end failed or dead (one notice per burst)"));
    box(Attention::Kind::Quota, "notifyQuota",
        QStringLiteral("When a user's monthly quota is used up"));
    box(Attention::Kind::Memory, "notifyMemory",
        QStringLiteral("When memory pressure lowers the number of jobs run at once"));
}

} // namespace Ferry
