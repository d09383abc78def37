#include "config/settingsfollower.h"

#include "config/settingsservice.h"

#include <QLoggingCategory>
#include <QTimer>

namespace Ferry {

Q_LOGGING_CATEGORY(lcFollower, "ferry.settings")

SettingsFollower::SettingsFollower(SettingsService &settings, int pollIntervalMs)
    : m_settings(settings), m_poll(std::make_unique<QTimer>())
{
    m_thread.setMaxThreadCount(1);
    m_thread.setObjectName(QStringLiteral("ferry-settings"));
    m_poll->setInterval(pollIntervalMs);
    QObject::connect(m_poll.get(), &QTimer::timeout, [this] { requestReload(); });
    m_poll->start();
}

SettingsFollower::~SettingsFollower()
{
    m_poll.reset();
    m_thread.waitForDone();
}

void SettingsFollower::requestReload()
{
    int state = m_state.load();
    for (;;) {
        if (state == 2)
            return; // one more is already due after the running one
        if (m_state.compare_exchange_weak(state, state + 1)) {
            if (state == 0)
                m_thread.start([this] { run(); });
            return;
        }
    }
}

void SettingsFollower::run()
{
    for (;;) {
        auto changed = m_settings.reload();
        ++m_reloads;
        if (!changed) {
            qCWarning(lcFollower).noquote()
                << "could not read the shared settings -" << changed.error().toString();
        } else if (!changed->isEmpty()) {
            ++m_changes;
            qCInfo(lcFollower).noquote()
                << "settings saved on another node applied:" << changed->join(u", ");
        }
        // 1 -> 0: done. 2 -> 1: a request came while this one read; read once more.
        if (m_state.fetch_sub(1) == 1)
            return;
    }
}

} // namespace Ferry
