#include "databaseconfig.h"

#include <QCryptographicHash>
#include <QRegularExpression>
#include <QUrl>

namespace Ferry {

QString DatabaseConfig::sessionNameFor(const QString &nodeId)
{
    // application_name keeps 63 bytes of printable ASCII, and the name travels unquoted in a
    // libpq conninfo: anything else becomes '_'; a name that would be cut is hashed instead
    // (the match in rescueDeadNodes is exact).
    QString name = QStringLiteral("ferry/") + nodeId;
    for (QChar &c : name) {
        const char16_t u = c.unicode();
        const bool plain = (u >= u'a' && u <= u'z') || (u >= u'A' && u <= u'Z') ||
                           (u >= u'0' && u <= u'9') || u == u'.' || u == u'-' || u == u':' ||
                           u == u'_' || u == u'/';
        if (!plain)
            c = u'_';
    }
    if (name.size() <= 63)
        return name;
    const QByteArray digest =
        QCryptographicHash::hash(nodeId.toUtf8(), QCryptographicHash::Sha256).toHex().left(32);
    return QStringLiteral("ferry/") + QString::fromLatin1(digest);
}

Result<DatabaseConfig> DatabaseConfig::fromUrl(const QString &text)
{
    DatabaseConfig config;
    if (text.startsWith(u"postgresql://") || text.startsWith(u"postgres://")) {
        const QUrl url(text, QUrl::StrictMode);
        const QString database = url.path().mid(1);
        if (!url.isValid() || url.host().isEmpty() || database.isEmpty()) {
            return makeError(ErrorCode::Config,
                             QStringLiteral("--db '%1' is not a valid PostgreSQL URL.")
                                 .arg(QUrl(text).toDisplayString(QUrl::RemovePassword)),
                             QStringLiteral("Use postgresql://user:password@host:port/database."));
        }
        config.backend = Backend::Postgres;
        config.host = url.host();
        config.port = url.port(5432);
        config.user = url.userName();
        config.password = url.password();
        config.database = database;
        return config;
    }
    // Anything else that starts like a URL is a mistake, not a file name: "postgresql:/db" or
    // "mysql://..." must not quietly become a new SQLite file in the working directory.
    static const QRegularExpression scheme(QStringLiteral("^([A-Za-z][A-Za-z0-9+.-]*):"));
    if (const auto match = scheme.match(text);
        match.hasMatch() && match.captured(1).compare(u"sqlite", Qt::CaseInsensitive) != 0) {
        const bool postgres = match.captured(1).startsWith(u"postgres", Qt::CaseInsensitive);
        return makeError(
            ErrorCode::Config,
            postgres
                ? QStringLiteral("--db '%1' is not a valid PostgreSQL URL.")
                      .arg(QUrl(text).toDisplayString(QUrl::RemovePassword))
                : QStringLiteral("--db '%1': Ferry does not know the database kind '%2'.")
                      .arg(QUrl(text).toDisplayString(QUrl::RemovePassword), match.captured(1)),
            postgres ? QStringLiteral("Use postgresql://user:password@host:port/database.")
                     : QStringLiteral("Give a SQLite file path (write ./%1 for a file whose "
                                      "name has a colon) or a postgresql:// URL.")
                           .arg(text));
    }
    QString path = text;
    if (path.startsWith(u"sqlite://"))
        path = path.mid(int(qstrlen("sqlite://")));
    if (path.isEmpty()) {
        return makeError(ErrorCode::Config, QStringLiteral("--db is empty."),
                         QStringLiteral("Give a SQLite file path or a postgresql:// URL, or omit "
                                        "--db to use ferry.db in the data directory."));
    }
    config.sqlitePath = path;
    return config;
}

int DatabaseConfig::connectionLimit() const
{
    if (maxConnections > 0)
        return maxConnections;
    return backend == Backend::Sqlite ? DefaultSqliteConnections : DefaultPostgresConnections;
}

QString DatabaseConfig::describe() const
{
    if (backend == Backend::Sqlite)
        return QStringLiteral("SQLite %1").arg(sqlitePath);
    return QStringLiteral("PostgreSQL %1@%2:%3/%4").arg(user, host).arg(port).arg(database);
}

} // namespace Ferry
