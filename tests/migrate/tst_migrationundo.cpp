// Undo follows every way a migration can end (issue 18, item 2), on both stores:
//  - a job that ends outside its handler (rescued dead after its node was killed on the last
//    attempt, at start-up or by another node; cancelled while it waits to resume) keeps no row
//    once the sweeper ran, and the sweeper wired as the engine wires it finds it by itself;
//  - the undo is fenced: a stale attempt cannot undo (nor report progress over) the current one;
//  - a job retried before the sweep keeps its rows for the attempt that resumes them, and
//    retention waits for the undo.
#include "migrate/migrationundosweeper.h"
#include "store/datasetstore.h"
#include "testsupport.h"

#include <QJsonObject>
#include <QTest>
#include <QThreadPool>

using namespace Ferry;
using namespace Ferry::Test;

namespace {

constexpr qint64 LeaseMs = 1000;

std::string doc(int n)
{
    return "{\"n\":" + std::to_string(n) + "}";
}

} // namespace

class tst_MigrationUndo : public QObject
{
    Q_OBJECT

private:
    struct Fixture
    {
        Fixture()
        {
            user = t.addUser(QStringLiteral("alice"));
            dataset = *t.store->datasets().ensureDataset(user, QStringLiteral("people"), now());
        }
        qint64 now() const { return t.clock.nowMs(); }
        qint64 enqueue(int maxAttempts)
        {
            NewJob job;
            job.userId = user;
            job.type = QStringLiteral("migrate");
            job.payload = {{QStringLiteral("dataset"), QStringLiteral("people")}};
            job.maxAttempts = maxAttempts;
            auto enqueued = t.store->enqueue({job}, now());
            if (!enqueued)
                qFatal("enqueue: %s", qPrintable(enqueued.error().toString()));
            return enqueued->first().id;
        }
        ClaimedJob claim(const QString &node = QStringLiteral("node-a"))
        {
            auto claimed = t.store->settleAndClaim({}, {node, 1, now(), LeaseMs});
            if (!claimed || claimed->size() != 1)
                qFatal("claim failed");
            return claimed->first();
        }
        // One batch of rows numbered from..to, as the handler's committer writes it.
        Result<void> commit(const ClaimedJob &job, int from, int to)
        {
            ImportBatch batch;
            batch.jobId = job.id;
            batch.leaseToken = job.leaseToken;
            for (int n = from; n <= to; ++n)
                batch.records.push_back({{}, doc(n)});
            batch.checkpoint.datasetId = dataset;
            batch.checkpoint.rowsRead = to;
            batch.checkpoint.rowsImported = to;
            return t.store->datasets().commitBatch(batch);
        }
        qint64 records()
        {
            return (*t.store->datasets().dataset(user, QStringLiteral("people")))->records;
        }
        bool hasCheckpoint(qint64 jobId)
        {
            return t.store->datasets().checkpoint(jobId)->has_value();
        }
        JobStatus status(qint64 jobId) { return (**t.store->job(jobId, std::nullopt)).status; }
        // The lease passes its expiry; the rescue runs as `scope` says.
        void rescue(RescueScope scope)
        {
            t.clock.advance(2 * LeaseMs);
            auto rescued = t.store->rescueLeases(scope, QStringLiteral("node-b"), now());
            if (!rescued || rescued->size() != 1)
                qFatal("rescue failed");
        }

