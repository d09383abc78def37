#pragma once

#include "core/error.h"

#include <QByteArray>
#include <QHostAddress>
#include <QList>
#include <QPair>
#include <QString>

#include <optional>

namespace Ferry {

// Who a request comes from, for rate limiting: the socket's peer, unless the peer is a trusted
// proxy (--trust-proxy); then the right-most X-Forwarded-For entry that is not itself a trusted
// proxy. Every proxy appends the address it received the request from, so entries right of the
// first untrusted one were written by proxies we believe, and anything left of it may be forged.
//
// Keys are compact strings: "v4:1.2.3.4" (IPv4-mapped IPv6 counts as IPv4) and, since one IPv6
// subscriber usually holds a whole /56 or more, "v6:2001:db8:aa00::/56".
class ClientAddress final
{
public:
    using Range = QPair<QHostAddress, int>; // network address, prefix length

    ClientAddress() = default; // trusts no proxy
    explicit ClientAddress(QList<Range> trustedProxies);

    // "127.0.0.1, 10.0.0.0/8, ::1": addresses or CIDR ranges, separated by commas or spaces.
    // An empty list trusts nobody.
    static Result<ClientAddress> fromTrustedProxies(const QString &list);
    static Result<Range> parseRange(const QString &text);
    // A strict address: dotted-quad IPv4 or IPv6 (scope dropped), IPv4-mapped IPv6 made IPv4.
    static std::optional<QHostAddress> parseAddress(QStringView text);

    bool isTrusted(const QHostAddress &address) const;
    const QList<Range> &trustedProxies() const { return m_trusted; }

    // forwardedFor: every X-Forwarded-For field line of the request, in order (or none).
    QHostAddress client(const QHostAddress &peer, const QList<QByteArray> &forwardedFor) const;
    QString key(const QHostAddress &peer, const QList<QByteArray> &forwardedFor) const;
    QString key(const QHostAddress &peer, const QByteArray &forwardedFor) const;
    static QString keyOf(const QHostAddress &client);

private:
    QList<Range> m_trusted;
};

} // namespace Ferry
