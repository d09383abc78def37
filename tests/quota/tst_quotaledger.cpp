// Monthly upload quotas on a real SQLite file: tier defaults and overrides, limits at the edge,
// release and settle, atomic reservation under concurrency, month rollover with a manual clock,
// and usage that survives a restart.
#include "quota/quotaledger.h"
#include "quota/tierpolicy.h"
#include "testsupport.h"

#include <QDateTime>
#include <QTest>

#include <atomic>
#include <thread>
#include <vector>

using namespace Ferry;
using namespace Ferry::Test;

namespace {

qint64 utcMs(int year, int month, int day, int hour = 0, int minute = 0)
{
    return QDateTime(QDate(year, month, day), QTime(hour, minute), Qt::UTC).toMSecsSinceEpoch();
}

User userNamed(TempStore &t, const QString &name, const QString &tier = QStringLiteral("standard"))
{
    UserDirectory users(*t.store, t.clock);
    auto created = users.addUser(name, tier);
    if (!created)
        qFatal("%s", qPrintable(created.error().toString()));
    return created->user;
}

// Reserves and settles one upload of `bytes`; returns whether it was granted.
bool upload(QuotaLedger &ledger, qint64 userId, qint64 bytes)
{
    auto decision = ledger.reserve(userId, bytes);
    if (!decision || !decision->granted)
        return false;
    auto settled = ledger.settle(decision->reservation, bytes);
    return settled && settled->granted;
}

} // namespace