        TempStore t;
        qint64 user = 0;
        qint64 dataset = 0;
    };

private Q_SLOTS:
    // kill -9 on the last attempt: the rescue (another node's, after the lease expired, or the
    // restarted engine's, at start-up) makes the job dead. Before: its rows stayed for good.
    void deadAfterItsNodeDiedIsUndone_data()
    {
        QTest::addColumn<int>("scope");
        QTest::newRow("another node, lease expired") << int(RescueScope::ExpiredLeases);
        QTest::newRow("engine start-up") << int(RescueScope::AllButThisNode);
    }
    void deadAfterItsNodeDiedIsUndone()
    {
        QFETCH(int, scope);
        Fixture f;
        const qint64 id = f.enqueue(1);
        const ClaimedJob attempt = f.claim();
        QVERIFY(f.commit(attempt, 1, 500).ok());
        QVERIFY(f.commit(attempt, 501, 1000).ok());
        f.rescue(RescueScope(scope));
        QCOMPARE(f.status(id), JobStatus::Dead);
        QCOMPARE(f.records(), 1000); // nobody has undone it yet
        QVERIFY(f.hasCheckpoint(id));

        auto undone = f.t.store->datasets().undoEndedMigrations();
        QVERIFY2(undone.ok(), undone ? "" : qPrintable(undone.error().toString()));
        QCOMPARE(*undone, 1);
        QCOMPARE(f.records(), 0);
        QVERIFY(!f.hasCheckpoint(id));
        QCOMPARE(*f.t.store->datasets().undoEndedMigrations(), 0); // once
    }

    // A timeout (or a shutdown) leaves the job pending with its checkpoint, to resume; a cancel
    // then ends it with no attempt running. Before: its rows stayed.
    void cancelledWhileWaitingToResumeIsUndone()
    {
        Fixture f;
        const qint64 id = f.enqueue(3);
        const ClaimedJob attempt = f.claim();
        QVERIFY(f.commit(attempt, 1, 300).ok());
        SettledAttempt timedOut;
        timedOut.jobId = id;
        timedOut.userId = f.user;
        timedOut.leaseToken = attempt.leaseToken;
        timedOut.attempt = attempt.attempt;
        timedOut.startedAt = attempt.startedAt;
        timedOut.finishedAt = f.now();
        timedOut.newStatus = JobStatus::Pending;
        timedOut.retryAt = f.now() + 60'000;
        timedOut.outcome = QStringLiteral("timeout");
        QVERIFY(
            f.t.store->settleAndClaim({timedOut}, {QStringLiteral("node-a"), 0, f.now(), LeaseMs})
                .ok());
        QCOMPARE(f.status(id), JobStatus::Pending);
        QVERIFY(f.hasCheckpoint(id));                              // it would resume from here
        QCOMPARE(*f.t.store->datasets().undoEndedMigrations(), 0); // not ended: left alone
        QCOMPARE(f.records(), 300);

        QCOMPARE(*f.t.store->cancelJob(id, f.user, f.now()), JobStatus::Cancelled);
        QCOMPARE(*f.t.store->datasets().undoEndedMigrations(), 1);
        QCOMPARE(f.records(), 0);
        QVERIFY(!f.hasCheckpoint(id));
    }

