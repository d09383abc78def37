#include "multipartreader.h"

#include <QUrl>

#include <optional>

namespace Ferry {

namespace {

bool isSpace(char c)
{
    return c == ' ' || c == '\t';
}

QByteArrayView trimmed(QByteArrayView text)
{
    while (!text.isEmpty() && isSpace(text.front()))
        text = text.sliced(1);
    while (!text.isEmpty() && isSpace(text.back()))
        text.chop(1);
    return text;
}

// RFC 5987 ext-value: charset'language'percent-encoded. Only UTF-8 (what browsers send).
std::optional<QString> extendedValue(const QByteArray &value)
{
    const qsizetype first = value.indexOf('\'');
    const qsizetype second = first < 0 ? -1 : value.indexOf('\'', first + 1);
    if (second < 0 || value.left(first).toLower() != "utf-8")
        return std::nullopt;
    return QUrl::fromPercentEncoding(value.mid(second + 1));
}

} // namespace

std::pair<QByteArray, QList<std::pair<QByteArray, QByteArray>>>
MultipartReader::headerParameters(QByteArrayView header)
{
    std::pair<QByteArray, QList<std::pair<QByteArray, QByteArray>>> result;
    qsizetype i = header.indexOf(';');
    result.first = trimmed(i < 0 ? header : header.first(i)).toByteArray();
    while (i >= 0 && i < header.size()) {
        ++i; // past ';'
        while (i < header.size() && isSpace(header[i]))
            ++i;
        const qsizetype nameStart = i;
        while (i < header.size() && header[i] != '=' && header[i] != ';')
            ++i;
        const QByteArray name = trimmed(header.sliced(nameStart, i - nameStart)).toByteArray();
        QByteArray value;
        if (i < header.size() && header[i] == '=') {
            ++i;
            while (i < header.size() && isSpace(header[i]))
                ++i;
            if (i < header.size() && header[i] == '"') {
                ++i;
                while (i < header.size() && header[i] != '"') {
                    if (header[i] == '\\' && i + 1 < header.size())
                        ++i;
                    value.append(header[i]);
                    ++i;
                }
                ++i; // past the closing quote
                while (i < header.size() && header[i] != ';')
                    ++i;
            } else {
                const qsizetype valueStart = i;
                while (i < header.size() && header[i] != ';')
                    ++i;
                value = trimmed(header.sliced(valueStart, i - valueStart)).toByteArray();
            }
        }
        if (!name.isEmpty())
            result.second.append({name.toLower(), value});
    }
    return result;
}

std::optional<QString> MultipartReader::dispositionFileName(QByteArrayView disposition)
{
    std::optional<QString> plain;
    std::optional<QString> extended;
    for (const auto &[parameter, text] : headerParameters(disposition).second) {
        if (parameter == "filename")
            plain = QString::fromUtf8(text);
        else if (parameter == "filename*")
            extended = extendedValue(text);
    }
    return extended ? extended : plain;
}

QByteArray MultipartReader::boundaryOf(QByteArrayView contentType)
{
    const auto [type, parameters] = headerParameters(contentType);
    if (!type.toLower().startsWith("multipart/"))
        return {};
    for (const auto &[name, value] : parameters) {
        if (name == "boundary")
            return value.size() >= 1 && value.size() <= 70 ? value : QByteArray();
    }
    return {};
}

MultipartReader::MultipartReader(const QByteArray &boundary, Sink &sink, Limits limits)
    : m_sink(sink)
    , m_limits(limits)
    , m_delimiter("\r\n--" + boundary)
    , m_buffer("\r\n") // so that a delimiter at the very start matches like any other
{}

bool MultipartReader::fail(const QString &message)
{
    m_state = State::Failed;
    m_error = message;
    m_buffer.clear();
    return false;
}

bool MultipartReader::refused()
{
    m_refused = true;
    return fail(QStringLiteral("refused"));
}

bool MultipartReader::feed(QByteArrayView data)
{
    if (m_state == State::Failed)
        return false;
    if (m_state == State::Epilogue)
        return true; // after the closing delimiter: ignored (RFC 2046)
    m_buffer.append(data);
    return process();
}

bool MultipartReader::finish()
{
    if (m_state == State::Failed)
        return false;
    if (m_state != State::Epilogue) {
        return fail(m_parts == 0 ? QStringLiteral("The form data has no parts: its boundary never "
                                                  "appears.")
                                 : QStringLiteral("The form data ends before its closing boundary "
                                                  "(the upload may be truncated)."));
    }
    return true;
}

bool MultipartReader::process()
{
    while (true) {
        switch (m_state) {
        case State::Preamble: {
            const qsizetype at = m_buffer.indexOf(m_delimiter);
            if (at < 0) {
                // Keep only what could still be the start of a delimiter.
                const qsizetype keep = m_delimiter.size() - 1;
                if (m_buffer.size() > keep)
                    m_buffer.remove(0, m_buffer.size() - keep);
                return true;
            }
            m_buffer.remove(0, at + m_delimiter.size());
            m_state = State::AfterDelimiter;
            break;
        }
        case State::AfterDelimiter: {
            if (m_buffer.size() < 2)
                return true;
            if (m_buffer.startsWith("--")) {
                m_state = State::Epilogue;
                m_buffer.clear();
                return true;
            }
            const qsizetype end = m_buffer.indexOf("\r\n");
            if (end < 0) {
                if (m_buffer.size() > 256)
                    return fail(QStringLiteral("A boundary line of the form data is malformed."));
                return true;
            }
            for (qsizetype i = 0; i < end; ++i) { // transport padding only
                if (!isSpace(m_buffer[i]))
                    return fail(QStringLiteral("A boundary line of the form data is malformed."));
            }
            m_buffer.remove(0, end + 2);
            if (++m_parts > m_limits.maxParts) {
                return fail(
                    QStringLiteral("The form has more than %1 parts.").arg(m_limits.maxParts));
            }
            m_state = State::Headers;
            break;
        }
        case State::Headers: {
            if (m_buffer.size() < 2)
                return true;
            qsizetype end = 0;
            qsizetype skip = 2;
            if (!m_buffer.startsWith("\r\n")) { // else no header fields at all
                end = m_buffer.indexOf("\r\n\r\n");
                skip = 4;
                if (end < 0 || end > m_limits.maxHeaderBytes) {
                    if (end < 0 && m_buffer.size() <= m_limits.maxHeaderBytes)
                        return true;
                    return fail(QStringLiteral("The headers of a form part exceed %1 bytes.")
                                    .arg(m_limits.maxHeaderBytes));
                }
            }
            if (!beginPart(QByteArrayView(m_buffer).first(end)))
                return false;
            m_buffer.remove(0, end + skip);
            m_state = State::Body;
            break;
        }
        case State::Body: {
            const qsizetype at = m_buffer.indexOf(m_delimiter);
            if (at < 0) {
                const qsizetype keep = m_delimiter.size() - 1;
                if (m_buffer.size() > keep) {
                    const qsizetype n = m_buffer.size() - keep;
                    if (!m_sink.partData(QByteArrayView(m_buffer).first(n)))
                        return refused();
                    m_buffer.remove(0, n);
                }
                return true;
            }
            if (at > 0 && !m_sink.partData(QByteArrayView(m_buffer).first(at)))
                return refused();
            if (!m_sink.partEnd())
                return refused();
            m_buffer.remove(0, at + m_delimiter.size());
            m_state = State::AfterDelimiter;
            break;
        }
        case State::Epilogue:
            m_buffer.clear();
            return true;
        case State::Failed:
            return false;
        }
    }
}

bool MultipartReader::beginPart(QByteArrayView headers)
{
    Part part;
    bool disposition = false;
    for (QByteArrayView line :
         QByteArray::fromRawData(headers.data(), headers.size()).split('\n')) {
        if (line.endsWith('\r'))
            line.chop(1);
        if (line.isEmpty())
            continue;
        const qsizetype colon = line.indexOf(':');
        if (colon <= 0)
            return fail(QStringLiteral("A header line of a form part is malformed."));
        const QByteArray name = trimmed(line.first(colon)).toByteArray().toLower();
        const QByteArrayView value = trimmed(line.sliced(colon + 1));
        if (name == "content-type") {
            part.contentType = value.toByteArray();
        } else if (name == "content-disposition") {
            const auto [type, parameters] = headerParameters(value);
            if (type.toLower() != "form-data")
                return fail(QStringLiteral("A form part is not 'Content-Disposition: form-data'."));
            disposition = true;
            for (const auto &[parameter, text] : parameters) {
                if (parameter == "name")
                    part.name = text;
            }
            if (auto fileName = dispositionFileName(value)) {
                part.fileName = *fileName;
                part.hasFileName = true;
            }
        }
    }
    if (!disposition || part.name.isEmpty()) {
        return fail(QStringLiteral("A form part lacks 'Content-Disposition: form-data; "
                                   "name=\"...\"'."));
    }
    if (!m_sink.partBegin(part))
        return refused();
    return true;
}

} // namespace Ferry