class tst_QuotaLedger : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void tierDefaultsAndOverrides()
    {
        TempStore t;
        QuotaLedger ledger(*t.store, t.clock);
        const User free = userNamed(t, QStringLiteral("f"), QStringLiteral("free"));
        const User premium = userNamed(t, QStringLiteral("p"), QStringLiteral("premium"));
        auto freeStatus = ledger.status(free);
        QVERIFY2(freeStatus.ok(), qPrintable(freeStatus.error().toString()));
        QCOMPARE(freeStatus->uploadsLimit, tierPolicy(QStringLiteral("free")).monthlyUploads);
        QCOMPARE(freeStatus->bytesLimit, tierPolicy(QStringLiteral("free")).monthlyBytes);
        QVERIFY(freeStatus->uploadsLimitIsDefault);
        QVERIFY(ledger.status(premium)->uploadsLimit > freeStatus->uploadsLimit);

        QVERIFY(ledger.setLimits(free.id, 3, -1).ok());
        auto custom = ledger.status(free);
        QCOMPARE(custom->uploadsLimit, 3);
        QCOMPARE(custom->bytesLimit, -1); // unlimited
        QVERIFY(!custom->uploadsLimitIsDefault);
        QVERIFY(ledger.setLimits(free.id, std::nullopt, std::nullopt).ok());
        QCOMPARE(ledger.status(free)->uploadsLimit, freeStatus->uploadsLimit);

        auto negative = ledger.setLimits(free.id, -5, std::nullopt);
        QVERIFY(!negative.ok());
        QCOMPARE(negative.error().code, ErrorCode::InvalidArgument);
    }

    void uploadLimitAtTheEdge()
    {
        TempStore t;
        t.clock.set(utcMs(2026, 11, 15, 12));
        QuotaLedger ledger(*t.store, t.clock);
        const User user = userNamed(t, QStringLiteral("u"));
        QVERIFY(ledger.setLimits(user.id, 2, std::nullopt).ok());
        QVERIFY(upload(ledger, user.id, 10));
        QVERIFY(upload(ledger, user.id, 10));
        auto refused = ledger.reserve(user.id, 10);
        QVERIFY(refused.ok());
        QVERIFY(!refused->granted);
        QCOMPARE(refused->message, QStringLiteral("Monthly upload limit exceeded"));
        QCOMPARE(refused->resetsAtMs, utcMs(2026, 12, 1));
        auto status = ledger.status(user);
        QCOMPARE(status->uploadsUsed, 2);
        QCOMPARE(status->bytesUsed, 20);
        QCOMPARE(status->period, QStringLiteral("2026-11"));
        // Raising the limit applies to the next upload at once.
        QVERIFY(ledger.setLimits(user.id, 3, std::nullopt).ok());
        QVERIFY(upload(ledger, user.id, 10));
    }

    void byteLimitReserveAndSettle()
    {
        TempStore t;
        QuotaLedger ledger(*t.store, t.clock);
        const User user = userNamed(t, QStringLiteral("u"));
        QVERIFY(ledger.setLimits(user.id, -1, 100).ok());
        auto first = ledger.reserve(user.id, 60);
        QVERIFY(first->granted);
        // Reserved bytes count while the upload is in flight.
        auto second = ledger.reserve(user.id, 50);
        QVERIFY(!second->granted);
        QCOMPARE(second->message, QStringLiteral("Monthly upload byte limit exceeded"));
        QCOMPARE(ledger.status(user)->bytesUsed, 60);
        // A body of unknown size reserves 0 and is refused at settle when it passes the limit;
        // nothing of it stays counted.
        auto unknown = ledger.reserve(user.id, 0);
        QVERIFY(unknown->granted);
        auto settled = ledger.settle(unknown->reservation, 41);
        QVERIFY(settled.ok());
        QVERIFY(!settled->granted);
        QCOMPARE(ledger.status(user)->bytesUsed, 60);
        QCOMPARE(ledger.status(user)->uploadsUsed, 1);
        // The first upload stored fewer bytes than announced: only what it stored counts.
        QVERIFY(ledger.settle(first->reservation, 30)->granted);
        QCOMPARE(ledger.status(user)->bytesUsed, 30);
    }

    void releaseGivesTheReservationBack()
    {
        TempStore t;
        QuotaLedger ledger(*t.store, t.clock);
        const User user = userNamed(t, QStringLiteral("u"));
        QVERIFY(ledger.setLimits(user.id, 1, std::nullopt).ok());
        auto held = ledger.reserve(user.id, 5);
        QVERIFY(held->granted);
        QVERIFY(!ledger.reserve(user.id, 5)->granted);
        ledger.release(held->reservation); // e.g. the client disconnected mid-body
        QCOMPARE(ledger.status(user)->uploadsUsed, 0);
        QVERIFY(upload(ledger, user.id, 5));
    }

    // A stored upload that could not be queued after all is taken back out of the usage.
    void releaseAfterSettleRefunds()
    {
        TempStore t;
        QuotaLedger ledger(*t.store, t.clock);
        const User user = userNamed(t, QStringLiteral("u"));
        QVERIFY(upload(ledger, user.id, 3));
        auto held = ledger.reserve(user.id, 10);
        auto settled = ledger.settle(held->reservation, 10);
        QVERIFY(settled->granted);
        QVERIFY(settled->reservation.settled);
        QCOMPARE(ledger.status(user)->uploadsUsed, 2);
        ledger.release(settled->reservation);
        QCOMPARE(ledger.status(user)->uploadsUsed, 1);
        QCOMPARE(ledger.status(user)->bytesUsed, 3);
    }

    // Of many concurrent uploads at the limit exactly the allowed number pass.
    void concurrentReservationsAreAtomic()
    {
        TempStore t;
        QuotaLedger ledger(*t.store, t.clock);
        const User user = userNamed(t, QStringLiteral("u"));
        for (int round = 1; round <= 5; ++round) {
            QVERIFY(ledger.setLimits(user.id, round, std::nullopt).ok());
            QVERIFY(ledger.resetUsage(user.id).ok());
            std::atomic<int> granted = 0;
            std::atomic<int> failed = 0;
            std::vector<std::thread> threads;
            for (int i = 0; i < 12; ++i) {
                threads.emplace_back([&] {
                    auto decision = ledger.reserve(user.id, 1);
                    if (!decision)
                        ++failed;
                    else if (decision->granted)
                        ++granted;
                });
            }
            for (auto &thread : threads)
                thread.join();
            QCOMPARE(failed.load(), 0);
            QCOMPARE(granted.load(), round);
            QCOMPARE(ledger.status(user)->uploadsUsed, round);
            QVERIFY(t.store->releaseAllQuotaReservations().ok());
        }
    }

    void monthRollsOverWithoutATask()
    {
        TempStore t;
        t.clock.set(utcMs(2026, 11, 30, 23, 59));
        QuotaLedger ledger(*t.store, t.clock);
        const User user = userNamed(t, QStringLiteral("u"));
        QVERIFY(ledger.setLimits(user.id, 1, std::nullopt).ok());
        QVERIFY(upload(ledger, user.id, 1));
        auto refused = ledger.reserve(user.id, 1);
        QVERIFY(!refused->granted);
        QCOMPARE(refused->resetsAtMs, utcMs(2026, 12, 1));
        t.clock.set(utcMs(2026, 12, 1, 0, 0));
        QCOMPARE(ledger.status(user)->period, QStringLiteral("2026-12"));
        QCOMPARE(ledger.status(user)->uploadsUsed, 0);
        QVERIFY(upload(ledger, user.id, 1));
        // December to January crosses the year.
        t.clock.set(utcMs(2026, 12, 31, 23, 0));
        QCOMPARE(ledger.reserve(user.id, 1)->resetsAtMs, utcMs(2027, 1, 1));
    }

    void usageSurvivesRestartAndLeftoverReservationsAreFreed()
    {
        TempStore t;
        QuotaLedger ledger(*t.store, t.clock);
        const User user = userNamed(t, QStringLiteral("u"));
        QVERIFY(upload(ledger, user.id, 7));
        QVERIFY(ledger.reserve(user.id, 100)->granted); // in flight when the engine "crashes"
        t.reopen();
        QuotaLedger reopened(*t.store, t.clock);
        QCOMPARE(reopened.status(user)->uploadsUsed, 2);
        auto released = reopened.releaseOrphans(true); // what an engine start does
        QCOMPARE(*released, 1);
        QCOMPARE(reopened.status(user)->uploadsUsed, 1);
        QCOMPARE(reopened.status(user)->bytesUsed, 7);
    }

    void settleOfAVanishedReservationIsAnError()
    {
        TempStore t;
        QuotaLedger ledger(*t.store, t.clock);
        const User user = userNamed(t, QStringLiteral("u"));
        auto held = ledger.reserve(user.id, 1);
        QVERIFY(t.store->releaseAllQuotaReservations().ok());
        auto settled = ledger.settle(held->reservation, 1);
        QVERIFY(!settled.ok());
        QCOMPARE(settled.error().code, ErrorCode::NotFound);
    }
};

QTEST_GUILESS_MAIN(tst_QuotaLedger)
#include "tst_quotaledger.moc"
