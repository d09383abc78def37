// The per-process connection bound (--db-max-connections, DatabaseConfig::maxConnections) on
// PostgreSQL, and the SQLSTATE mapping of failed statements (postgreserrors.h), against the
// throwaway server of the "ferry_pg" fixture.

#include "config/configloader.h"
#include "pgtestsupport.h"
#include "store/databaseconfig.h"
#include "store/postgreserrors.h"
#include "store/postgresstore.h"
#include "store/sqlhelpers.h"

#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QTest>
#include <QThread>

#include <atomic>
#include <optional>

using namespace Ferry;

class TestPostgresPool : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void defaultsDependOnTheBackend()
    {
        auto sqlite = DatabaseConfig::fromUrl(QStringLiteral("/tmp/x.db"));
        QVERIFY(sqlite.ok());
        QCOMPARE(sqlite->connectionLimit(), 96);
        auto postgres = DatabaseConfig::fromUrl(QStringLiteral("postgresql://u@h:5/db"));
        QVERIFY(postgres.ok());
        QCOMPARE(postgres->connectionLimit(), 40);
        postgres->maxConnections = 3;
        QCOMPARE(postgres->connectionLimit(), 3);
    }

    void optionSurvivesTheDatabaseUrlInAnyLayer()
    {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        // --db is applied after --db-max-connections (definition order); the bound must stay.
        auto config = ConfigLoader::load(
            {{QStringLiteral("data-dir"), dir.path()},
             {QStringLiteral("db"), QStringLiteral("postgresql://u@h:5/db")}},
            [] {
                QProcessEnvironment environment;
                environment.insert(QStringLiteral("FERRY_DB_MAX_CONNECTIONS"), QStringLiteral("5"));
                return environment;
            }());
        QVERIFY2(config.ok(), qPrintable(config.error().message));
        QCOMPARE(config->database.backend, DatabaseConfig::Backend::Postgres);
        QCOMPARE(config->database.connectionLimit(), 5);
        auto plain =
            ConfigLoader::load({{QStringLiteral("data-dir"), dir.path()},
                                {QStringLiteral("db"), QStringLiteral("postgresql://u@h:5/db")}},
                               QProcessEnvironment());
        QVERIFY(plain.ok());
        QCOMPARE(plain->database.connectionLimit(), 40);
    }

    void pastTheBoundACallerWaitsThenFails()
    {
        const auto config = postgresConfig(2, 2000);
        if (!config)
            return;
        auto store = PostgresStore::open(*config); // this thread: the first connection
        QVERIFY2(store.ok(), store ? "" : qPrintable(store.error().message));
        PostgresStore &pg = **store;
        QVERIFY(pg.setSetting(QStringLiteral("k"), QStringLiteral("v")).ok());

        // A second thread takes the second connection and keeps it until told to finish.
        std::atomic<bool> holding = false, release = false;
        std::unique_ptr<QThread> holder(QThread::create([&] {
            holding = pg.setting(QStringLiteral("k")).ok();
            while (!release)
                QThread::msleep(5);
        }));
        holder->start();
        QTRY_VERIFY(holding.load());

        // A third waits the busy timeout, then gets a clear error.
        std::optional<Error> refused;
        auto tryRead = [&] {
            auto value = pg.setting(QStringLiteral("k"));
            refused = value.ok() ? std::nullopt : std::optional<Error>(value.error());
        };
        std::unique_ptr<QThread> third(QThread::create(tryRead));
        third->start();
        QVERIFY(third->wait(10'000));
        QVERIFY(refused.has_value());
        QCOMPARE(refused->code, ErrorCode::Unavailable);
        QVERIFY2(refused->message.contains(u"All 2 database connections"),
                 qPrintable(refused->message));
        QVERIFY(refused->hint.contains(u"--db-max-connections"));
        QVERIFY(serverConnections(*config) <= 2);

        // Waiting works too: a caller that starts while the holder still runs gets the
        // connection the holder's thread hands back when it ends.
        std::unique_ptr<QThread> waiter(QThread::create(tryRead));
        waiter->start();
        release = true;
        QVERIFY(holder->wait(10'000));
        QVERIFY(waiter->wait(10'000));
        QVERIFY2(!refused.has_value(), refused ? qPrintable(refused->message) : "");
        QVERIFY(serverConnections(*config) <= 2);
    }

    void aConnectionTheServerEndedIsReplaced()
    {
        const auto config = postgresConfig(4, 5000);
        if (!config)
            return;
        auto store = PostgresStore::open(*config);
        QVERIFY2(store.ok(), store ? "" : qPrintable(store.error().message));
        QVERIFY((*store)->setSetting(QStringLiteral("k"), QStringLiteral("v")).ok());
        // The server ends the store's session (a restart, an operator, a timeout would too).
        QSqlDatabase admin = rawConnection(*config, QStringLiteral("admin"));
        {
            QSqlQuery q(admin);
            QVERIFY(q.exec(QStringLiteral(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND application_name = 'ferry'")));
            QVERIFY(q.next());
            QVERIFY(q.value(0).toInt() >= 1);
        }
        // The statement that finds out fails; the store then works on a new connection instead
        // of failing for ever.
        std::optional<QString> value;
        for (int attempt = 0; attempt < 3 && !value; ++attempt) {
            auto read = (*store)->setting(QStringLiteral("k"));
            if (read.ok() && *read)
                value = **read;
        }
        QCOMPARE(value, std::optional<QString>(QStringLiteral("v")));
        admin = QSqlDatabase();
        QSqlDatabase::removeDatabase(QStringLiteral("admin"));
    }

    void uniqueViolationIsAConflict()
    {
        const auto config = postgresConfig(4, 5000);
        if (!config)
            return;
        QSqlDatabase db = rawConnection(*config, QStringLiteral("unique"));
        QSqlQuery q(db);
        QVERIFY(q.exec(QStringLiteral("CREATE TABLE t (id INTEGER PRIMARY KEY)")));
        QVERIFY(q.exec(QStringLiteral("INSERT INTO t VALUES (1)")));
        QVERIFY(!q.exec(QStringLiteral("INSERT INTO t VALUES (1)")));
        QCOMPARE(q.lastError().nativeErrorCode(), QStringLiteral("23505"));
        const Error error = sqlError(q, QStringLiteral("adding a row"));
        QCOMPARE(error.code, ErrorCode::Conflict);
        QVERIFY(error.message.contains(u"adding a row"));
        // Any other failure stays a storage error, with its SQLSTATE.
        QVERIFY(!q.exec(QStringLiteral("SELECT * FROM no_such_table")));
        const Error missing = sqlError(q, QStringLiteral("reading"));
        QCOMPARE(missing.code, ErrorCode::Storage);
        QVERIFY2(missing.message.contains(u"42P01"), qPrintable(missing.message));
        QVERIFY(!missing.message.contains(u"retryable"));
        q.finish();
        db = QSqlDatabase();
        QSqlDatabase::removeDatabase(QStringLiteral("unique"));
    }

    void deadlockIsARetryableStorageError()
    {
        const auto config = postgresConfig(4, 5000);
        if (!config)
            return;
        QSqlDatabase a = rawConnection(*config, QStringLiteral("a"));
        QSqlDatabase b = rawConnection(*config, QStringLiteral("b"));
        QSqlQuery qa(a), qb(b);
        QVERIFY(qa.exec(QStringLiteral("CREATE TABLE d (id INTEGER PRIMARY KEY, v INTEGER)")));
        QVERIFY(qa.exec(QStringLiteral("INSERT INTO d VALUES (1, 0), (2, 0)")));
        QVERIFY(qa.exec(QStringLiteral("BEGIN")));
        QVERIFY(qb.exec(QStringLiteral("BEGIN")));
        QVERIFY(qa.exec(QStringLiteral("UPDATE d SET v = 1 WHERE id = 1")));
        QVERIFY(qb.exec(QStringLiteral("UPDATE d SET v = 1 WHERE id = 2")));
        // a waits for b's row on another thread while b asks for a's: PostgreSQL aborts one of
        // them with 40P01 after deadlock_timeout (1 s).
        std::optional<Error> aError;
        std::unique_ptr<QThread> thread(QThread::create([&] {
            if (!qa.exec(QStringLiteral("UPDATE d SET v = 2 WHERE id = 2")))
                aError = sqlError(qa, QStringLiteral("updating row 2"));
        }));
        thread->start();
        QThread::msleep(100);
        std::optional<Error> bError;
        if (!qb.exec(QStringLiteral("UPDATE d SET v = 2 WHERE id = 1")))
            bError = sqlError(qb, QStringLiteral("updating row 1"));
        if (bError) // b lost: roll it back so a can go on
            qb.exec(QStringLiteral("ROLLBACK"));
        QVERIFY(thread->wait(10'000));
        if (aError)
            qa.exec(QStringLiteral("ROLLBACK"));
        QVERIFY2(aError.has_value() != bError.has_value(), "exactly one side is the victim");
        const Error &victim = aError ? *aError : *bError;
        QCOMPARE(victim.code, ErrorCode::Storage);
        QVERIFY2(victim.message.contains(u"retryable") && victim.message.contains(u"40P01"),
                 qPrintable(victim.message));
        qa.exec(QStringLiteral("COMMIT"));
        qb.exec(QStringLiteral("COMMIT"));
        qa.finish();
        qb.finish();
        a = QSqlDatabase();
        b = QSqlDatabase();
        QSqlDatabase::removeDatabase(QStringLiteral("a"));
        QSqlDatabase::removeDatabase(QStringLiteral("b"));
    }

    void serializationFailureIsRetryable()
    {
        const QSqlError error(QStringLiteral("driver"), QStringLiteral("could not serialize"),
                              QSqlError::StatementError, QStringLiteral("40001"));
        const Error mapped = postgresError(error, QStringLiteral("claiming"));
        QCOMPARE(mapped.code, ErrorCode::Storage);
        QVERIFY(mapped.message.contains(u"retryable"));
        QVERIFY(isRetryablePostgresState(QStringLiteral("40P01")));
        QVERIFY(!isRetryablePostgresState(QStringLiteral("23505")));
    }

private:
    // A fresh database's config with the given bound and wait; skips without a server.
    std::optional<DatabaseConfig> postgresConfig(int maxConnections, int busyTimeoutMs)
    {
        if (Test::postgresTestUrl().isEmpty()) {
            QTest::qSkip("no PostgreSQL test server (run through ctest, or set FERRY_TEST_PG_URL)",
                         __FILE__, __LINE__);
            return std::nullopt;
        }
        QString error;
        const QString url = Test::createPostgresTestDatabase(QStringLiteral("pgpool"), &error);
        if (url.isEmpty()) {
            QTest::qFail(qPrintable(error), __FILE__, __LINE__);
            return std::nullopt;
        }
        auto config = DatabaseConfig::fromUrl(url);
        config->maxConnections = maxConnections;
        config->busyTimeoutMs = busyTimeoutMs;
        return *config;
    }

    static QSqlDatabase rawConnection(const DatabaseConfig &config, const QString &name)
    {
        QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QPSQL"), name);
        db.setHostName(config.host);
        db.setPort(config.port);
        db.setUserName(config.user);
        db.setDatabaseName(config.database);
        if (!db.open())
            qFatal("cannot connect: %s", qPrintable(db.lastError().text()));
        return db;
    }

    // Connections the server has open to this test's database (from another connection).
    static int serverConnections(const DatabaseConfig &config)
    {
        int count = -1;
        {
            QSqlDatabase db = rawConnection(config, QStringLiteral("counter"));
            QSqlQuery q(db);
            q.prepare(
                QStringLiteral("SELECT count(*) FROM pg_stat_activity WHERE datname = ? AND pid <> "
                               "pg_backend_pid()"));
            q.addBindValue(config.database);
            if (q.exec() && q.next())
                count = q.value(0).toInt();
        }
        QSqlDatabase::removeDatabase(QStringLiteral("counter"));
        return count;
    }
};

QTEST_GUILESS_MAIN(TestPostgresPool)
#include "tst_postgrespool.moc"
