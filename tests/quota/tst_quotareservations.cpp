// Quota reservations belong to what they were made for (issue 12, item 10), on SQLite and
// PostgreSQL: an engine start releases its requests' reservations but keeps those of tus uploads,
// which can still complete and settle; a node's reservations are released once the cluster
// registry no longer lists it (a dead node), never while it is alive; a tus upload's once its row
// is gone. Month ends with a manual clock: a reservation in flight counts against the month it is
// still in flight in, and an upload is charged to, and checked against, the month it settles in.
#include "quota/quotaledger.h"
#include "store/tusuploadrecord.h"
#include "testsupport.h"

#include <QDateTime>
#include <QTest>

using namespace Ferry;
using namespace Ferry::Test;

namespace {

qint64 utcMs(int year, int month, int day, int hour = 0, int minute = 0)
{
    return QDateTime(QDate(year, month, day), QTime(hour, minute), Qt::UTC).toMSecsSinceEpoch();
}

User userNamed(TempStore &t, const QString &name)
{
    UserDirectory users(*t.store, t.clock);
    auto created = users.addUser(name, QStringLiteral("standard"));
    if (!created)
        qFatal("%s", qPrintable(created.error().toString()));
    return created->user;
}

void addTusRow(TempStore &t, const QString &id, qint64 userId)
{
    TusUploadRecord upload;
    upload.id = id;
    upload.userId = userId;
    upload.length = 100;
    upload.createdAt = upload.updatedAt = t.clock.nowMs();
    if (auto inserted = t.store->insertTusUpload(upload); !inserted)
        qFatal("%s", qPrintable(inserted.error().toString()));
}

const QString TusId = QStringLiteral("0123456789abcdef0123456789abcdef");

} // namespace

