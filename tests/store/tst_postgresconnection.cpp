// The throwaway PostgreSQL server from the "ferry_pg" fixture answers through Qt's QPSQL driver.

#include "pgtestsupport.h"
#include "store/databaseconfig.h"

#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QTest>

using namespace Ferry;

class TestPostgresConnection : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void qpsqlDriverIsInstalled()
    {
        QVERIFY2(QSqlDatabase::isDriverAvailable(QStringLiteral("QPSQL")),
                 "install libqt6sql6-psql (scripts/install-deps.sh)");
    }

    void connectsAndQueriesTheTestServer()
    {
        const QString url = Test::postgresTestUrl();
        if (url.isEmpty())
            QSKIP("no PostgreSQL test server (run through ctest, or set FERRY_TEST_PG_URL)");
        auto config = DatabaseConfig::fromUrl(url);
        QVERIFY(config.ok());
        QCOMPARE(config->backend, DatabaseConfig::Backend::Postgres);
        {
            QSqlDatabase db =
                QSqlDatabase::addDatabase(QStringLiteral("QPSQL"), QStringLiteral("probe"));
            db.setHostName(config->host);
            db.setPort(config->port);
            db.setUserName(config->user);
            db.setDatabaseName(config->database);
            QVERIFY2(db.open(), qPrintable(db.lastError().text()));
            QSqlQuery query(db);
            QVERIFY(query.exec(QStringLiteral("SELECT current_setting('server_version_num')::int, "
                                              "current_setting('fsync')")));
            QVERIFY(query.next());
            QVERIFY(query.value(0).toInt() >= 150000);
            QCOMPARE(query.value(1).toString(), QStringLiteral("off"));
        }
        QSqlDatabase::removeDatabase(QStringLiteral("probe"));
    }

    void createsAPrivateDatabasePerTest()
    {
        if (Test::postgresTestUrl().isEmpty())
            QSKIP("no PostgreSQL test server");
        QString error;
        const QString first = Test::createPostgresTestDatabase(QStringLiteral("probe"), &error);
        QVERIFY2(!first.isEmpty(), qPrintable(error));
        const QString second = Test::createPostgresTestDatabase(QStringLiteral("probe"), &error);
        QVERIFY2(!second.isEmpty(), qPrintable(error));
        QVERIFY(first != second);
    }
};

QTEST_GUILESS_MAIN(TestPostgresConnection)
#include "tst_postgresconnection.moc"
