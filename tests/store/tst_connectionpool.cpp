#include "store/connectionpool.h"

#include <QSqlError>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QTest>
#include <QThread>

#include <atomic>

using namespace Ferry;

class tst_ConnectionPool : public QObject
{
    Q_OBJECT

private:
    DatabaseConfig config(int maxConnections = 8)
    {
        DatabaseConfig c;
        c.sqlitePath = m_dir.path() + QStringLiteral("/pool.db");
        c.maxConnections = maxConnections;
        c.busyTimeoutMs = 200;
        return c;
    }
    QTemporaryDir m_dir;

private Q_SLOTS:
    void lazyOnePerThread()
    {
        ConnectionPool pool(config(), {});
        QCOMPARE(pool.openConnections(), 0);
        auto first = pool.connection();
        QVERIFY(first.ok());
        auto again = pool.connection();
        QVERIFY(again.ok());
        QCOMPARE(first->connectionName(), again->connectionName());
        QCOMPARE(pool.openConnections(), 1);

        QString otherName;
        std::unique_ptr<QThread> thread(QThread::create([&] {
            auto db = pool.connection();
            QVERIFY(db.ok());
            otherName = db->connectionName();
        }));
        thread->start();
        QVERIFY(thread->wait(10'000));
        QVERIFY(!otherName.isEmpty());
        QVERIFY(otherName != first->connectionName());
        // The thread ended: its connection goes with it (thread-local clean-up runs as the
        // thread exits, just after wait() may return).
        QTRY_COMPARE(pool.openConnections(), 1);
        QVERIFY(!QSqlDatabase::contains(otherName));
    }

    void initializerRunsOnEveryConnection()
    {
        std::atomic<int> initialized{0};
        ConnectionPool pool(config(), [&](QSqlDatabase &db) -> Result<void> {
            ++initialized;
            QSqlQuery q(db);
            return q.exec(QStringLiteral("PRAGMA foreign_keys=ON"))
                       ? Result<void>()
                       : Result<void>(makeError(ErrorCode::Storage, QStringLiteral("pragma")));
        });
        QVERIFY(pool.connection().ok());
        std::unique_ptr<QThread> thread(QThread::create([&] { QVERIFY(pool.connection().ok()); }));
        thread->start();
        QVERIFY(thread->wait(10'000));
        QCOMPARE(initialized.load(), 2);
    }

    void boundedWithClearError()
    {
        ConnectionPool pool(config(1), {});
        QVERIFY(pool.connection().ok()); // this thread holds the only slot
        std::optional<Error> refused;
        auto tryConnect = [&] {
            auto db = pool.connection();
            refused = db.ok() ? std::nullopt : std::optional<Error>(db.error());
        };
        std::unique_ptr<QThread> thread(QThread::create(tryConnect));
        thread->start();
        QVERIFY(thread->wait(10'000));
        QVERIFY(refused.has_value());
        QCOMPARE(refused->code, ErrorCode::Unavailable);
        QVERIFY(refused->message.contains(u"1 database connections"));

        pool.releaseThisThread(); // frees the slot
        QCOMPARE(pool.openConnections(), 0);
        std::unique_ptr<QThread> retry(QThread::create(tryConnect));
        retry->start();
        QVERIFY(retry->wait(10'000));
        QVERIFY(!refused.has_value());
    }

    // The cluster heartbeat's thread is never starved: with every ordinary slot held, a reserved
    // thread still gets a connection (up to ReservedSlots), and gives it back when it ends.
    void reservedThreadsGetAConnectionWhenEveryOrdinarySlotIsBusy()
    {
        ConnectionPool pool(config(1), {});
        QVERIFY(pool.connection().ok()); // this thread holds the only ordinary slot
        auto connectOn = [&pool](bool reserved) {
            std::optional<Error> refused;
            std::unique_ptr<QThread> thread(QThread::create([&] {
                if (reserved)
                    ConnectionPool::reserveForThisThread();
                auto db = pool.connection();
                refused = db.ok() ? std::nullopt : std::optional<Error>(db.error());
                if (db.ok()) {
                    QSqlQuery q(*db);
                    if (!q.exec(QStringLiteral("SELECT 1")))
                        refused = makeError(ErrorCode::Storage, q.lastError().text());
                }
            }));
            thread->start();
            thread->wait(10'000);
            return refused;
        };
        const auto ordinary = connectOn(false);
        QVERIFY(ordinary.has_value());
        QCOMPARE(ordinary->code, ErrorCode::Unavailable);
        const auto heartbeat = connectOn(true);
        QVERIFY2(!heartbeat.has_value(), qPrintable(heartbeat ? heartbeat->message : QString()));
        // The reserved connection went back when its thread ended: reserved threads keep
        // finding one, one after another, beyond the reserved slots' number.
        for (int i = 0; i < ConnectionPool::ReservedSlots + 1; ++i)
            QVERIFY(!connectOn(true).has_value());
        QTRY_COMPARE(pool.openConnections(), 1);
    }

    void cachedStatementsSurviveAndDieWithTheConnection()
    {
        ConnectionPool pool(config(), {});
        auto a = pool.statement(QStringLiteral("SELECT 1"));
        auto b = pool.statement(QStringLiteral("SELECT 1"));
        QVERIFY(a.ok() && b.ok());
        QCOMPARE(*a, *b); // prepared once
        QVERIFY((*a)->exec() && (*a)->next());
        QCOMPARE((*a)->value(0).toInt(), 1);
        auto bad = pool.statement(QStringLiteral("SELECT FROM nothing"));
        QVERIFY(!bad.ok());
        QCOMPARE(bad.error().code, ErrorCode::Storage);
    }

    void unopenablePathIsAnError()
    {
        DatabaseConfig c = config();
        c.sqlitePath = QStringLiteral("/proc/version/ferry.db");
        ConnectionPool pool(c, {});
        auto db = pool.connection();
        QVERIFY(!db.ok());
        QCOMPARE(db.error().code, ErrorCode::Storage);
        QCOMPARE(pool.openConnections(), 0);
    }
};

QTEST_GUILESS_MAIN(tst_ConnectionPool)
#include "tst_connectionpool.moc"
