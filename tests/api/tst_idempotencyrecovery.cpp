// Idempotency keys whose request never finished (soak defect 3, docs/benchmarks.md "Soak"), on
// SQLite and PostgreSQL: a claim belongs to its node, so the claims of a node that died are
// dropped once the cluster registry forgets it, and every node's at an engine start on an
// exclusive store, instead of answering 409 to the client's retries for 10 minutes; a release or
// an answer the store refused is kept and written once it answers again, and given up once the
// claim counts as abandoned (it may belong to a new request by then).
#include "api/idempotency.h"
#include "testsupport.h"

#include <QTest>

using namespace Ferry;
using namespace Ferry::Test;

namespace {

const QString NodeA = QStringLiteral("node-a");
const QString NodeB = QStringLiteral("node-b");

// True when the caller now holds the key.
bool claimed(IdempotencyKeys &keys, qint64 user, const QString &key, const QByteArray &hash = "h1")
{
    auto holder = keys.claim(user, key, hash, QStringLiteral("blob-") + QString::fromLatin1(hash));
    if (!holder)
        qFatal("%s", qPrintable(holder.error().toString()));
    return !holder->has_value();
}

} // namespace

class tst_IdempotencyRecovery : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void claimsOfADeadNodeAreDropped()
    {
        TempStore t;
        const qint64 alice = t.addUser(QStringLiteral("alice"));
        t.registerNode(NodeA);
        t.registerNode(NodeB);
        IdempotencyKeys nodeA(*t.store, t.clock, NodeA);
        IdempotencyKeys nodeB(*t.store, t.clock, NodeB);
        QVERIFY(claimed(nodeA, alice, QStringLiteral("running-on-a")));
        QVERIFY(claimed(nodeB, alice, QStringLiteral("running-on-b")));
        QVERIFY(claimed(nodeA, alice, QStringLiteral("done-on-a")));
        QVERIFY(
            nodeA.complete(alice, QStringLiteral("done-on-a"), QStringLiteral("s1"), 1, "{}").ok());
        t.clock.advance(IdempotencyKeys::OrphanGraceMs + 1);
        QCOMPARE(*nodeB.releaseOrphans(false), 0); // both alive: a retry still gets 409
        QVERIFY(!claimed(nodeB, alice, QStringLiteral("running-on-a")));

        // A is killed; the registry forgets it (rescueDeadNodes deletes its row).
        QVERIFY(t.store->removeNode(NodeA).ok());
        QCOMPARE(*nodeB.releaseOrphans(false), 1);
        QVERIFY(claimed(nodeB, alice, QStringLiteral("running-on-a")));  // the retry runs
        QVERIFY(!claimed(nodeA, alice, QStringLiteral("running-on-b"))); // B's stays
        auto done = nodeB.find(alice, QStringLiteral("done-on-a"));      // answers stay
        QVERIFY(done.ok() && done->has_value() && !(*done)->inProgress());
    }

    void youngClaimsOfAnUnregisteredNodeStay()
    {
        TempStore t;
        const qint64 alice = t.addUser(QStringLiteral("alice"));
        // A node that claims before its first heartbeat keeps its claim for the grace.
        IdempotencyKeys node(*t.store, t.clock, NodeA);
        QVERIFY(claimed(node, alice, QStringLiteral("k")));
        QCOMPARE(*node.releaseOrphans(false), 0);
        t.clock.advance(IdempotencyKeys::OrphanGraceMs + 1);
        QCOMPARE(*node.releaseOrphans(false), 1);
    }

    void engineStartDropsEveryClaimInProgress()
    {
        TempStore t;
        const qint64 alice = t.addUser(QStringLiteral("alice"));
        t.registerNode(NodeA);
        {
            IdempotencyKeys before(*t.store, t.clock, NodeA);
            QVERIFY(claimed(before, alice, QStringLiteral("running")));
            QVERIFY(claimed(before, alice, QStringLiteral("done")));
            QVERIFY(
                before.complete(alice, QStringLiteral("done"), QStringLiteral("s1"), 1, "{}").ok());
        }
        t.reopen(); // killed and started again: the registry may still list the old node
        IdempotencyKeys after(*t.store, t.clock, NodeB);
        QCOMPARE(*after.releaseOrphans(true), 1);
        QVERIFY(claimed(after, alice, QStringLiteral("running")));
        auto done = after.find(alice, QStringLiteral("done"));
        QVERIFY(done.ok() && done->has_value() && !(*done)->inProgress());
    }

    void refusedReleaseIsWrittenLater()
    {
        TempStore t;
        const qint64 alice = t.addUser(QStringLiteral("alice"));
        t.registerNode(NodeA);
        IdempotencyKeys keys(*t.store, t.clock, NodeA);
        QVERIFY(claimed(keys, alice, QStringLiteral("k")));
        {
            RefusedWrites deletes(t.location(), QStringLiteral("idempotency_keys"),
                                  QStringLiteral("DELETE"));
            keys.release(alice, QStringLiteral("k")); // the upload failed
            QCOMPARE(keys.pendingCount(), 1);
            QVERIFY(!claimed(keys, alice, QStringLiteral("k"))); // a retry: 409 for now
            QCOMPARE(keys.retryPending(), 1);                    // still refused
        }
        QCOMPARE(keys.retryPending(), 0);
        QVERIFY(claimed(keys, alice, QStringLiteral("k"))); // the retry runs
        QCOMPARE(keys.retryPending(), 0);
        QVERIFY(!claimed(keys, alice, QStringLiteral("k"), "h2")); // and holds the key
    }

    void refusedAnswerIsWrittenLater()
    {
        TempStore t;
        const qint64 alice = t.addUser(QStringLiteral("alice"));
        t.registerNode(NodeA);
        IdempotencyKeys keys(*t.store, t.clock, NodeA);
        QVERIFY(claimed(keys, alice, QStringLiteral("k")));
        {
            RefusedWrites updates(t.location(), QStringLiteral("idempotency_keys"),
                                  QStringLiteral("UPDATE"));
            QVERIFY(
                !keys.complete(alice, QStringLiteral("k"), QStringLiteral("s1"), 7, "{\"jobId\":7}")
                     .ok());
            QCOMPARE(keys.pendingCount(), 1);
        }
        auto before = keys.find(alice, QStringLiteral("k"));
        QVERIFY(before.ok() && before->has_value() && (*before)->inProgress());
        QCOMPARE(keys.retryPending(), 0);
        auto after = keys.find(alice, QStringLiteral("k"));
        QVERIFY(after.ok() && after->has_value());
        QCOMPARE((*after)->response, QByteArray("{\"jobId\":7}")); // a retry gets job 7 again
        QCOMPARE((*after)->jobId, 7);
    }

    void unwrittenReleaseIsGivenUpOnceTheClaimIsAbandoned()
    {
        TempStore t;
        const qint64 alice = t.addUser(QStringLiteral("alice"));
        t.registerNode(NodeA);
        IdempotencyKeys keys(*t.store, t.clock, NodeA);
        QVERIFY(claimed(keys, alice, QStringLiteral("k")));
        {
            RefusedWrites deletes(t.location(), QStringLiteral("idempotency_keys"),
                                  QStringLiteral("DELETE"));
            keys.release(alice, QStringLiteral("k"));
            t.clock.advance(IdempotencyKeys::AbandonedAfterMs + 1);
        }
        // The abandoned claim is taken over by a new request with the key...
        QVERIFY(claimed(keys, alice, QStringLiteral("k"), "h2"));
        // ...which the old release must not drop.
        QCOMPARE(keys.retryPending(), 0);
        auto holder = keys.find(alice, QStringLiteral("k"));
        QVERIFY(holder.ok() && holder->has_value());
        QCOMPARE((*holder)->requestHash, QByteArray("h2"));
    }
};

QTEST_GUILESS_MAIN(tst_IdempotencyRecovery)
#include "tst_idempotencyrecovery.moc"
