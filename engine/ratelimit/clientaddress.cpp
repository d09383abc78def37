#include "clientaddress.h"

#include <algorithm>

namespace Ferry {

namespace {

// HTTP's optional white space around a list element: spaces and tabs only (RFC 9110, 5.6.1).
// QStringView::trimmed() would also drop a no-break space (0xA0 read as Latin-1), a line feed or
// a form feed, and so accept an entry a proxy could not have written.
QStringView trimmedOws(QStringView text)
{
    const auto ows = [](QChar c) { return c == u' ' || c == u'\t'; };
    while (!text.isEmpty() && ows(text.front()))
        text = text.sliced(1);
    while (!text.isEmpty() && ows(text.back()))
        text.chop(1);
    return text;
}

const QString RangeHint = QStringLiteral(
    "Expected addresses or CIDR ranges separated by commas, such as 127.0.0.1, 10.0.0.0/8, ::1.");

QHostAddress normalized(QHostAddress address)
{
    if (address.protocol() == QAbstractSocket::IPv6Protocol) {
        bool mapped = false;
        const quint32 v4 = address.toIPv4Address(&mapped);
        if (mapped)
            return QHostAddress(v4);
        address.setScopeId({});
    }
    return address;
}

// ASCII digits: QChar::isDigit() also takes other scripts' digits, which toInt() reads as 0.
bool isDigits(QStringView text, qsizetype maxLength)
{
    return !text.isEmpty() && text.size() <= maxLength &&
           std::all_of(text.begin(), text.end(), [](QChar c) { return c >= u'0' && c <= u'9'; });
}

// A zone ("fe80::1%eth0") is dropped, but must look like one: an interface name or index.
// Qt's parser takes anything after the '%'.
bool isZone(QStringView zone)
{
    return !zone.isEmpty() && zone.size() <= 15 &&
           std::all_of(zone.begin(), zone.end(), [](QChar c) {
               return c.unicode() < 128 &&
                      (c.isLetterOrNumber() || c == u'_' || c == u'-' || c == u'.');
           });
}

// Dotted quad only: no "1.2.3", no "0x7f.1", no leading zeros (octal to some parsers).
std::optional<quint32> parseIpv4(QStringView text)
{
    quint32 value = 0;
    int parts = 0;
    for (const QStringView part : text.tokenize(u'.')) {
        if (++parts > 4 || !isDigits(part, 3) || (part.size() > 1 && part.front() == u'0'))
            return std::nullopt;
        const int octet = part.toInt();
        if (octet > 255)
            return std::nullopt;
        value = (value << 8) | quint32(octet);
    }
    if (parts != 4)
        return std::nullopt;
    return value;
}

// One X-Forwarded-For entry: an address, optionally with a port ("1.2.3.4:80", "[::1]:80").
std::optional<QHostAddress> parseForwardedEntry(QStringView entry)
{
    if (entry.startsWith(u'[')) {
        const qsizetype close = entry.indexOf(u']');
        if (close < 0)
            return std::nullopt;
        const QStringView rest = entry.sliced(close + 1);
        if (!rest.isEmpty() && !(rest.front() == u':' && isDigits(rest.sliced(1), 5)))
            return std::nullopt;
        const QStringView inner = entry.sliced(1, close - 1);
        if (!inner.contains(u':'))
            return std::nullopt;
        return ClientAddress::parseAddress(inner);
    }
    if (entry.count(u':') == 1) {
        const qsizetype colon = entry.indexOf(u':');
        if (!isDigits(entry.sliced(colon + 1), 5))
            return std::nullopt;
        const auto v4 = parseIpv4(entry.first(colon));
        return v4 ? std::optional(QHostAddress(*v4)) : std::nullopt;
    }
    return ClientAddress::parseAddress(entry);
}

QHostAddress masked(const QHostAddress &address, int prefix)
{
    if (address.protocol() == QAbstractSocket::IPv4Protocol) {
        const quint32 mask = prefix == 0 ? 0 : ~quint32(0) << (32 - prefix);
        return QHostAddress(address.toIPv4Address() & mask);
    }
    Q_IPV6ADDR bytes = address.toIPv6Address();
    for (int i = 0; i < 16; ++i) {
        const int keep = std::clamp(prefix - i * 8, 0, 8);
        bytes[i] &= quint8(0xff00 >> keep);
    }
    return QHostAddress(bytes);
}

} // namespace

ClientAddress::ClientAddress(QList<Range> trustedProxies) : m_trusted(std::move(trustedProxies))
{
    for (Range &range : m_trusted)
        range.first = normalized(range.first);
}

std::optional<QHostAddress> ClientAddress::parseAddress(QStringView text)
{
    if (!text.contains(u':')) {
        const auto v4 = parseIpv4(text);
        return v4 ? std::optional(QHostAddress(*v4)) : std::nullopt;
    }
    // Qt's IPv6 parser is strict; the check on the protocol refuses anything it reads otherwise.
    QHostAddress address;
    const qsizetype percent = text.indexOf(u'%');
    if (percent >= 0 && !isZone(text.sliced(percent + 1)))
        return std::nullopt;
    if (text.size() > 64 || !address.setAddress(text.toString()) ||
        address.protocol() != QAbstractSocket::IPv6Protocol) {
        return std::nullopt;
    }
    return normalized(address);
}

Result<ClientAddress::Range> ClientAddress::parseRange(const QString &text)
{
    const auto fail = [&text](const QString &why) {
        return makeError(ErrorCode::Config,
                         QStringLiteral("Invalid trusted proxy '%1': %2").arg(text, why),
                         RangeHint);
    };
    const qsizetype slash = text.indexOf(u'/');
    const QStringView addressText = slash < 0 ? QStringView(text) : QStringView(text).first(slash);
    const auto address = parseAddress(addressText);
    if (!address)
        return fail(QStringLiteral("'%1' is not an IP address.").arg(addressText));

    const bool v4 = address->protocol() == QAbstractSocket::IPv4Protocol;
    // "::ffff:10.0.0.0/104" is 10.0.0.0/8: mapped addresses are matched as IPv4.
    const bool writtenAsV6 = addressText.contains(u':');
    const int maxPrefix = writtenAsV6 ? 128 : 32;
    int prefix = maxPrefix;
    if (slash >= 0) {
        const QStringView prefixText = QStringView(text).sliced(slash + 1);
        if (!isDigits(prefixText, 3) || prefixText.toInt() > maxPrefix) {
            return fail(
                QStringLiteral("the prefix length must be a number from 0 to %1.").arg(maxPrefix));
        }
        prefix = prefixText.toInt();
    }
    if (v4 && writtenAsV6) {
        if (prefix < 96) {
            return fail(QStringLiteral("an IPv4-mapped range needs a prefix of at least 96."));
        }
        prefix -= 96;
    }
    const QHostAddress network = masked(*address, prefix);
    if (network != *address) {
        return fail(QStringLiteral("the address has bits set beyond the /%1 prefix; did you mean "
                                   "%2/%1?")
                        .arg(prefix)
                        .arg(network.toString()));
    }
    return Range{network, prefix};
}

Result<ClientAddress> ClientAddress::fromTrustedProxies(const QString &list)
{
    QList<Range> ranges;
    const QStringList entries =
        QString(list).replace(u',', u' ').simplified().split(u' ', Qt::SkipEmptyParts);
    for (const QString &entry : entries) {
        auto range = parseRange(entry.trimmed());
        if (!range)
            return range.error();
        ranges.append(*range);
    }
    return ClientAddress(std::move(ranges));
}

bool ClientAddress::isTrusted(const QHostAddress &address) const
{
    const QHostAddress normal = normalized(address);
    return std::any_of(m_trusted.cbegin(), m_trusted.cend(), [&normal](const Range &range) {
        return normal.isInSubnet(range.first, range.second);
    });
}

QHostAddress ClientAddress::client(const QHostAddress &peer,
                                   const QList<QByteArray> &forwardedFor) const
{
    QHostAddress current = normalized(peer);
    // Walk right to left while the hop that wrote the next entry is trusted.
    for (auto line = forwardedFor.crbegin(); line != forwardedFor.crend(); ++line) {
        if (!isTrusted(current))
            return current;
        const QString text = QString::fromLatin1(*line);
        qsizetype end = text.size();
        while (isTrusted(current)) {
            const qsizetype comma = end > 0 ? text.lastIndexOf(u',', end - 1) : -1;
            const QStringView entry =
                trimmedOws(QStringView(text).sliced(comma + 1, end - comma - 1));
            if (!entry.isEmpty()) {
                const auto address = parseForwardedEntry(entry);
                // A malformed entry ends the walk at the last hop known to be real: the trusted
                // proxy that passed it on. Keying by the garbage would let it pick fresh quotas.
                if (!address)
                    return current;
                current = *address;
            }
            if (comma < 0)
                break;
            end = comma;
        }
    }
    return current; // an all-trusted chain: its left-most (originating) hop
}

QString ClientAddress::key(const QHostAddress &peer, const QList<QByteArray> &forwardedFor) const
{
    return keyOf(client(peer, forwardedFor));
}

QString ClientAddress::key(const QHostAddress &peer, const QByteArray &forwardedFor) const
{
    return keyOf(client(peer, forwardedFor.isNull() ? QList<QByteArray>{}
                                                    : QList<QByteArray>{forwardedFor}));
}

QString ClientAddress::keyOf(const QHostAddress &client)
{
    const QHostAddress address = normalized(client);
    if (address.protocol() == QAbstractSocket::IPv4Protocol)
        return u"v4:" + address.toString();
    if (address.protocol() == QAbstractSocket::IPv6Protocol)
        return u"v6:" + masked(address, 56).toString() + u"/56";
    // Only a socket that is no longer connected has no address; give all of them one key.
    return QStringLiteral("unknown");
}

} // namespace Ferry
