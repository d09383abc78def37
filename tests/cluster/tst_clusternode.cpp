// The cluster's node registry, leader lease, dead-node rescue and global concurrency limit, on
// SQLite (the same SQL runs on PostgreSQL: tst_clusterpostgres). Time is a ManualClock; every
// tick is called directly.

#include "cluster/clusternode.h"
#include "clusterharness.h"
#include "config/configloader.h"
#include "testsupport.h"

#include <QProcessEnvironment>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

using namespace Ferry;
using namespace Ferry::Test;

namespace {

ClusterNode::Options nodeOptions(const QString &id, bool exclusive = false)
{
    ClusterNode::Options o;
    o.nodeId = id;
    o.address = QStringLiteral("127.0.0.1:8080");
    o.version = QStringLiteral("test");
    o.heartbeatIntervalMs = 2'000;
    o.leaderLeaseMs = 10'000;
    o.deadAfterMs = 15'000;
    o.exclusiveStore = exclusive;
    return o;
}

std::optional<NodeRecord> findNode(Store &store, const QString &id, qint64 now)
{
    auto nodes = store.nodes(now);
    if (!nodes)
        return std::nullopt;
    for (const NodeRecord &n : std::as_const(*nodes)) {
        if (n.id == id)
            return n;
    }
    return std::nullopt;
}

} // namespace

