#pragma once

#include <QList>
#include <QMutex>
#include <QObject>
#include <QString>

#include <atomic>
#include <deque>

namespace Ferry {

// One line of the engine's log, as the console shows it.
struct LogRecord
{
    qint64 sequence = 0;    // 1, 2, 3, ... in the order the records arrived
    qint64 timestampMs = 0; // Unix epoch ms
    QtMsgType level = QtInfoMsg;
    QString category; // "ferry.queue"
    QString message;

    // Debug < info < warning < critical < fatal (QtMsgType's values are not in that order).
    static int severity(QtMsgType level);
    static QString levelName(QtMsgType level);
};

// The last `capacity` log records in memory, for the console's log pane. Thread-safe: append()
// runs on whichever thread logs. `appended` is emitted on that thread after a record is stored,
// once until the next recordsAfter() call (so a burst of log lines posts one event, not
// thousands); connect to it with a queued connection (the default for a receiver on another
// thread) and read what is new with recordsAfter(). Bounded: the oldest record goes when a new
// one would exceed the capacity.
class LogBuffer final : public QObject
{
    Q_OBJECT
public:
    explicit LogBuffer(int capacity = 1000, QObject *parent = nullptr);
    ~LogBuffer() override; // uninstalls itself if installed
    Q_DISABLE_COPY_MOVE(LogBuffer)

    void
    append(QtMsgType level, const QString &category, const QString &message, qint64 timestampMs);
    // Records with sequence > afterSequence, oldest first.
    QList<LogRecord> recordsAfter(qint64 afterSequence = 0) const;
    int capacity() const { return m_capacity; }

    // Routes qDebug/qInfo/qWarning/... through this buffer, then to the handler that was
    // installed before (which keeps writing stderr in the existing format). One buffer at a
    // time; uninstall() restores the previous handler.
    void install();
    void uninstall();

Q_SIGNALS:
    void appended();

private:
    const int m_capacity;
    mutable QMutex m_mutex;
    std::deque<LogRecord> m_records;
    qint64 m_nextSequence = 1;
    mutable std::atomic<bool> m_notified{false}; // appended emitted, not read since
};

} // namespace Ferry