class tst_QuotaReservations : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void engineStartKeepsTusReservations()
    {
        TempStore t;
        QuotaLedger ledger(*t.store, t.clock, QStringLiteral("node-a"));
        const User user = userNamed(t, QStringLiteral("u"));
        auto request = ledger.reserve(user.id, 10); // a plain upload in flight
        addTusRow(t, TusId, user.id);
        auto tus = ledger.reserveForUpload(user.id, 100, TusId);
        QVERIFY(request->granted && tus->granted);
        QCOMPARE(ledger.status(user)->uploadsUsed, 2);

        t.reopen(); // the engine restarts
        QuotaLedger restarted(*t.store, t.clock, QStringLiteral("node-b"));
        auto released = restarted.releaseOrphans(true);
        QVERIFY2(released.ok(), qPrintable(released.error().toString()));
        QCOMPARE(*released, 1); // the request's: no request survives a restart
        QCOMPARE(restarted.status(user)->uploadsUsed, 1);
        // The tus upload completes after the restart: its reservation settles (it used to be
        // gone, so the upload was never charged).
        auto settled = restarted.settle(tus->reservation, 100);
        QVERIFY2(settled.ok(), qPrintable(settled.error().toString()));
        QVERIFY(settled->granted);
        QCOMPARE(restarted.status(user)->uploadsUsed, 1);
        QCOMPARE(restarted.status(user)->bytesUsed, 100);
    }

    void deadNodesReservationsAreReleased()
    {
        TempStore t;
        QuotaLedger nodeA(*t.store, t.clock, QStringLiteral("node-a"));
        QuotaLedger nodeB(*t.store, t.clock, QStringLiteral("node-b"));
        t.registerNode(QStringLiteral("node-a"));
        t.registerNode(QStringLiteral("node-b"));
        const User user = userNamed(t, QStringLiteral("u"));
        QVERIFY(nodeA.reserve(user.id, 10)->granted);
        QVERIFY(nodeB.reserve(user.id, 20)->granted);
        t.clock.advance(QuotaLedger::OrphanGraceMs + 1);
        // Both alive: nothing goes.
        QCOMPARE(*nodeB.releaseOrphans(false), 0);
        QCOMPARE(nodeB.status(user)->uploadsUsed, 2);
        // A dies: the registry forgets it (rescueDeadNodes deletes its row); B's sweep frees
        // what A held, and only that.
        QVERIFY(t.store->removeNode(QStringLiteral("node-a")).ok());
        QCOMPARE(*nodeB.releaseOrphans(false), 1);
        QCOMPARE(nodeB.status(user)->uploadsUsed, 1);
        QCOMPARE(nodeB.status(user)->bytesUsed, 20);
    }

    void youngReservationsOfUnregisteredNodesStay()
    {
        TempStore t;
        // A node that reserved before its first heartbeat keeps its reservation for the grace.
        QuotaLedger node(*t.store, t.clock, QStringLiteral("node-new"));
        const User user = userNamed(t, QStringLiteral("u"));
        QVERIFY(node.reserve(user.id, 10)->granted);
        QCOMPARE(*node.releaseOrphans(false), 0);
        t.clock.advance(QuotaLedger::OrphanGraceMs + 1);
        QCOMPARE(*node.releaseOrphans(false), 1);
    }

    void goneTusUploadsReservationsAreReleased()
    {
        TempStore t;
        QuotaLedger ledger(*t.store, t.clock, QStringLiteral("node-a"));
        const User user = userNamed(t, QStringLiteral("u"));
        addTusRow(t, TusId, user.id);
        QVERIFY(ledger.reserveForUpload(user.id, 100, TusId)->granted);
        t.clock.advance(QuotaLedger::OrphanGraceMs + 1);
        QCOMPARE(*ledger.releaseOrphans(false), 0);    // the upload is still there
        QVERIFY(t.store->deleteTusUpload(TusId).ok()); // expired or terminated
        QCOMPARE(*ledger.releaseOrphans(false), 1);
        QCOMPARE(ledger.status(user)->uploadsUsed, 0);
    }

    // Soak defect 2 (docs/benchmarks.md, "Soak"): a release or refund the store refuses (the
    // database away) used to stay charged for as long as the node lived.
    void releasesTheStoreRefusedAreWrittenLater()
    {
        TempStore t;
        QuotaLedger ledger(*t.store, t.clock, QStringLiteral("node-a"));
        t.registerNode(QStringLiteral("node-a"));
        const User user = userNamed(t, QStringLiteral("u"));
        auto held = ledger.reserve(user.id, 10); // an upload that will fail
        auto stored = ledger.reserve(user.id, 20);
        QVERIFY(held->granted && stored->granted);
        auto settled = ledger.settle(stored->reservation, 20); // stored, its job then refused
        QVERIFY(settled.ok() && settled->granted);
        auto kept = ledger.reserve(user.id, 40); // an upload that succeeds: stays charged
        QVERIFY(kept->granted && ledger.settle(kept->reservation, 40)->granted);
        QCOMPARE(ledger.status(user)->uploadsUsed, 3);
        {
            RefusedWrites deletes(t.location(), QStringLiteral("quota_reservations"),
                                  QStringLiteral("DELETE"));
            RefusedWrites updates(t.location(), QStringLiteral("quota_usage"),
                                  QStringLiteral("UPDATE"));
            ledger.release(held->reservation);
            ledger.release(settled->reservation);
            QCOMPARE(ledger.pendingReleaseCount(), 2);
            QCOMPARE(ledger.status(user)->uploadsUsed, 3); // still charged
            QCOMPARE(ledger.retryPendingReleases(), 2);    // still refused: both kept
            // The node lives, so the sweep of dead nodes' reservations does not free them.
            t.clock.advance(QuotaLedger::OrphanGraceMs + 1);
            QCOMPARE(*ledger.releaseOrphans(false), 0);
        }
        QCOMPARE(ledger.retryPendingReleases(), 0); // the store answers again
        QCOMPARE(ledger.pendingReleaseCount(), 0);
        QCOMPARE(ledger.status(user)->uploadsUsed, 1);
        QCOMPARE(ledger.status(user)->bytesUsed, 40);
        QCOMPARE(ledger.retryPendingReleases(), 0); // written once, not refunded again
        QCOMPARE(ledger.status(user)->uploadsUsed, 1);
        QCOMPARE(ledger.status(user)->bytesUsed, 40);
    }

    void uploadSettledAfterAMonthEndCountsInTheNewMonth()
    {
        TempStore t;
        t.clock.set(utcMs(2026, 1, 31, 23, 58));
        QuotaLedger ledger(*t.store, t.clock, QStringLiteral("node-a"));
        const User user = userNamed(t, QStringLiteral("u"));
        QVERIFY(ledger.setLimits(user.id, 10, 1000).ok());
        // January: 900 bytes used, then an upload of unannounced size starts.
        auto first = ledger.reserve(user.id, 900);
        QVERIFY(ledger.settle(first->reservation, 900)->granted);
        auto late = ledger.reserve(user.id, 0);
        QVERIFY(late->granted);
        // It ends in February with 400 bytes: checked against February (empty), charged there.
        t.clock.set(utcMs(2026, 2, 1, 0, 1));
        auto settled = ledger.settle(late->reservation, 400);
        QVERIFY2(settled.ok(), qPrintable(settled.error().toString()));
        QVERIFY2(settled->granted, qPrintable(settled->message));
        QCOMPARE(settled->reservation.period, QStringLiteral("2026-02"));
        auto february = ledger.status(user);
        QCOMPARE(february->uploadsUsed, 1);
        QCOMPARE(february->bytesUsed, 400);
        auto january = t.store->quotaUsage(user.id, QStringLiteral("2026-01"));
        QCOMPARE(january->uploads, 1);
        QCOMPARE(january->bytes, 900);
        // Taken back out of February, where it was charged.
        ledger.release(settled->reservation);
        QCOMPARE(ledger.status(user)->bytesUsed, 0);
    }

    void reservationInFlightAcrossAMonthEndCountsInTheNewMonth()
    {
        TempStore t;
        t.clock.set(utcMs(2026, 3, 31, 23, 59));
        QuotaLedger ledger(*t.store, t.clock, QStringLiteral("node-a"));
        const User user = userNamed(t, QStringLiteral("u"));
        QVERIFY(ledger.setLimits(user.id, 10, 1000).ok());
        auto inFlight = ledger.reserve(user.id, 600);
        QVERIFY(inFlight->granted);
        t.clock.set(utcMs(2026, 4, 1, 0, 0));
        // April: the 600 bytes still being received count, so 500 more do not fit.
        QCOMPARE(ledger.status(user)->bytesUsed, 600);
        auto more = ledger.reserve(user.id, 500);
        QVERIFY(!more->granted);
        QCOMPARE(more->resetsAtMs, utcMs(2026, 5, 1));
        QVERIFY(ledger.settle(inFlight->reservation, 600)->granted);
        QCOMPARE(ledger.status(user)->bytesUsed, 600);
        QCOMPARE(t.store->quotaUsage(user.id, QStringLiteral("2026-03"))->bytes, 0);
    }
};

QTEST_GUILESS_MAIN(tst_QuotaReservations)
#include "tst_quotareservations.moc"
