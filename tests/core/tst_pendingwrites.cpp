// PendingWrites, the refused writes QuotaLedger and IdempotencyKeys keep for a later try: kept in
// order within their capacity, written oldest first, skipped when given up, and, when the store
// refuses again, kept from the refused one on, ahead of those kept meanwhile.
#include "core/pendingwrites.h"

#include <QTest>

using namespace Ferry;

namespace {

Result<void> refused()
{
    return makeError(ErrorCode::Unavailable, QStringLiteral("the database is away"));
}

} // namespace

class tst_PendingWrites : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void keepsWithinItsCapacityDroppingTheOldest()
    {
        PendingWrites<int> pending(3);
        QVERIFY(!pending.keep(1));
        QVERIFY(!pending.keep(2));
        QVERIFY(!pending.keep(3));
        QVERIFY(pending.keep(4)); // 1 goes
        QCOMPARE(pending.size(), 3);
        QList<int> written;
        const auto outcome = pending.retry(
            [&](int item) -> Result<void> {
                written.append(item);
                return {};
            },
            [](int) { return false; });
        QCOMPARE(written, (QList<int>{2, 3, 4}));
        QCOMPARE(outcome.written, 3);
        QCOMPARE(outcome.pending, 0);
        QVERIFY(!outcome.refusal);
        QCOMPARE(pending.size(), 0);
    }

    void aRefusalKeepsTheRestInOrderAheadOfNewOnes()
    {
        PendingWrites<int> pending(100);
        for (int i = 1; i <= 5; ++i)
            pending.keep(i);
        QList<int> written;
        const auto outcome = pending.retry(
            [&](int item) -> Result<void> {
                if (item == 3) {
                    pending.keep(6); // kept by a request while the retry runs
                    return refused();
                }
                written.append(item);
                return {};
            },
            [](int) { return false; });
        QCOMPARE(written, (QList<int>{1, 2}));
        QCOMPARE(outcome.written, 2);
        QCOMPARE(outcome.pending, 4);
        QVERIFY(outcome.refusal);
        QCOMPARE(outcome.refusal->code, ErrorCode::Unavailable);

        QList<int> next;
        pending.retry(
            [&](int item) -> Result<void> {
                next.append(item);
                return {};
            },
            [](int) { return false; });
        QCOMPARE(next, (QList<int>{3, 4, 5, 6}));
    }

    void skippedItemsAreDroppedUnwritten()
    {
        PendingWrites<int> pending(10);
        for (int i = 1; i <= 4; ++i)
            pending.keep(i);
        QList<int> written;
        const auto outcome = pending.retry(
            [&](int item) -> Result<void> {
                written.append(item);
                return {};
            },
            [](int item) { return item % 2 == 0; });
        QCOMPARE(written, (QList<int>{1, 3}));
        QCOMPARE(outcome.skipped, 2);
        QCOMPARE(pending.size(), 0);
    }
};

QTEST_GUILESS_MAIN(tst_PendingWrites)
#include "tst_pendingwrites.moc"
