#pragma once

#include <QObject>

class QSocketNotifier;

namespace Ferry {

// Turns SIGINT and SIGTERM into a Qt signal on the event loop (self-pipe), so shutdown runs as
// ordinary code rather than inside a signal handler.
class SignalWatcher final : public QObject
{
    Q_OBJECT
public:
    explicit SignalWatcher(QObject *parent = nullptr);
    ~SignalWatcher() override;

Q_SIGNALS:
    void terminationRequested(int signal);

private:
    QSocketNotifier *m_notifier = nullptr;
};

} // namespace Ferry
