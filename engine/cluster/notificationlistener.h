#pragma once

#include "store/databaseconfig.h"

#include <QObject>

#include <functional>
#include <memory>

class QThread;

namespace Ferry {

// PostgreSQL LISTEN/NOTIFY for the cluster: one dedicated connection, on its own thread with an
// event loop (`ferry-listen`; QSqlDriver delivers notifications there), subscribed to
//  - ferry_jobs:   a node committed an enqueue (PostgresStore::enqueue) -> jobsEnqueued()
//  - ferry_cancel: the cancel of a running job, payload the job id (PostgresStore::cancelJob)
//                  -> cancelRequested(id)
//  - ferry_settings: a persisted setting changed (PostgresStore::setSetting), payload its key,
//                  e.g. queue.paused -> settingChanged(key)
//  - ferry_slots:  a node ended attempts while --cluster-max-running is set (PostgresStore::
//                  settleAndClaim) -> slotsFreed(): a node held back by the limit claims now
// A channel is one entry of ListenWorker's table (notificationlistener.cpp) and one callback.
// Channel names are lowercase (Qt quotes them; TOOLCHAIN.md). Every checkIntervalMs it pings the
// connection; a dropped one is reopened and resubscribed, and jobsEnqueued() is called once then,
// since notifications sent meanwhile are lost. Polling stays the fallback either way.
class NotificationListener final : public QObject
{
    Q_OBJECT
public:
    struct Callbacks
    {
        // Each defaults to none, so a callback added for a new channel breaks no caller.
        std::function<void()> jobsEnqueued = {};
        std::function<void(qint64)> cancelRequested = {};
        std::function<void(const QString &)> settingChanged = {};
        std::function<void()> slotsFreed = {};
    };

    static inline const QString JobsChannel = QStringLiteral("ferry_jobs");
    static inline const QString CancelChannel = QStringLiteral("ferry_cancel");
    static inline const QString SettingsChannel = QStringLiteral("ferry_settings");
    static inline const QString SlotsChannel = QStringLiteral("ferry_slots");

    NotificationListener(DatabaseConfig config, Callbacks callbacks, QObject *parent = nullptr);
    ~NotificationListener() override; // stop()s
    Q_DISABLE_COPY_MOVE(NotificationListener)

    // Starts the thread and connects; returns once the first connection is listening, or with
    // the error (the thread keeps retrying in the background).
    Result<void> start(int checkIntervalMs = 2'000);
    void stop();
    bool isListening() const; // thread-safe
    // Test hook: closes the connection on the listener's thread, as a dropped link would.
    void dropConnectionForTest();

private:
    std::unique_ptr<QThread> m_thread;
    class ListenWorker *m_worker = nullptr; // lives on m_thread
    DatabaseConfig m_config;
    Callbacks m_callbacks;
};

} // namespace Ferry
