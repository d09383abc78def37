#include "originlist.h"

#include <QUrl>

namespace Ferry {

namespace {

Error badOrigin(const QString &origin, const QString &why)
{
    return makeError(ErrorCode::Config,
                     QStringLiteral("'%1' is not a web origin: %2").arg(origin, why),
                     QStringLiteral("Write each origin as scheme://host[:port], e.g. "
                                    "https://app.example.com or http://localhost:5173, separated "
                                    "by commas."));
}

} // namespace

Result<QList<QByteArray>> parseOriginList(const QString &text)
{
    QList<QByteArray> origins;
    for (const QString &part : text.split(u',', Qt::SkipEmptyParts)) {
        const QString origin = part.trimmed();
        if (origin.isEmpty())
            continue;
        if (origin == u"*")
            return badOrigin(origin,
                             QStringLiteral("a wildcard is not accepted, list the origins"));
        const QUrl url(origin, QUrl::StrictMode);
        const QString scheme = url.scheme().toLower();
        if (!url.isValid() || (scheme != u"http" && scheme != u"https"))
            return badOrigin(origin, QStringLiteral("it needs an http:// or https:// scheme"));
        if (url.host().isEmpty())
            return badOrigin(origin, QStringLiteral("it has no host"));
        if (!url.path().isEmpty() || url.hasQuery() || url.hasFragment() ||
            !url.userInfo().isEmpty())
            return badOrigin(origin, QStringLiteral("an origin has no path, query or user"));
        const int defaultPort = scheme == u"https" ? 443 : 80;
        QByteArray host = url.host(QUrl::FullyEncoded).toLower().toLatin1();
        if (host.contains(':'))
            host = '[' + host + ']'; // IPv6
        QByteArray serialized = scheme.toLatin1() + "://" + host;
        if (url.port() >= 0 && url.port() != defaultPort)
            serialized += ':' + QByteArray::number(url.port());
        if (!origins.contains(serialized))
            origins.append(serialized);
    }
    return origins;
}

} // namespace Ferry
