#pragma once

#include <QByteArray>
#include <QMutex>

#include <cstdio>
#include <string>

namespace Ferry {

// One line per request (method, path, status, bytes, duration, client), as text or JSON lines.
// Lines are buffered and written in blocks (when the buffer passes 16 KiB, and by flush(), which
// the host calls a few times a second), so logging costs a copy, not a write, per request.
class AccessLog final
{
public:
    enum class Format { Off, Text, Json };

    explicit AccessLog(Format format, std::FILE *out = stderr);
    ~AccessLog();
    Q_DISABLE_COPY_MOVE(AccessLog)

    void record(const QByteArray &method,
                const QByteArray &path,
                int status,
                qint64 bytes,
                qint64 micros,
                const QByteArray &client);
    void flush();
    Format format() const { return m_format; }

private:
    void writeLocked();

    const Format m_format;
    std::FILE *m_out;
    QMutex m_mutex;
    std::string m_buffer;
};

} // namespace Ferry
