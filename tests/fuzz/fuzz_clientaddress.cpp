// ClientAddress (engine/ratelimit/clientaddress): --trust-proxy lists, single addresses and
// X-Forwarded-For chains. Properties: an accepted address or range is ASCII and reads back to
// itself from its own text; a range's network has no bits past its prefix; a refused list names
// the entry; the client found is the peer or an address the chain holds, never anything made
// up; keys have their documented shape.

#include "fuzzinput.h"

#include "ratelimit/clientaddress.h"

using namespace Ferry;
using namespace Ferry::Fuzz;

namespace {

bool isAscii(QStringView text)
{
    for (const QChar c : text) {
        if (c.unicode() > 127)
            return false;
    }
    return true;
}

void checkAddress(const QString &text)
{
    const std::optional<QHostAddress> address = ClientAddress::parseAddress(text);
    if (!address)
        return;
    FUZZ_CHECK(isAscii(text), "an address with non-ASCII characters was accepted");
    FUZZ_CHECK(address->protocol() == QAbstractSocket::IPv4Protocol ||
                   address->protocol() == QAbstractSocket::IPv6Protocol,
               "an accepted address is neither IPv4 nor IPv6");
    const std::optional<QHostAddress> again = ClientAddress::parseAddress(address->toString());
    FUZZ_CHECK(again && *again == *address, "an address does not read back from its own text");
}

void checkRange(const QString &text)
{
    const Result<ClientAddress::Range> range = ClientAddress::parseRange(text);
    if (!range) {
        FUZZ_CHECK(range.error().message.contains(QLatin1String("Invalid trusted proxy")),
                   "a refused range does not say which entry");
        return;
    }
    FUZZ_CHECK(isAscii(text), "a range with non-ASCII characters was accepted");
    const bool v4 = range->first.protocol() == QAbstractSocket::IPv4Protocol;
    FUZZ_CHECK(range->second >= 0 && range->second <= (v4 ? 32 : 128), "prefix out of range");
    const QString written = range->first.toString() + u'/' + QString::number(range->second);
    const Result<ClientAddress::Range> again = ClientAddress::parseRange(written);
    FUZZ_CHECK(again && again->first == range->first && again->second == range->second,
               "a range does not read back from its own text");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Input in(data, size);
    const bool v6Peer = in.flag();
    const QByteArray rest = in.restBytes();
    // "trusted list\npeer\nX-Forwarded-For line\nX-Forwarded-For line..."
    QList<QByteArray> lines = rest.split('\n');
    const QString list = QString::fromUtf8(lines.takeFirst());
    const QString peerText = lines.isEmpty() ? QString() : QString::fromUtf8(lines.takeFirst());

    checkAddress(list);
    checkAddress(peerText);
    checkRange(list);
    for (const QString &entry : QString(list).replace(u',', u' ').split(u' ', Qt::SkipEmptyParts))
        checkRange(entry);

    const Result<ClientAddress> proxies = ClientAddress::fromTrustedProxies(list);
    if (!proxies) {
        FUZZ_CHECK(!proxies.error().message.isEmpty(), "a refused list without a reason");
        return 0;
    }
    QHostAddress peer = ClientAddress::parseAddress(peerText).value_or(
        v6Peer ? QHostAddress(QStringLiteral("2001:db8::1"))
               : QHostAddress(QStringLiteral("10.0.0.1")));
    const QHostAddress client = proxies->client(peer, lines);
    const std::optional<QHostAddress> normalPeer = ClientAddress::parseAddress(peer.toString());
    bool known = normalPeer && client == *normalPeer;
    if (!known) {
        // Some entry of the chain, read leniently ("[v6]:port", "v4:port" or bare).
        for (const QByteArray &line : lines) {
            for (const QByteArray &entry : line.split(',')) {
                // Trimmed as the engine trims (QString: Latin-1's NEL and NBSP are space too).
                QString text = QString::fromLatin1(entry).trimmed();
                if (text.startsWith(u'['))
                    text = text.mid(1, text.indexOf(u']') - 1);
                else if (text.count(u':') == 1)
                    text = text.left(text.indexOf(u':'));
                if (const auto parsed = ClientAddress::parseAddress(text);
                    parsed && *parsed == client)
                    known = true;
            }
        }
        FUZZ_CHECK(known, "the client is neither the peer nor in the chain");
        FUZZ_CHECK(proxies->isTrusted(peer), "an untrusted peer's X-Forwarded-For was believed");
    }
    if (proxies->trustedProxies().isEmpty())
        FUZZ_CHECK(client == *normalPeer, "with no trusted proxy the client is not the peer");
    const QString key = ClientAddress::keyOf(client);
    FUZZ_CHECK(key.startsWith(QLatin1String("v4:")) ||
                   (key.startsWith(QLatin1String("v6:")) && key.endsWith(QLatin1String("/56"))),
               "a key of another shape");
    FUZZ_CHECK(proxies->key(peer, lines) == key, "key() and keyOf(client()) disagree");
    return 0;
}
