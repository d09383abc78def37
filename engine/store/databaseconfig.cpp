#include "databaseconfig.h"

#include <QUrl>

namespace Ferry {

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
