#include "ui/attention/trayicon.h"

#include "ui/consoleicons.h"

#include <QAction>
#include <QMenu>
#include <QPainter>
#include <QSystemTrayIcon>

namespace Ferry {

TrayIcon::TrayIcon(Attention &attention, QAction *pause, QAction *quit, QWidget *window)
    : QObject(window), m_window(window), m_tray(new QSystemTrayIcon(this)), m_menu(new QMenu)
{
    m_tray->setObjectName(QStringLiteral("trayIcon"));
    m_tray->setToolTip(QStringLiteral("Ferry"));
    m_tray->setIcon(iconFor(attention.state()));
    auto *show = m_menu->addAction(QStringLiteral("Show Ferry"));
    connect(show, &QAction::triggered, this, &TrayIcon::showWindow);
    m_menu->addAction(pause);
    m_menu->addSeparator();
    m_menu->addAction(quit);
    m_tray->setContextMenu(m_menu);
    connect(m_tray, &QSystemTrayIcon::activated, this, [this](QSystemTrayIcon::ActivationReason r) {
        if (r == QSystemTrayIcon::Trigger || r == QSystemTrayIcon::DoubleClick)
            showWindow();
    });
    connect(&attention, &Attention::stateChanged, this, [this](Attention::State state) {
        m_tray->setIcon(iconFor(state));
        m_tray->setToolTip(state == Attention::State::Paused ? QStringLiteral("Ferry: paused")
                           : state == Attention::State::Failing
                               ? QStringLiteral("Ferry: jobs failing")
                               : QStringLiteral("Ferry: running"));
    });
    connect(&attention, &Attention::notice, this,
            [this](const QString &title, const QString &text) {
                m_tray->showMessage(title, text, QSystemTrayIcon::Warning, 10'000);
            });
    connect(m_tray, &QSystemTrayIcon::messageClicked, this, &TrayIcon::showWindow);
    m_tray->show();
}

TrayIcon::~TrayIcon()
{
    delete m_menu; // a context menu has no parent: the tray does not own it
}

bool TrayIcon::isVisible() const
{
    return m_tray->isVisible();
}

QIcon TrayIcon::iconFor(Attention::State state)
{
    QIcon icon;
    for (const int size : {16, 22, 32, 48}) {
        QPixmap pixmap = applicationIcon().pixmap(size, size);
        if (state != Attention::State::Running) {
            QPainter painter(&pixmap);
            painter.setRenderHint(QPainter::Antialiasing);
            const qreal d = size * 0.5;
            const QRectF badge(size - d, size - d, d, d);
            if (state == Attention::State::Failing) {
                painter.setPen(QPen(Qt::white, qMax(1.0, size / 16.0)));
                painter.setBrush(QColor(0xd3, 0x2f, 0x2f));
                painter.drawEllipse(badge.adjusted(0.5, 0.5, -0.5, -0.5));
            } else { // paused: two bars on a dark disc
                painter.setPen(Qt::NoPen);
                painter.setBrush(QColor(0x42, 0x42, 0x42));
                painter.drawEllipse(badge);
                painter.setBrush(Qt::white);
                const qreal bar = d / 5;
                painter.drawRect(QRectF(badge.left() + 1.3 * bar, badge.top() + bar, bar, 3 * bar));
                painter.drawRect(QRectF(badge.left() + 2.7 * bar, badge.top() + bar, bar, 3 * bar));
            }
        }
        icon.addPixmap(pixmap);
    }
    return icon;
}

void TrayIcon::showWindow()
{
    m_window->show();
    m_window->raise();
    m_window->activateWindow();
}

} // namespace Ferry
