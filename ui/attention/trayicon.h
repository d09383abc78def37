#pragma once

#include "ui/attention/attention.h"

#include <QObject>

class QAction;
class QMenu;
class QSystemTrayIcon;

namespace Ferry {

// Ferry in the system tray, where the desktop has one: an icon whose look says running, paused
// or failing, a menu that pauses and resumes the queue, shows the window and quits, and the
// Attention's notices as desktop notifications. Clicking the icon shows the window.
class TrayIcon final : public QObject
{
    Q_OBJECT
public:
    TrayIcon(Attention &attention, QAction *pause, QAction *quit, QWidget *window);
    ~TrayIcon() override;

    bool isVisible() const;
    // The icon for a state: Ferry's icon, with a pause badge or a red dot.
    static QIcon iconFor(Attention::State state);

private:
    void showWindow();

    QWidget *m_window;
    QSystemTrayIcon *m_tray;
    QMenu *m_menu;
};

} // namespace Ferry
