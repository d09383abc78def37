// An upload's quota reservation is made off the calling (network) thread (issue 12, item 11):
// QuotaHold::reserveInBackground returns at once while another connection holds the database's
// writer (SQLite: BEGIN IMMEDIATE; PostgreSQL: the user's row locked), the answer is taken in by
// settle() on a worker once the writer is free, a refusal comes back from settle(), and a hold
// dropped before the answer gives the reservation back once it is made. Real stores, both
// backends.
#include "api/quotahold.h"
#include "quota/quotaledger.h"
#include "store/databaseconfig.h"
#include "testsupport.h"

#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QTest>
#include <QThreadPool>

using namespace Ferry;
using namespace Ferry::Test;

namespace {

// Another process's writer, as far as the store can tell: a connection of its own that takes
// the lock a quota reservation needs, until release().
class WriterLock
{
public:
    WriterLock(TempStore &t, qint64 userId)
    {
        QSqlDatabase db;
        if (onPostgres()) {
            auto config = DatabaseConfig::fromUrl(t.location());
            db = QSqlDatabase::addDatabase(QStringLiteral("QPSQL"), Name);
            db.setHostName(config->host);
            db.setPort(config->port);
            db.setUserName(config->user);
            db.setPassword(config->password);
            db.setDatabaseName(config->database);
        } else {
            db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), Name);
            db.setDatabaseName(t.path());
        }
        if (!db.open())
            qFatal("opening the writer: %s", qPrintable(db.lastError().text()));
        QSqlQuery q(db);
        const bool locked =
            onPostgres() ? q.exec(QStringLiteral("BEGIN")) &&
                               q.exec(QStringLiteral("SELECT 1 FROM users WHERE id = %1 FOR UPDATE")
                                          .arg(userId))
                         : q.exec(QStringLiteral("BEGIN IMMEDIATE"));
        if (!locked)
            qFatal("taking the writer: %s", qPrintable(q.lastError().text()));
    }
    ~WriterLock() { release(); }
    void release()
    {
        if (m_released)
            return;
        m_released = true;
        {
            QSqlDatabase db = QSqlDatabase::database(Name);
            QSqlQuery(db).exec(QStringLiteral("ROLLBACK"));
            db.close();
        }
        QSqlDatabase::removeDatabase(Name);
    }

private:
    static inline const QString Name = QStringLiteral("writer-lock");
    bool m_released = false;
};

} // namespace

class tst_QuotaHold : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void reserveDoesNotWaitForTheWriter()
    {
        TempStore t;
        QuotaLedger ledger(*t.store, t.clock, QStringLiteral("node-a"));
        const qint64 user = t.addUser(QStringLiteral("u"));
        WriterLock writer(t, user);
        // Returns while the writer is held: the reservation cannot have been made yet, so this
        // thread did not wait for it.
        QuotaHold hold = QuotaHold::reserveInBackground(&ledger, user, 10);
        QVERIFY(hold.holding());
        QVERIFY(!hold.refused());
        writer.release();
        auto settled = hold.settle(10); // a worker's call: waits for the answer
        QVERIFY2(settled.ok(), qPrintable(settled.error().toString()));
        QVERIFY(settled->granted);
        hold.keep();
        QCOMPARE(ledger.status(**t.store->userById(user))->uploadsUsed, 1);
        QCOMPARE(ledger.status(**t.store->userById(user))->bytesUsed, 10);
    }

    void refusalComesBackFromSettle()
    {
        TempStore t;
        QuotaLedger ledger(*t.store, t.clock, QStringLiteral("node-a"));
        const qint64 user = t.addUser(QStringLiteral("u"));
        QVERIFY(ledger.setLimits(user, 0, std::nullopt).ok());
        QuotaHold hold = QuotaHold::reserveInBackground(&ledger, user, 10);
        QVERIFY(QTest::qWaitFor([&] { return hold.refused(); }, 30'000));
        auto settled = hold.settle(10);
        QVERIFY(settled.ok());
        QVERIFY(!settled->granted);
        QCOMPARE(settled->message, QStringLiteral("Monthly upload limit exceeded"));
        QVERIFY(!hold.holding());
    }

    void holdDroppedBeforeTheAnswerGivesItBack()
    {
        TempStore t;
        QuotaLedger ledger(*t.store, t.clock, QStringLiteral("node-a"));
        const qint64 user = t.addUser(QStringLiteral("u"));
        {
            WriterLock writer(t, user);
            QuotaHold hold = QuotaHold::reserveInBackground(&ledger, user, 10);
            // The client went away: the hold dies (on the network thread) before the answer.
        }
        QThreadPool::globalInstance()->waitForDone();
        QCOMPARE(ledger.status(**t.store->userById(user))->uploadsUsed, 0);
        // And a settled-then-released one (could not be queued) is taken back out, on the pool.
        {
            QuotaHold hold = QuotaHold::reserveInBackground(&ledger, user, 10);
            QVERIFY(hold.settle(10)->granted);
            QCOMPARE(ledger.status(**t.store->userById(user))->uploadsUsed, 1);
        }
        QThreadPool::globalInstance()->waitForDone();
        QCOMPARE(ledger.status(**t.store->userById(user))->uploadsUsed, 0);
    }
};

QTEST_GUILESS_MAIN(tst_QuotaHold)
#include "tst_quotahold.moc"
