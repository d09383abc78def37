#pragma once

#include <QByteArray>
#include <QByteArrayView>
#include <QList>
#include <QString>

#include <optional>

#include <utility>

namespace Ferry {

// A streaming multipart/form-data parser (RFC 7578 over RFC 2046's framing), as browsers and
// `curl -F` send forms: memory stays at one input chunk plus the boundary, whatever the size of
// the parts, because part content is handed to the sink as it arrives. Malformed framing (no
// closing boundary, a part without Content-Disposition, oversized part headers) stops the reader
// with a message for a 400.
class MultipartReader final
{
public:
    struct Part
    {
        QByteArray name;  // Content-Disposition's name="..."
        QString fileName; // its filename="..." (or filename*=UTF-8''...), when given
        bool hasFileName = false;
        QByteArray contentType; // the part's Content-Type, empty when none
    };

    // Receives the parts, in order: partBegin, partData (any number of times), partEnd. Returning
    // false stops the reader (the sink keeps its own reason; error() then says "refused").
    class Sink
    {
    public:
        virtual ~Sink() = default;
        virtual bool partBegin(const Part &part) = 0;
        virtual bool partData(QByteArrayView data) = 0;
        virtual bool partEnd() = 0;
    };

    struct Limits
    {
        qsizetype maxHeaderBytes = 16 * 1024; // of one part's header block
        int maxParts = 64;
    };

    // The boundary parameter of a multipart Content-Type (quoted or not); empty when it is
    // missing or not 1-70 characters.
    static QByteArray boundaryOf(QByteArrayView contentType);
    // "value; a=1; b=\"two\"" -> ("value", [("a","1"), ("b","two")]); names lowercased.
    static std::pair<QByteArray, QList<std::pair<QByteArray, QByteArray>>>
    headerParameters(QByteArrayView header);
    // The file name of a Content-Disposition value (its filename*=UTF-8''..., else filename=),
    // whatever its type (form-data, attachment, inline); nullopt when it names none. A raw upload
    // may name its file this way (RFC 6266). Only shown and stored: never used as a path.
    static std::optional<QString> dispositionFileName(QByteArrayView disposition);

    MultipartReader(const QByteArray &boundary, Sink &sink, Limits limits);
    MultipartReader(const QByteArray &boundary, Sink &sink) : MultipartReader(boundary, sink, {}) {}

    // false: malformed, or the sink refused; error() says why. Later calls return false.
    bool feed(QByteArrayView data);
    // At the end of the body: false unless the closing boundary was seen.
    bool finish();
    const QString &error() const { return m_error; }
    // The sink refused (rather than the framing being malformed).
    bool refusedBySink() const { return m_refused; }

private:
    enum class State { Preamble, AfterDelimiter, Headers, Body, Epilogue, Failed };

    bool process();
    bool fail(const QString &message);
    bool refused();
    bool beginPart(QByteArrayView headers);

    Sink &m_sink;
    Limits m_limits;
    QByteArray m_delimiter; // "\r\n--" + boundary
    QByteArray m_buffer;    // bytes not yet handed on: at most one chunk plus the delimiter
    State m_state = State::Preamble;
    int m_parts = 0;
    bool m_refused = false;
    QString m_error;
};

} // namespace Ferry