class tst_ClusterNode : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void heartbeatUpsertsThisNodesRow()
    {
        TempStore t;
        auto options = nodeOptions(QStringLiteral("node-a"));
        options.runningJobs = [] { return 3; };
        options.rssBytes = [] { return qint64(42) << 20; };
        ClusterNode node(*t.store, t.clock, options);
        const qint64 t0 = t.clock.nowMs();
        node.tick();
        auto row = findNode(*t.store, QStringLiteral("node-a"), t0);
        QVERIFY(row);
        QCOMPARE(row->address, QStringLiteral("127.0.0.1:8080"));
        QCOMPARE(row->heartbeatAt, t0);
        QCOMPARE(row->startedAt, t0);
        QCOMPARE(row->runningJobs, 3);
        QCOMPARE(row->rssBytes, qint64(42) << 20);
        QCOMPARE(row->version, QStringLiteral("test"));
        QVERIFY(row->leader);

        t.clock.advance(2'000);
        node.setAddress(QStringLiteral("10.0.0.5:8080"));
        node.tick();
        row = findNode(*t.store, QStringLiteral("node-a"), t.clock.nowMs());
        QVERIFY(row);
        QCOMPARE(row->heartbeatAt, t0 + 2'000); // the age the console shows is now - this
        QCOMPARE(row->startedAt, t0);
        QCOMPARE(row->address, QStringLiteral("10.0.0.5:8080"));
        QCOMPARE(t.store->nodes(t.clock.nowMs())->size(), 1);

        node.stop(); // graceful: the row goes, and with it the leader lease
        QVERIFY(!findNode(*t.store, QStringLiteral("node-a"), t.clock.nowMs()));
        QVERIFY(!node.isLeader());
    }

    void exactlyOneLeaderAndTakeoverAfterExpiry()
    {
        TempStore t;
        ClusterNode a(*t.store, t.clock, nodeOptions(QStringLiteral("node-a")));
        ClusterNode b(*t.store, t.clock, nodeOptions(QStringLiteral("node-b")));
        a.tick();
        b.tick();
        QVERIFY(a.isLeader());
        QVERIFY(!b.isLeader());
        for (int i = 0; i < 3; ++i) { // renewals keep it with a
            t.clock.advance(2'000);
            b.tick();
            a.tick();
            QVERIFY(a.isLeader());
            QVERIFY(!b.isLeader());
        }
        auto nodes = *t.store->nodes(t.clock.nowMs());
        QCOMPARE(nodes.size(), 2);
        QCOMPARE(int(std::count_if(nodes.begin(), nodes.end(),
                                   [](const NodeRecord &n) { return n.leader; })),
                 1);

        // a stops renewing (hung or cut off): past its lease, b takes over at its next tick,
        // and a, by its own clock, stops counting itself leader at once.
        t.clock.advance(10'001);
        QVERIFY(!a.isLeader());
        b.tick();
        QVERIFY(b.isLeader());
        a.tick(); // a is back: the lease is b's now
        QVERIFY(!a.isLeader());
        QVERIFY(b.isLeader());
    }

    void lostLeaseStopsLeaderTasksAndDispatcherMaintenance()
    {
        TempStore t;
        ClusterNode a(*t.store, t.clock, nodeOptions(QStringLiteral("node-a")));
        ClusterNode b(*t.store, t.clock, nodeOptions(QStringLiteral("node-b")));
        int aTasks = 0, bTasks = 0;
        a.addLeaderTask([&] { ++aTasks; });
        b.addLeaderTask([&] { ++bTasks; });
        a.tick();
        b.tick();
        QCOMPARE(aTasks, 1);
        QCOMPARE(bTasks, 0);
        t.clock.advance(10'001); // a's lease lapses; b takes it
        b.tick();
        a.tick();
        QCOMPARE(aTasks, 1); // a no longer runs them
        QCOMPARE(bTasks, 1);

        // The dispatcher's once-per-cluster maintenance (pruning here) follows the gate.
        ClusterHandlers handlers;
        QueueConfig config = clusterQueueConfig();
        config.retentionMs = 1;
        ClusterMember member(*t.store, handlers.registry, t.clock, QStringLiteral("node-a"),
                             config);
        member.dispatcher->setLeaderGate([&a] { return a.isLeader(); });
        const qint64 user = t.addUser(QStringLiteral("alice"));
        QVERIFY(member.dispatcher->start().ok());
        auto id = member.queue->enqueue(clusterJob(user, QStringLiteral("noop")));
        QVERIFY(id.ok());
        QTRY_COMPARE((*t.store->job(id->id, std::nullopt))->status, JobStatus::Completed);
        t.clock.advance(1'000); // past the retention, but a is not leader: nothing pruned
        QTest::qWait(600);      // a few maintenance turns (every 250 ms)
        QVERIFY(t.store->job(id->id, std::nullopt)->has_value());
        t.clock.advance(10'001); // b's lease lapses too; a takes it back
        a.tick();
        QVERIFY(a.isLeader());
        QTRY_VERIFY(!t.store->job(id->id, std::nullopt)->has_value());
    }

    void deadNodesJobsAreRescuedWithinOneLease()
    {
        TempStore t;
        const qint64 user = t.addUser(QStringLiteral("alice"));
        ClusterNode a(*t.store, t.clock, nodeOptions(QStringLiteral("node-a")));
        ClusterNode b(*t.store, t.clock, nodeOptions(QStringLiteral("node-b")));
        a.tick();
        b.tick();
        // b claims a job with a 30 s lease, then dies (no more heartbeats, no renewals).
        QVERIFY(t.store->enqueue({clusterJob(user, QStringLiteral("noop"))}, t.clock.nowMs()));
        const qint64 claimedAt = t.clock.nowMs();
        auto claimed = t.store->settleAndClaim(
            {}, ClaimRequest{QStringLiteral("node-b"), 1, claimedAt, 30'000, 0});
        QVERIFY(claimed.ok());
        QCOMPARE(claimed->size(), 1);
        const qint64 jobId = claimed->first().id;

        for (int i = 0; i < 7; ++i) { // 14 s: b's heartbeat is old but not dead yet
            t.clock.advance(2'000);
            a.tick();
        }
        QCOMPARE((*t.store->job(jobId, std::nullopt))->status, JobStatus::Running);
        t.clock.advance(2'000); // 16 s > deadAfter (15 s): a, the leader, rescues
        QSignalSpy rescued(&a, &ClusterNode::deadNodesRescued);
        a.tick();
        QCOMPARE(rescued.size(), 1);
        QVERIFY(t.clock.nowMs() - claimedAt < 30'000); // within one lease, before it expired
        const Job job = **t.store->job(jobId, std::nullopt);
        QCOMPARE(job.status, JobStatus::Pending);
        auto attempts = *t.store->attempts(jobId);
        QCOMPARE(attempts.size(), 1);
        QCOMPARE(attempts.first().outcome, QStringLiteral("lost"));
        QCOMPARE(attempts.first().node, QStringLiteral("node-b"));
        QVERIFY(!findNode(*t.store, QStringLiteral("node-b"), t.clock.nowMs()));
        QVERIFY(findNode(*t.store, QStringLiteral("node-a"), t.clock.nowMs()));
    }

    void deadNodeOnItsLastAttemptIsDead()
    {
        TempStore t;
        const qint64 user = t.addUser(QStringLiteral("alice"));
        ClusterNode a(*t.store, t.clock, nodeOptions(QStringLiteral("node-a")));
        ClusterNode b(*t.store, t.clock, nodeOptions(QStringLiteral("node-b")));
        b.tick();
        NewJob once = clusterJob(user, QStringLiteral("noop"));
        once.maxAttempts = 1;
        QVERIFY(t.store->enqueue({once}, t.clock.nowMs()));
        auto claimed = t.store->settleAndClaim(
            {}, ClaimRequest{QStringLiteral("node-b"), 1, t.clock.nowMs(), 30'000, 0});
        QCOMPARE(claimed->size(), 1);
        t.clock.advance(16'000);
        a.tick();
        QCOMPARE((*t.store->job(claimed->first().id, std::nullopt))->status, JobStatus::Dead);
    }

    void exclusiveStoreIsAlwaysLeaderAndTakesOverAStaleLease()
    {
        TempStore t;
        // A crashed predecessor's lease, still valid for a while.
        QVERIFY(*t.store->acquireClusterLease(LeaderLeaseName, QStringLiteral("crashed"),
                                              t.clock.nowMs(), t.clock.nowMs() + 60'000));
        ClusterNode only(*t.store, t.clock, nodeOptions(QStringLiteral("only"), true));
        QVERIFY(only.isLeader());
        only.tick();
        QVERIFY(findNode(*t.store, QStringLiteral("only"), t.clock.nowMs())->leader);
    }

    void clusterMaxRunningOption()
    {
        QTemporaryDir dir;
        auto load = [&](const QString &value) {
            QHash<QString, QString> cli{{QStringLiteral("data-dir"), dir.path()}};
            if (!value.isNull())
                cli.insert(QStringLiteral("cluster-max-running"), value);
            return ConfigLoader::load(cli, QProcessEnvironment());
        };
        QCOMPARE(load(QString())->queue.clusterMaxRunning, 0); // off by default
        QCOMPARE(load(QStringLiteral("12"))->queue.clusterMaxRunning, 12);
        auto negative = load(QStringLiteral("-1"));
        QVERIFY(!negative);
        QVERIFY2(negative.error().message.contains(QStringLiteral("cluster-max-running")),
                 qPrintable(negative.error().message));
    }

    void globalLimitHoldsAcrossTwoDispatchers()
    {
        TempStore t;
        const qint64 user = t.addUser(QStringLiteral("alice"));
        ClusterHandlers handlers;
        QueueConfig config = clusterQueueConfig();
        config.clusterMaxRunning = 3; // each node alone would run 4
        ClusterMember a(*t.store, handlers.registry, t.clock, QStringLiteral("node-a"), config);
        ClusterMember b(*t.store, handlers.registry, t.clock, QStringLiteral("node-b"), config);
        QVERIFY(a.dispatcher->start().ok());
        QVERIFY(b.dispatcher->start().ok());
        QList<NewJob> jobs;
        for (int i = 0; i < 30; ++i)
            jobs.append(clusterJob(user, QStringLiteral("record"), {{QStringLiteral("ms"), 20}}));
        QVERIFY(a.queue->enqueueBatch(jobs.mid(0, 15)).ok());
        QVERIFY(b.queue->enqueueBatch(jobs.mid(15)).ok());
        QTRY_COMPARE_WITH_TIMEOUT((*t.store->countByStatus()).value(JobStatus::Completed), 30,
                                  30'000);
        QVERIFY2(handlers.recorder->maxActive() <= 3,
                 qPrintable(QString::number(handlers.recorder->maxActive())));
        QVERIFY(handlers.recorder->maxActive() >= 1);
    }
};

QTEST_GUILESS_MAIN(tst_ClusterNode)
#include "tst_clusternode.moc"
