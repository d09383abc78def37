#include "ratelimit/clientaddress.h"

#include <QTest>

using namespace Ferry;

namespace {

ClientAddress trusting(const QString &list)
{
    auto client = ClientAddress::fromTrustedProxies(list);
    if (!client)
        qFatal("%s", qPrintable(client.error().toString()));
    return std::move(client).value();
}

} // namespace

class tst_ClientAddress : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void key_data()
    {
        QTest::addColumn<QString>("trusted");
        QTest::addColumn<QString>("peer");
        QTest::addColumn<QByteArray>("forwardedFor"); // a null QByteArray: no header
        QTest::addColumn<QString>("key");

        const QString local = QStringLiteral("127.0.0.1");
        const QString chain = QStringLiteral("127.0.0.1, 10.0.0.0/8, ::1");
        const QByteArray none;
        const auto row = [](const char *name, const QString &trusted, const char *peer,
                            const QByteArray &xff, const char *key) {
            QTest::newRow(name) << trusted << QString::fromLatin1(peer) << xff
                                << QString::fromLatin1(key);
        };

        row("plain IPv4 peer", {}, "203.0.113.7", none, "v4:203.0.113.7");
        row("no proxies trusted, forged XFF", {}, "203.0.113.7", "1.2.3.4, 5.6.7.8",
            "v4:203.0.113.7");
        row("untrusted peer, forged XFF", chain, "203.0.113.7", "10.0.0.1, 1.2.3.4",
            "v4:203.0.113.7");
        row("trusted peer, no XFF", local, "127.0.0.1", none, "v4:127.0.0.1");
        row("trusted peer, empty XFF", local, "127.0.0.1", "", "v4:127.0.0.1");
        row("trusted proxy, one hop", local, "127.0.0.1", "198.51.100.9", "v4:198.51.100.9");
        row("trusted proxy, forged left part", local, "127.0.0.1", "6.6.6.6, 198.51.100.9",
            "v4:198.51.100.9");
        row("several trusted hops", chain, "127.0.0.1", "6.6.6.6, 198.51.100.9, 10.1.2.3,10.4.5.6",
            "v4:198.51.100.9");
        row("only the trusted peer counts as a proxy", local, "127.0.0.1",
            "6.6.6.6, 198.51.100.9, 10.1.2.3", "v4:10.1.2.3");
        row("all-trusted chain: left-most hop", chain, "127.0.0.1", "10.0.0.1, 10.0.0.2",
            "v4:10.0.0.1");
        row("garbage right-most entry: the proxy", local, "127.0.0.1", "198.51.100.9, garbage",
            "v4:127.0.0.1");
        row("garbage behind a trusted hop", chain, "127.0.0.1", "198.51.100.9, nonsense, 10.0.0.5",
            "v4:10.0.0.5");
        row("garbage left of the client is ignored", local, "127.0.0.1",
            "<script>alert(1)</script>, 198.51.100.9", "v4:198.51.100.9");
        row("unknown", local, "127.0.0.1", "unknown", "v4:127.0.0.1");
        row("short IPv4", local, "127.0.0.1", "1.2.3", "v4:127.0.0.1");
        row("octal-looking IPv4", local, "127.0.0.1", "010.1.1.1", "v4:127.0.0.1");
        row("out of range IPv4", local, "127.0.0.1", "256.1.1.1", "v4:127.0.0.1");
        row("hostname", local, "127.0.0.1", "evil.example.com", "v4:127.0.0.1");
        row("overlong entry", local, "127.0.0.1", QByteArray(10'000, ':'), "v4:127.0.0.1");
        row("control bytes", local, "127.0.0.1", QByteArray("1.2.3.4\x00\x01", 9), "v4:127.0.0.1");
        // Only spaces and tabs surround an entry (HTTP's OWS); other white space is garbage.
        row("tab around an entry", local, "127.0.0.1", "\t198.51.100.9\t", "v4:198.51.100.9");
        row("no-break space after an entry", local, "127.0.0.1", "198.51.100.9\xa0",
            "v4:127.0.0.1");
        row("line feed before an entry", local, "127.0.0.1", "\n198.51.100.9", "v4:127.0.0.1");
        row("empty entries are skipped", local, "127.0.0.1", " , 198.51.100.9 ,, ",
            "v4:198.51.100.9");
        row("IPv4 with port", local, "127.0.0.1", "198.51.100.9:4711", "v4:198.51.100.9");
        row("IPv4 with bad port", local, "127.0.0.1", "198.51.100.9:http", "v4:127.0.0.1");
        row("bracketed IPv6 with port", local, "127.0.0.1", "[2001:db8:1:2::5]:443",
            "v6:2001:db8:1::/56");
        row("unclosed bracket", local, "127.0.0.1", "[2001:db8::5", "v4:127.0.0.1");
        row("IPv4-mapped peer", {}, "::ffff:203.0.113.7", none, "v4:203.0.113.7");
        row("IPv4-mapped peer matches IPv4 range", local, "::ffff:127.0.0.1", "198.51.100.9",
            "v4:198.51.100.9");
        row("IPv4-mapped XFF entry", local, "127.0.0.1", "::ffff:198.51.100.9", "v4:198.51.100.9");
        row("IPv4-mapped trusted hop", chain, "127.0.0.1", "198.51.100.9, ::ffff:10.9.9.9",
            "v4:198.51.100.9");
        row("IPv6 peer keyed by /56", {}, "2001:db8:aa00:1234::1", none,
            "v6:2001:db8:aa00:1200::/56");
        row("IPv6 proxy ::1", chain, "::1", "2001:db8::7", "v6:2001:db8::/56");
        row("IPv6 scope dropped", {}, "fe80::1%1", none, "v6:fe80::/56");
    }
    void key()
    {
        QFETCH(QString, trusted);
        QFETCH(QString, peer);
        QFETCH(QByteArray, forwardedFor);
        QFETCH(QString, key);
        const ClientAddress client = trusting(trusted);
        QCOMPARE(client.key(QHostAddress(peer), forwardedFor), key);
    }

    void severalHeaderLinesReadAsOneList()
    {
        const ClientAddress client = trusting(QStringLiteral("127.0.0.1, 10.0.0.0/8"));
        const QHostAddress peer(QStringLiteral("127.0.0.1"));
        QCOMPARE(client.key(peer, QList<QByteArray>{"6.6.6.6", "198.51.100.9, 10.0.0.3"}),
                 QStringLiteral("v4:198.51.100.9"));
        QCOMPARE(client.key(peer, QList<QByteArray>{"198.51.100.9", "10.0.0.3", "10.0.0.4"}),
                 QStringLiteral("v4:198.51.100.9"));
        QCOMPARE(client.key(peer, QList<QByteArray>{"198.51.100.9", "bad", "10.0.0.4"}),
                 QStringLiteral("v4:10.0.0.4"));
        QCOMPARE(client.key(peer, QList<QByteArray>{}), QStringLiteral("v4:127.0.0.1"));
    }

    void ipv6SharesAKeyWithinA56()
    {
        const auto keyOf = [](const char *address) {
            return ClientAddress::keyOf(QHostAddress(QString::fromLatin1(address)));
        };
        QCOMPARE(keyOf("2001:db8:aa00:1200::1"), keyOf("2001:db8:aa00:12ff:ffff:ffff:ffff:ffff"));
        QCOMPARE(keyOf("2001:db8:aa00:1200::1"), keyOf("2001:db8:aa00:1234:5678::9"));
        QVERIFY(keyOf("2001:db8:aa00:1200::1") != keyOf("2001:db8:aa00:1300::1"));
        QVERIFY(keyOf("2001:db8:aa00:1200::1") != keyOf("2001:db8:aa01:1200::1"));
        QCOMPARE(keyOf("2001:db8:aa00::1"), QStringLiteral("v6:2001:db8:aa00::/56"));
        QCOMPARE(keyOf("::ffff:1.2.3.4"), QStringLiteral("v4:1.2.3.4"));
        // Distinct IPv4 addresses stay distinct.
        QVERIFY(keyOf("1.2.3.4") != keyOf("1.2.3.5"));
        QCOMPARE(ClientAddress::keyOf(QHostAddress()), QStringLiteral("unknown"));
    }

    void parseRange_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<QString>("network"); // empty: an error is expected
        QTest::addColumn<int>("prefix");
        QTest::addColumn<QString>("mentions");

        const auto ok = [](const char *text, const char *network, int prefix) {
            QTest::newRow(text) << QString::fromLatin1(text) << QString::fromLatin1(network)
                                << prefix << QString();
        };
        const auto bad = [](const char *text, const char *mentions) {
            QTest::newRow(text) << QString::fromLatin1(text) << QString() << -1
                                << QString::fromLatin1(mentions);
        };
        ok("127.0.0.1", "127.0.0.1", 32);
        ok("10.0.0.0/8", "10.0.0.0", 8);
        ok("0.0.0.0/0", "0.0.0.0", 0);
        ok("::1", "::1", 128);
        ok("2001:db8::/32", "2001:db8::", 32);
        ok("fd00::/8", "fd00::", 8);
        ok("::ffff:10.0.0.0/104", "10.0.0.0", 8);
        ok("::ffff:127.0.0.1", "127.0.0.1", 32);

        bad("", "is not an IP address");
        bad("10.0.0.1/8", "did you mean 10.0.0.0/8?");
        bad("2001:db8::1/32", "did you mean 2001:db8::/32?");
        bad("10.0.0.0/33", "from 0 to 32");
        bad("10.0.0.0/", "from 0 to 32");
        bad("10.0.0.0/-1", "from 0 to 32");
        bad("10.0.0.0/8/8", "from 0 to 32");
        bad("10.0.0.0/+8", "from 0 to 32");
        bad("::1/129", "from 0 to 128");
        bad("fe80::/abc", "from 0 to 128");
        bad("300.1.1.1", "'300.1.1.1' is not an IP address");
        bad("10.0.0", "is not an IP address");
        bad("10", "is not an IP address");
        bad("localhost", "is not an IP address");
        bad("1.2.3.4:80", "is not an IP address");
        bad("::ffff:10.0.0.0/8", "at least 96");
        ok("fe80::1%eth0", "fe80::1", 128);

        // Found by fuzz_clientaddress: other scripts' digits (which toInt() reads as 0) passed
        // as IPv4 digits, and anything at all (NUL, spaces, non-ASCII) as an IPv6 zone.
        const auto badUtf8 = [](const char *name, const char *text, const char *mentions) {
            QTest::newRow(name) << QString::fromUtf8(text) << QString() << -1
                                << QString::fromLatin1(mentions);
        };
        badUtf8("arabic-indic digits", "\u0661\u0660.0.0.0/8", "is not an IP address");
        badUtf8("arabic-indic prefix", "10.0.0.0/\u0668", "from 0 to 32");
        badUtf8("zone not ascii", "fe80::1%e\u00e9", "is not an IP address");
        bad("fe80::1%", "is not an IP address");
        bad("fe80::1%a b", "is not an IP address");
    }
    void parseRange()
    {
        QFETCH(QString, text);
        QFETCH(QString, network);
        QFETCH(int, prefix);
        QFETCH(QString, mentions);
        const auto range = ClientAddress::parseRange(text);
        if (network.isEmpty()) {
            QVERIFY(!range.ok());
            QCOMPARE(range.error().code, ErrorCode::Config);
            QVERIFY2(range.error().message.contains(mentions), qPrintable(range.error().message));
            QVERIFY(range.error().message.contains(u'\'' + text + u'\''));
            QVERIFY(!range.error().hint.isEmpty());
            return;
        }
        QVERIFY2(range.ok(), qPrintable(range.error().toString()));
        QCOMPARE(range->first, QHostAddress(network));
        QCOMPARE(range->second, prefix);
    }

    void trustedProxyList()
    {
        auto list = ClientAddress::fromTrustedProxies(QStringLiteral("127.0.0.1, 10.0.0.0/8, ::1"));
        QVERIFY2(list.ok(), qPrintable(list.error().toString()));
        QCOMPARE(list->trustedProxies().size(), 3);
        QVERIFY(list->isTrusted(QHostAddress(QStringLiteral("10.200.3.4"))));
        QVERIFY(list->isTrusted(QHostAddress(QStringLiteral("::ffff:10.200.3.4"))));
        QVERIFY(list->isTrusted(QHostAddress(QStringLiteral("::1"))));
        QVERIFY(!list->isTrusted(QHostAddress(QStringLiteral("11.0.0.1"))));
        QVERIFY(!list->isTrusted(QHostAddress(QStringLiteral("::2"))));

        auto spaced = ClientAddress::fromTrustedProxies(QStringLiteral(" 127.0.0.1,, ::1 \t"));
        QVERIFY(spaced.ok());
        QCOMPARE(spaced->trustedProxies().size(), 2);

        auto empty = ClientAddress::fromTrustedProxies(QString());
        QVERIFY(empty.ok());
        QVERIFY(empty->trustedProxies().isEmpty());
        QVERIFY(!empty->isTrusted(QHostAddress(QStringLiteral("127.0.0.1"))));

        auto bad = ClientAddress::fromTrustedProxies(QStringLiteral("127.0.0.1, nope, ::1"));
        QVERIFY(!bad.ok());
        QCOMPARE(bad.error().code, ErrorCode::Config);
        QVERIFY2(bad.error().message.contains(QStringLiteral("'nope'")),
                 qPrintable(bad.error().message));
    }
};

QTEST_GUILESS_MAIN(tst_ClientAddress)
#include "tst_clientaddress.moc"
