#pragma once

#include <QThreadPool>

#include <atomic>
#include <memory>

class QTimer;

namespace Ferry {

class SettingsService;

// Keeps this node's console settings equal to the shared store's: a setting saved on another
// node (its console writes the override and PostgreSQL announces it, NOTIFY ferry_settings)
// is read and applied here within moments, without a restart. requestReload() is what the
// notification calls; a timer calls it too, every pollIntervalMs, for a notification lost while
// the listener's connection was down.
//
// Reloads run on the follower's own thread (one, so they never overlap; a store read, never on
// a network thread). However many requests arrive while one is queued or running, at most one
// more reload follows it, so the last change is always read and a burst costs two reads.
class SettingsFollower final
{
public:
    SettingsFollower(SettingsService &settings, int pollIntervalMs);
    ~SettingsFollower(); // stops the timer and waits for a reload in progress
    Q_DISABLE_COPY_MOVE(SettingsFollower)

    void requestReload(); // thread-safe
    // How many reloads ran, and changed something (tests, /metrics).
    qint64 reloads() const { return m_reloads.load(); }
    qint64 changes() const { return m_changes.load(); }

private:
    void run();

    SettingsService &m_settings;
    QThreadPool m_thread;
    std::unique_ptr<QTimer> m_poll;
    // 0: idle; 1: a reload queued or running; 2: running, and another was asked for meanwhile.
    std::atomic<int> m_state = 0;
    std::atomic<qint64> m_reloads = 0;
    std::atomic<qint64> m_changes = 0;
};

} // namespace Ferry
