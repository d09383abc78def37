#pragma once

#include <QGroupBox>

namespace Ferry {

class Attention;

// The Settings page's "Desktop notifications" box: one check box per kind of notice.
class NotificationSettings final : public QGroupBox
{
    Q_OBJECT
public:
    NotificationSettings(Attention &attention, QWidget *parent = nullptr);
};

} // namespace Ferry
