#include "notificationlistener.h"

#include <QAtomicInteger>
#include <QHash>
#include <QLoggingCategory>
#include <QSqlDatabase>
#include <QSqlDriver>
#include <QSqlError>
#include <QSqlQuery>
#include <QThread>
#include <QTimer>
#include <QUuid>

namespace Ferry {

Q_LOGGING_CATEGORY(lcListen, "ferry.cluster.listen")

class ListenWorker final : public QObject
{
public:
    ListenWorker(DatabaseConfig config, NotificationListener::Callbacks callbacks)
        : m_config(std::move(config))
        , m_callbacks(std::move(callbacks))
        , m_name(QStringLiteral("ferry-listen-") + QUuid::createUuid().toString(QUuid::Id128))
    {
        // Every channel and what its notification calls: a new channel is one more entry.
        using Channel = NotificationListener;
        m_channels.insert(Channel::JobsChannel, [this](const QString &) {
            if (m_callbacks.jobsEnqueued)
                m_callbacks.jobsEnqueued();
        });
        m_channels.insert(Channel::CancelChannel, [this](const QString &payload) {
            bool ok = false;
            const qint64 id = payload.toLongLong(&ok);
            if (ok && m_callbacks.cancelRequested)
                m_callbacks.cancelRequested(id);
        });
        m_channels.insert(Channel::SettingsChannel, [this](const QString &payload) {
            if (m_callbacks.settingChanged)
                m_callbacks.settingChanged(payload);
        });
        m_channels.insert(Channel::SlotsChannel, [this](const QString &) {
            if (m_callbacks.slotsFreed)
                m_callbacks.slotsFreed();
        });
    }

    ~ListenWorker() override { close(); }

    // On the worker's thread.
    Result<void> connectAndListen()
    {
        close();
        QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QPSQL"), m_name);
        db.setHostName(m_config.host);
        db.setPort(m_config.port);
        db.setUserName(m_config.user);
        db.setPassword(m_config.password);
        db.setDatabaseName(m_config.database);
        if (!db.open()) {
            const QString why = db.lastError().text();
            close();
            return makeError(ErrorCode::Storage,
                             QStringLiteral("Cannot open the LISTEN connection: %1").arg(why),
                             QStringLiteral("Check --db; nodes fall back to polling meanwhile."));
        }
        QSqlDriver *driver = db.driver();
        for (auto it = m_channels.cbegin(); it != m_channels.cend(); ++it) {
            const QString &channel = it.key();
            if (!driver->subscribeToNotification(channel)) {
                const QString why = driver->lastError().text();
                close();
                return makeError(ErrorCode::Storage,
                                 QStringLiteral("Cannot LISTEN on %1: %2").arg(channel, why),
                                 QStringLiteral("Nodes fall back to polling meanwhile."));
            }
        }
        connect(
            driver, &QSqlDriver::notification, this,
            [this](const QString &name, QSqlDriver::NotificationSource, const QVariant &payload) {
                if (auto handler = m_channels.constFind(name); handler != m_channels.cend())
                    (*handler)(payload.toString());
            });
        m_listening.storeRelease(1);
        return {};
    }

    // Every check interval: a failed ping means the link dropped; reconnect and catch up.
    void check()
    {
        bool healthy = false;
        if (m_listening.loadAcquire()) {
            QSqlDatabase db = QSqlDatabase::database(m_name, false);
            QSqlQuery ping(db);
            healthy = db.isOpen() && ping.exec(QStringLiteral("SELECT 1"));
        }
        if (healthy)
            return;
        const bool wasListening = m_listening.loadAcquire();
        if (auto listening = connectAndListen(); !listening) {
            if (wasListening || !m_reportedDown)
                qCWarning(lcListen) << listening.error().toString();
            m_reportedDown = true;
            return;
        }
        qCInfo(lcListen) << "LISTEN connection restored";
        m_reportedDown = false;
        if (m_callbacks.jobsEnqueued)
            m_callbacks.jobsEnqueued(); // what was enqueued (or freed) meanwhile was not announced
        if (m_callbacks.settingChanged)
            m_callbacks.settingChanged(QString()); // nor what changed: re-read them all
    }

    void close()
    {
        m_listening.storeRelease(0);
        if (QSqlDatabase::contains(m_name)) {
            {
                QSqlDatabase db = QSqlDatabase::database(m_name, false);
                if (db.isOpen()) {
                    disconnect(db.driver(), nullptr, this, nullptr);
                    db.close();
                }
            }
            QSqlDatabase::removeDatabase(m_name);
        }
    }

    bool listening() const { return m_listening.loadAcquire() != 0; }

    QTimer *timer = nullptr;

private:
    DatabaseConfig m_config;
    NotificationListener::Callbacks m_callbacks;
    QHash<QString, std::function<void(const QString &payload)>> m_channels;
    QString m_name;
    QAtomicInteger<int> m_listening{0};
    bool m_reportedDown = false;
};

NotificationListener::NotificationListener(DatabaseConfig config,
                                           Callbacks callbacks,
                                           QObject *parent)
    : QObject(parent), m_config(std::move(config)), m_callbacks(std::move(callbacks))
{}

NotificationListener::~NotificationListener()
{
    stop();
}

Result<void> NotificationListener::start(int checkIntervalMs)
{
    if (m_thread)
        return {};
    m_thread = std::make_unique<QThread>();
    m_thread->setObjectName(QStringLiteral("ferry-listen"));
    m_worker = new ListenWorker(m_config, m_callbacks);
    m_worker->moveToThread(m_thread.get());
    m_thread->start();
    Result<void> first;
    QMetaObject::invokeMethod(
        m_worker,
        [this, &first, checkIntervalMs] {
            first = m_worker->connectAndListen();
            m_worker->timer = new QTimer(m_worker);
            m_worker->timer->setInterval(checkIntervalMs);
            connect(m_worker->timer, &QTimer::timeout, m_worker, [w = m_worker] { w->check(); });
            m_worker->timer->start();
        },
        Qt::BlockingQueuedConnection);
    return first;
}

void NotificationListener::stop()
{
    if (!m_thread)
        return;
    QMetaObject::invokeMethod(
        m_worker, [w = m_worker] { delete w; }, Qt::BlockingQueuedConnection);
    m_worker = nullptr;
    m_thread->quit();
    m_thread->wait();
    m_thread.reset();
}

bool NotificationListener::isListening() const
{
    return m_worker && m_worker->listening();
}

void NotificationListener::dropConnectionForTest()
{
    if (m_worker)
        QMetaObject::invokeMethod(
            m_worker, [w = m_worker] { w->close(); }, Qt::BlockingQueuedConnection);
}

} // namespace Ferry
