#include "pgtestsupport.h"

#include "store/databaseconfig.h"

#include <QFile>
#include <QRandomGenerator>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QUrl>

namespace Ferry::Test {

QString postgresTestUrl()
{
    const QString direct = qEnvironmentVariable("FERRY_TEST_PG_URL");
    if (!direct.isEmpty())
        return direct;
    QFile file(qEnvironmentVariable("FERRY_TEST_PG_URL_FILE"));
    if (file.fileName().isEmpty() || !file.open(QIODevice::ReadOnly))
        return {};
    return QString::fromUtf8(file.readAll()).trimmed();
}

QString createPostgresTestDatabase(const QString &prefix, QString *error)
{
    const QString url = postgresTestUrl();
    auto config = DatabaseConfig::fromUrl(url);
    if (!config) {
        *error = config.error().message;
        return {};
    }
    const QString name =
        QStringLiteral("%1_%2").arg(prefix.toLower()).arg(QRandomGenerator::global()->generate());
    const QString connection = QStringLiteral("ferry_test_admin_") + name;
    {
        QSqlDatabase db = openPostgres(url, connection);
        if (!db.isOpen()) {
            *error = db.lastError().text();
        } else {
            QSqlQuery query(db);
            // The name is ours (prefix from the test source and a number), never user input.
            if (!query.exec(QStringLiteral("CREATE DATABASE ") + name))
                *error = query.lastError().text();
        }
        db.close();
    }
    QSqlDatabase::removeDatabase(connection);
    if (!error->isEmpty())
        return {};
    QUrl result(url);
    result.setPath(QStringLiteral("/") + name);
    return result.toString();
}

QSqlDatabase openPostgres(const QString &url, const QString &connection)
{
    QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QPSQL"), connection);
    if (auto config = DatabaseConfig::fromUrl(url)) {
        db.setHostName(config->host);
        db.setPort(config->port);
        db.setUserName(config->user);
        db.setPassword(config->password);
        db.setDatabaseName(config->database);
        db.open();
    }
    return db;
}

} // namespace Ferry::Test
