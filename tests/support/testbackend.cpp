#include "testbackend.h"

#include "pgtestsupport.h"
#include "store/postgresstore.h"
#include "store/sqlitestore.h"

#include <QCoreApplication>
#include <QRegularExpression>

namespace Ferry::Test {

bool onPostgres()
{
    return qEnvironmentVariable("FERRY_TEST_BACKEND").compare(u"postgres", Qt::CaseInsensitive) ==
               0 ||
           qEnvironmentVariable("FERRY_TEST_BACKEND").compare(u"postgresql", Qt::CaseInsensitive) ==
               0;
}

QString testBackendName()
{
    return onPostgres() ? QStringLiteral("postgresql") : QStringLiteral("sqlite");
}

QString freshStoreLocation(const QString &sqlitePath)
{
    if (!onPostgres())
        return sqlitePath;
    if (postgresTestUrl().isEmpty()) {
        qFatal("FERRY_TEST_BACKEND=postgres but no server: set FERRY_TEST_PG_URL, or run through "
               "ctest (the ferry_pg fixture writes FERRY_TEST_PG_URL_FILE)");
    }
    // Database names: the executable's name (tst_jobqueue) in lowercase letters, digits and _.
    QString prefix = QCoreApplication::applicationName().toLower();
    prefix.replace(QRegularExpression(QStringLiteral("[^a-z0-9_]")), QStringLiteral("_"));
    if (prefix.isEmpty() || !prefix.at(0).isLetter())
        prefix.prepend(QStringLiteral("t_"));
    QString error;
    const QString url = createPostgresTestDatabase(prefix.left(40), &error);
    if (url.isEmpty())
        qFatal("cannot create a PostgreSQL test database: %s", qPrintable(error));
    return url;
}

std::unique_ptr<Store> openTestStore(const QString &location, int schemaVersion)
{
    auto config = DatabaseConfig::fromUrl(location);
    if (!config)
        qFatal("bad test store location %s: %s", qPrintable(location),
               qPrintable(config.error().toString()));
    if (config->backend == DatabaseConfig::Backend::Postgres) {
        auto store = PostgresStore::open(*config, schemaVersion);
        if (!store)
            qFatal("cannot open test store %s: %s", qPrintable(config->describe()),
                   qPrintable(store.error().toString()));
        return std::move(*store);
    }
    auto store = SqliteStore::open(*config, schemaVersion);
    if (!store)
        qFatal("cannot open test store %s: %s", qPrintable(location),
               qPrintable(store.error().toString()));
    return std::move(*store);
}

} // namespace Ferry::Test
