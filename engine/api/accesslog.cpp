#include "accesslog.h"

#include "core/jsontext.h"

#include <QDateTime>

#include <charconv>
#include <ctime>

namespace Ferry {

namespace {

// now as "2026-11-29T16:43:55.123Z" (Qt::ISODateWithMs in UTC); the seconds part is formatted
// once a second per thread, not per line.
void appendIsoTime(std::string &line, qint64 nowMs)
{
    thread_local qint64 cachedSecond = -1;
    thread_local char prefix[64];
    const qint64 second = nowMs / 1000;
    if (second != cachedSecond) {
        const std::time_t t = std::time_t(second);
        std::tm tm{};
        gmtime_r(&t, &tm);
        std::snprintf(prefix, sizeof prefix, "%04d-%02d-%02dT%02d:%02d:%02d.", tm.tm_year + 1900,
                      tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        cachedSecond = second;
    }
    line.append(prefix, 20);
    const int ms = int(nowMs % 1000);
    line.push_back(char('0' + ms / 100));
    line.push_back(char('0' + ms / 10 % 10));
    line.push_back(char('0' + ms % 10));
    line.push_back('Z');
}

// " 200 247 1.234ms" or ",\"status\":200,\"bytes\":247,\"ms\":1.234}" without printf.
void appendNumber(std::string &line, qint64 value)
{
    char digits[24];
    const auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
    line.append(digits, size_t(end - digits));
}

void appendMillis(std::string &line, qint64 micros)
{
    if (micros < 0)
        micros = 0;
    appendNumber(line, micros / 1000);
    const int fraction = int(micros % 1000);
    line.push_back('.');
    line.push_back(char('0' + fraction / 100));
    line.push_back(char('0' + fraction / 10 % 10));
    line.push_back(char('0' + fraction % 10));
}

// in as valid UTF-8: each byte that does not start a well-formed sequence (RFC 3629: no
// overlongs, no surrogates, nothing past U+10FFFF, nothing cut short) becomes U+FFFD. A client
// chooses the path's bytes; a log line must still be valid JSON, and text a terminal can show.
std::string_view validUtf8(std::string_view in, std::string &scratch)
{
    const auto byte = [&in](size_t i) { return static_cast<unsigned char>(in[i]); };
    const auto isTail = [&](size_t i) { return i < in.size() && (byte(i) & 0xc0) == 0x80; };
    size_t i = 0;
    while (i < in.size() && byte(i) < 0x80)
        ++i;
    if (i == in.size())
        return in; // ASCII: the common case, no copy
    scratch.assign(in.substr(0, i));
    while (i < in.size()) {
        const unsigned char c = byte(i);
        size_t length = 0;
        if (c < 0x80) {
            length = 1;
        } else if (c >= 0xc2 && c <= 0xdf) {
            length = isTail(i + 1) ? 2 : 0;
        } else if (c >= 0xe0 && c <= 0xef) {
            const unsigned char c1 = i + 1 < in.size() ? byte(i + 1) : 0;
            const bool second = (c == 0xe0)   ? (c1 >= 0xa0 && c1 <= 0xbf)
                                : (c == 0xed) ? (c1 >= 0x80 && c1 <= 0x9f)
                                              : isTail(i + 1);
            length = second && isTail(i + 2) ? 3 : 0;
        } else if (c >= 0xf0 && c <= 0xf4) {
            const unsigned char c1 = i + 1 < in.size() ? byte(i + 1) : 0;
            const bool second = (c == 0xf0)   ? (c1 >= 0x90 && c1 <= 0xbf)
                                : (c == 0xf4) ? (c1 >= 0x80 && c1 <= 0x8f)
                                              : isTail(i + 1);
            length = second && isTail(i + 2) && isTail(i + 3) ? 4 : 0;
        }
        if (length == 0) {
            scratch.append("\xef\xbf\xbd"); // U+FFFD
            ++i;
        } else {
            scratch.append(in.substr(i, length));
            i += length;
        }
    }
    return scratch;
}

} // namespace

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
    thread_local std::string line; // keeps its capacity: no allocation per line
    line.clear();
    thread_local std::string scratch;
    const std::string_view safePath = validUtf8(
        std::string_view(path.constData(), size_t(qMin<qsizetype>(path.size(), 512))), scratch);
    if (m_format == Format::Json) {
        thread_local std::string other;
        line.append("{\"ts\":");
        appendNumber(line, now);
        line.append(",\"client\":");
        appendJsonString(
            line, validUtf8(std::string_view(client.constData(), size_t(client.size())), other));
        line.append(",\"method\":");
        appendJsonString(
            line, validUtf8(std::string_view(method.constData(), size_t(method.size())), other));
        line.append(",\"path\":");
        appendJsonString(line, safePath);
        line.append(",\"status\":");
        appendNumber(line, status);
        line.append(",\"bytes\":");
        appendNumber(line, bytes);
        line.append(",\"ms\":");
        appendMillis(line, micros);
        line.append("}\n");
    } else {
        appendIsoTime(line, now);
        line.push_back(' ');
        line.append(client.constData(), size_t(client.size()));
        line.append(" \"");
        line.append(method.constData(), size_t(method.size()));
        line.push_back(' ');
        for (char c : safePath)
            line.push_back(c >= 0x20 && c != '"' ? c : '?'); // no forged lines or quotes
        line.append("\" ");
        appendNumber(line, status);
        line.push_back(' ');
        appendNumber(line, bytes);
        line.push_back(' ');
        appendMillis(line, micros);
        line.append("ms\n");
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
