#include "accesslog.h"

#include "core/jsontext.h"

#include <QDateTime>

namespace Ferry {

AccessLog::AccessLog(Format format, std::FILE *out) : m_format(format), m_out(out)
{
    m_buffer.reserve(32 * 1024);
}

AccessLog::~AccessLog()
{
    flush();
}

void AccessLog::record(const QByteArray &method,
                       const QByteArray &path,
                       int status,
                       qint64 bytes,
                       qint64 micros,
                       const QByteArray &client)
{
    if (m_format == Format::Off)
        return;
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    std::string line;
    line.reserve(160);
    const std::string_view safePath(path.constData(), size_t(qMin<qsizetype>(path.size(), 512)));
    char number[64];
    if (m_format == Format::Json) {
        std::snprintf(number, sizeof number,
                      "{\"ts\":%lld,\"client\":", static_cast<long long>(now));
        line.append(number);
        appendJsonString(line, std::string_view(client.constData(), size_t(client.size())));
        line.append(",\"method\":");
        appendJsonString(line, std::string_view(method.constData(), size_t(method.size())));
        line.append(",\"path\":");
        appendJsonString(line, safePath);
        std::snprintf(number, sizeof number, ",\"status\":%d,\"bytes\":%lld,\"ms\":%.3f}\n", status,
                      static_cast<long long>(bytes), double(micros) / 1000.0);
        line.append(number);
    } else {
        line.append(
            QDateTime::fromMSecsSinceEpoch(now, Qt::UTC).toString(Qt::ISODateWithMs).toStdString());
        line.push_back(' ');
        line.append(client.constData(), size_t(client.size()));
        line.append(" \"");
        line.append(method.constData(), size_t(method.size()));
        line.push_back(' ');
        for (char c : safePath)
            line.push_back(c >= 0x20 && c != '"' ? c : '?'); // no forged lines or quotes
        std::snprintf(number, sizeof number, "\" %d %lld %.3fms\n", status,
                      static_cast<long long>(bytes), double(micros) / 1000.0);
        line.append(number);
    }
    QMutexLocker lock(&m_mutex);
    m_buffer.append(line);
    if (m_buffer.size() > 16 * 1024)
        writeLocked();
}

void AccessLog::flush()
{
    QMutexLocker lock(&m_mutex);
    writeLocked();
}

void AccessLog::writeLocked()
{
    if (m_buffer.empty())
        return;
    std::fwrite(m_buffer.data(), 1, m_buffer.size(), m_out);
    std::fflush(m_out);
    m_buffer.clear();
}

} // namespace Ferry
