// The throwaway PostgreSQL server from the "ferry_pg" fixture answers through Qt's QPSQL driver.

#include "pgtestsupport.h"
#include "store/connectionpool.h"
#include "store/databaseconfig.h"
#include "store/postgresnative.h"

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

    // PgConnection::execPipelined (commitBatch's first round trip): every statement's result in
    // order; a failing one returns its own error, skips the rest, and leaves the connection
    // ready for the next statement.
    void pipelinedStatementsAnswerInOrderOrStopAtTheFirstError()
    {
        if (Test::postgresTestUrl().isEmpty())
            QSKIP("no PostgreSQL test server");
        QString error;
        const QString url = Test::createPostgresTestDatabase(QStringLiteral("pipeline"), &error);
        QVERIFY2(!url.isEmpty(), qPrintable(error));
        ConnectionPool pool(*DatabaseConfig::fromUrl(url),
                            [](QSqlDatabase &) { return Result<void>(); });
        auto connection = PgConnection::of(pool);
        QVERIFY2(connection.ok(), connection ? "" : qPrintable(connection.error().message));
        QVERIFY(connection->exec("CREATE TABLE t (n INT PRIMARY KEY)", QStringLiteral("t")).ok());

        auto results =
            connection->execPipelined({{"INSERT INTO t VALUES ($1)", {"1"}, QStringLiteral("one")},
                                       {"SELECT n * 10 FROM t", {}, QStringLiteral("read")},
                                       {"SELECT 1 WHERE false", {}, QStringLiteral("none")}});
        QVERIFY2(results.ok(), results ? "" : qPrintable(results.error().message));
        QCOMPARE(results->size(), size_t(3));
        QCOMPARE(results->at(1).rows(), 1);
        QCOMPARE(results->at(1).int64(0, 0), 10);
        QCOMPARE(results->at(2).rows(), 0);

        auto failed = connection->execPipelined(
            {{"INSERT INTO t VALUES ($1)", {"2"}, QStringLiteral("two")},
             {"INSERT INTO t VALUES ($1)", {"1"}, QStringLiteral("inserting a duplicate")},
             {"INSERT INTO t VALUES ($1)", {"3"}, QStringLiteral("three")}});
        QVERIFY(!failed.ok());
        QVERIFY2(failed.error().message.contains(u"inserting a duplicate"),
                 qPrintable(failed.error().message));
        // Without BEGIN, a pipeline up to its sync is one implicit transaction: the failure
        // rolls 2 back too, and 3 never ran.
        auto after = connection->exec("SELECT array_agg(n ORDER BY n)::text FROM t", {},
                                      QStringLiteral("reading"));
        QVERIFY2(after.ok(), after ? "" : qPrintable(after.error().message));
        QCOMPARE(QString::fromUtf8(after->text(0, 0)), QStringLiteral("{1}"));
    }
};

QTEST_GUILESS_MAIN(TestPostgresConnection)
#include "tst_postgresconnection.moc"