    // The sweeper as the engine runs it (on a pool, at start and on its timer) finds an ended
    // migration by itself.
    void sweeperFindsEndedMigrations()
    {
        Fixture f;
        const qint64 id = f.enqueue(1);
        QVERIFY(f.commit(f.claim(), 1, 200).ok());
        QThreadPool pool;
        MigrationUndoSweeper sweeper(f.t.store->datasets(), pool, 50);
        sweeper.start();
        QVERIFY(waitFor([&] { return sweeper.undoneTotal() == 0; }, 1000)); // running, nothing yet
        f.rescue(RescueScope::ExpiredLeases); // ends while the sweeper runs
        QCOMPARE(f.status(id), JobStatus::Dead);
        QVERIFY(waitFor([&] { return f.records() == 0; }, 30'000));
        QVERIFY(waitFor([&] { return sweeper.undoneTotal() == 1; }, 30'000));
        sweeper.stop();
    }

    // A node stalled past its lease comes back and fails, or is cancelled: its undo must not
    // delete what the attempt now running wrote, nor may its progress overwrite the current one.
    // Before: undo and progress were keyed by job id only.
    void staleAttemptCannotUndoTheCurrentOne()
    {
        Fixture f;
        const qint64 id = f.enqueue(3);
        const ClaimedJob stale = f.claim(QStringLiteral("node-a"));
        QVERIFY(f.commit(stale, 1, 100).ok());
        f.rescue(RescueScope::ExpiredLeases); // back to pending: attempts remain
        QCOMPARE(f.status(id), JobStatus::Pending);
        const ClaimedJob current = f.claim(QStringLiteral("node-b"));
        QVERIFY(current.leaseToken != stale.leaseToken);
        QVERIFY(f.commit(current, 101, 250).ok()); // resumed from the checkpoint

        auto refused = f.t.store->datasets().undoJob(id, f.dataset, stale.leaseToken);
        QVERIFY(!refused.ok());
        QCOMPARE(refused.error().code, ErrorCode::Conflict);
        QCOMPARE(f.records(), 250);
        QVERIFY(f.hasCheckpoint(id));

        QVERIFY(
            f.t.store->saveProgress(id, current.leaseToken, {{QStringLiteral("done"), 250}}).ok());
        QVERIFY(f.t.store->saveProgress(id, stale.leaseToken, {{QStringLiteral("done"), 100}})
                    .ok()); // dropped, not an error
        QCOMPARE((**f.t.store->job(id, std::nullopt)).progress.value(u"done").toInt(), 250);

        // The current attempt's own undo (a cancel it observed) removes both attempts' rows.
        auto undone = f.t.store->datasets().undoJob(id, f.dataset, current.leaseToken);
        QVERIFY2(undone.ok(), undone ? "" : qPrintable(undone.error().toString()));
        QCOMPARE(*undone, 250);
        QCOMPARE(f.records(), 0);
    }

    // An operator retries a dead job before the sweep: the new attempt resumes its rows, so the
    // sweep leaves them; once the job completes it leaves the list, rows kept.
    void retriedBeforeTheSweepKeepsItsRows()
    {
        Fixture f;
        const qint64 id = f.enqueue(1);
        QVERIFY(f.commit(f.claim(), 1, 100).ok());
        f.rescue(RescueScope::ExpiredLeases);
        QCOMPARE(f.status(id), JobStatus::Dead);
        QVERIFY(f.t.store->retryJob(id, std::nullopt, f.now()).ok());
        QCOMPARE(f.status(id), JobStatus::Pending);
        QCOMPARE(*f.t.store->datasets().undoEndedMigrations(), 0);
        QCOMPARE(f.records(), 100);
        QVERIFY(f.hasCheckpoint(id)); // the new attempt resumes from it

        const ClaimedJob again = f.claim();
        QVERIFY(f.commit(again, 101, 150).ok());
        SettledAttempt done;
        done.jobId = id;
        done.userId = f.user;
        done.leaseToken = again.leaseToken;
        done.attempt = again.attempt;
        done.startedAt = again.startedAt;
        done.finishedAt = f.now();
        done.newStatus = JobStatus::Completed;
        done.outcome = QStringLiteral("completed");
        QVERIFY(f.t.store->settleAndClaim({done}, {QStringLiteral("node-a"), 0, f.now(), LeaseMs})
                    .ok());
        QCOMPARE(f.status(id), JobStatus::Completed);
        QCOMPARE(*f.t.store->datasets().undoEndedMigrations(), 0);
        QCOMPARE(f.records(), 150);
        QVERIFY(!f.hasCheckpoint(id)); // no longer needed: the table stays small
    }

    // Retention does not prune an ended migration before its undo: its rows are found by its
    // job (and the checkpoint would go with the job).
    void retentionWaitsForTheUndo()
    {
        Fixture f;
        const qint64 id = f.enqueue(1);
        QVERIFY(f.commit(f.claim(), 1, 100).ok());
        f.rescue(RescueScope::ExpiredLeases);
        QCOMPARE(f.status(id), JobStatus::Dead);
        QCOMPARE(*f.t.store->pruneFinished(f.now() + 1, 100), 0);
        QCOMPARE(*f.t.store->datasets().undoEndedMigrations(), 1);
        QCOMPARE(f.records(), 0);
        QCOMPARE(*f.t.store->pruneFinished(f.now() + 1, 100), 1);
        QVERIFY(!f.t.store->job(id, std::nullopt)->has_value());
    }
};

QTEST_GUILESS_MAIN(tst_MigrationUndo)
#include "tst_migrationundo.moc"
