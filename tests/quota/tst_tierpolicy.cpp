// The upload priority policy: tiers and file sizes order uploads; requests are clamped to what
// the tier allows; waiting jobs age upwards in the store.
#include "quota/tierpolicy.h"
#include "testsupport.h"

#include <QTest>

using namespace Ferry;
using namespace Ferry::Test;

class tst_TierPolicy : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void smallerFilesAndHigherTiersFirst()
    {
        const QString standard = QStringLiteral("standard");
        QVERIFY(uploadPriority(standard, 1000, std::nullopt) >
                uploadPriority(standard, 50'000'000, std::nullopt));
        QVERIFY(uploadPriority(standard, 50'000'000, std::nullopt) >
                uploadPriority(standard, 5'000'000'000, std::nullopt));
        QVERIFY(uploadPriority(QStringLiteral("premium"), 5'000'000'000, std::nullopt) >
                uploadPriority(standard, 5'000'000'000, std::nullopt));
        QVERIFY(uploadPriority(standard, 1000, std::nullopt) >
                uploadPriority(QStringLiteral("free"), 1000, std::nullopt));
        // An unknown tier is treated as standard.
        QCOMPARE(uploadPriority(QStringLiteral("gold"), 1000, std::nullopt),
                 uploadPriority(standard, 1000, std::nullopt));
    }

    void requestsAreClampedToTheTier()
    {
        QCOMPARE(uploadPriority(QStringLiteral("free"), 10, 100),
                 tierPolicy(QStringLiteral("free")).maxPriority);
        QCOMPARE(uploadPriority(QStringLiteral("premium"), 10, 40), 40);
        QCOMPARE(uploadPriority(QStringLiteral("standard"), 10, -500), MinPriority);
        QCOMPARE(uploadPriority(QStringLiteral("standard"), 10, -7), -7);
    }

    void waitingJobsAge()
    {
        TempStore t;
        const qint64 user = t.addUser(QStringLiteral("u"));
        auto enqueue = [&](int priority, qint64 runAt) {
            NewJob job;
            job.userId = user;
            job.type = QStringLiteral("noop");
            job.priority = priority;
            job.runAt = runAt;
            job.maxAttempts = 1;
            job.timeoutMs = 0;
            return t.store->enqueue({job}, t.clock.nowMs())->first().id;
        };
        const qint64 now = t.clock.nowMs();
        const qint64 waiting = enqueue(-10, now - 120'000);
        const qint64 fresh = enqueue(0, now);
        const qint64 top = enqueue(MaxPriority, now - 120'000);
        auto aged = t.store->agePendingJobs(now - 60'000, 100);
        QVERIFY(aged.ok());
        QCOMPARE(*aged, 1); // fresh is not ready long enough, top cannot rise
        QCOMPARE((*t.store->job(waiting, std::nullopt))->priority, -9);
        QCOMPARE((*t.store->job(fresh, std::nullopt))->priority, 0);
        QCOMPARE((*t.store->job(top, std::nullopt))->priority, MaxPriority);
        // Ten more intervals: the long-waiting job overtakes a newer one.
        for (int i = 0; i < 10; ++i)
            QVERIFY(t.store->agePendingJobs(now - 60'000, 100).ok());
        QVERIFY((*t.store->job(waiting, std::nullopt))->priority >
                (*t.store->job(fresh, std::nullopt))->priority);
    }
};

QTEST_GUILESS_MAIN(tst_TierPolicy)
#include "tst_tierpolicy.moc"
