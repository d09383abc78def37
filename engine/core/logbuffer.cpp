#include "core/logbuffer.h"

#include <QDateTime>

#include <atomic>

namespace Ferry {

namespace {
// qInstallMessageHandler takes a plain function, so the installed buffer and the handler it
// replaced live here; install()/uninstall() set them.
std::atomic<LogBuffer *> s_installed{nullptr};
QtMessageHandler s_previous = nullptr;
thread_local bool t_inHandler = false; // a message logged while recording is not recorded again

void recordMessage(QtMsgType type, const QMessageLogContext &context, const QString &message)
{
    if (LogBuffer *buffer = s_installed.load(); buffer && !t_inHandler) {
        t_inHandler = true;
        buffer->append(type, context.category ? QString::fromLatin1(context.category) : QString(),
                       message, QDateTime::currentMSecsSinceEpoch());
        t_inHandler = false;
    }
    if (s_previous)
        s_previous(type, context, message);
}
} // namespace

int LogRecord::severity(QtMsgType level)
{
    switch (level) {
    case QtDebugMsg:
        return 0;
    case QtInfoMsg:
        return 1;
    case QtWarningMsg:
        return 2;
    case QtCriticalMsg:
        return 3;
    case QtFatalMsg:
        return 4;
    }
    return 1;
}

QString LogRecord::levelName(QtMsgType level)
{
    switch (level) {
    case QtDebugMsg:
        return QStringLiteral("debug");
    case QtInfoMsg:
        return QStringLiteral("info");
    case QtWarningMsg:
        return QStringLiteral("warning");
    case QtCriticalMsg:
        return QStringLiteral("error");
    case QtFatalMsg:
        return QStringLiteral("fatal");
    }
    return QStringLiteral("info");
}

LogBuffer::LogBuffer(int capacity, QObject *parent) : QObject(parent), m_capacity(qMax(1, capacity))
{}

LogBuffer::~LogBuffer()
{
    uninstall();
}

void LogBuffer::append(QtMsgType level,
                       const QString &category,
                       const QString &message,
                       qint64 timestampMs)
{
    {
        const QMutexLocker lock(&m_mutex);
        m_records.push_back({m_nextSequence++, timestampMs, level, category, message});
        while (int(m_records.size()) > m_capacity)
            m_records.pop_front();
    }
    if (!m_notified.exchange(true))
        Q_EMIT appended();
}

QList<LogRecord> LogBuffer::recordsAfter(qint64 afterSequence) const
{
    m_notified.store(false); // before reading: a record appended meanwhile signals again
    const QMutexLocker lock(&m_mutex);
    QList<LogRecord> result;
    for (auto it = m_records.rbegin(); it != m_records.rend() && it->sequence > afterSequence; ++it)
        result.prepend(*it);
    return result;
}

void LogBuffer::install()
{
    LogBuffer *expected = nullptr;
    if (!s_installed.compare_exchange_strong(expected, this))
        return; // this or another buffer is installed already
    s_previous = qInstallMessageHandler(recordMessage);
}

void LogBuffer::uninstall()
{
    LogBuffer *expected = this;
    if (!s_installed.compare_exchange_strong(expected, nullptr))
        return;
    qInstallMessageHandler(s_previous);
    s_previous = nullptr;
}

} // namespace Ferry
