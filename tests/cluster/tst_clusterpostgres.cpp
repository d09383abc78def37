// Several nodes on one PostgreSQL database (the "ferry_pg" fixture's server; a database per
// test): the leader lease between two stores, LISTEN/NOTIFY waking and cancelling across nodes,
// a dropped listener reconnecting, and the global concurrency limit under two dispatchers.

#include "cluster/clusternode.h"
#include "cluster/notificationlistener.h"
#include "clusterharness.h"
#include "pgtestsupport.h"
#include "store/postgresstore.h"

#include <QSqlDatabase>
#include <QSqlQuery>
#include <QTest>

using namespace Ferry;
using namespace Ferry::Test;

class tst_ClusterPostgres : public QObject
{
    Q_OBJECT

private:
    // Two stores (two connection pools, as two processes have) on one fresh database.
    bool openTwo()
    {
        QString error;
        const QString url = createPostgresTestDatabase(QStringLiteral("cluster"), &error);
        if (url.isEmpty()) {
            qWarning() << error;
            return false;
        }
        auto config = DatabaseConfig::fromUrl(url);
        if (!config)
            return false;
        m_config = *config;
        auto a = PostgresStore::open(m_config);
        auto b = PostgresStore::open(m_config);
        if (!a || !b)
            return false;
        m_a = std::move(*a);
        m_b = std::move(*b);
        auto user = m_a->createUser(QStringLiteral("alice"), QStringLiteral("standard"),
                                    QByteArray(32, 'a'), m_clock.nowMs());
        if (!user)
            return false;
        m_user = user->id;
        return true;
    }

    ClusterNode::Options nodeOptions(const QString &id)
    {
        ClusterNode::Options o;
        o.nodeId = id;
        o.version = QStringLiteral("test");
        o.leaderLeaseMs = 10'000;
        o.deadAfterMs = 15'000;
        return o;
    }

    DatabaseConfig m_config;
    std::unique_ptr<PostgresStore> m_a, m_b;
    ManualClock m_clock{QDateTime::currentMSecsSinceEpoch()};
    SystemClock m_systemClock;
    qint64 m_user = 0;

private Q_SLOTS:
    void init()
    {
        if (postgresTestUrl().isEmpty())
            QSKIP("no PostgreSQL test server (run through ctest, or set FERRY_TEST_PG_URL)");
        QVERIFY(openTwo());
    }

    void cleanup()
    {
        m_a.reset();
        m_b.reset();
    }

    void leaderLeaseBetweenTwoStores()
    {
        ClusterNode a(*m_a, m_clock, nodeOptions(QStringLiteral("node-a")));
        ClusterNode b(*m_b, m_clock, nodeOptions(QStringLiteral("node-b")));
        a.tick();
        b.tick();
        QVERIFY(a.isLeader());
        QVERIFY(!b.isLeader());
        auto nodes = *m_b->nodes(m_clock.nowMs());
        QCOMPARE(nodes.size(), 2);
        QVERIFY(nodes.at(0).leader);  // node-a
        QVERIFY(!nodes.at(1).leader); // node-b
        m_clock.advance(10'001);
        QVERIFY(!a.isLeader()); // by its own clock, before it even ticks
        b.tick();
        QVERIFY(b.isLeader());
        a.tick();
        QVERIFY(!a.isLeader());
        // Graceful stop hands the lease over without waiting for the expiry.
        b.stop();
        a.tick();
        QVERIFY(a.isLeader());
        QCOMPARE(m_a->nodes(m_clock.nowMs())->size(), 1);
    }

    void deadNodeRescuedByTheOtherStore()
    {
        ClusterNode a(*m_a, m_clock, nodeOptions(QStringLiteral("node-a")));
        ClusterNode b(*m_b, m_clock, nodeOptions(QStringLiteral("node-b")));
        a.tick();
        b.tick();
        QVERIFY(m_b->enqueue({clusterJob(m_user, QStringLiteral("noop"))}, m_clock.nowMs()));
        auto claimed = m_b->settleAndClaim(
            {}, ClaimRequest{QStringLiteral("node-b"), 1, m_clock.nowMs(), 30'000, 0});
        QCOMPARE(claimed->size(), 1);
        m_clock.advance(16'000);
        a.tick();
        QCOMPARE((*m_a->job(claimed->first().id, std::nullopt))->status, JobStatus::Pending);
        QCOMPARE(m_a->attempts(claimed->first().id)->first().outcome, QStringLiteral("lost"));
    }

    // A node cut off in the middle of a batch leaves a session on the server that waits for its
    // client inside a transaction holding the job's fence; no server timeout ends such a session
    // (a COPY waiting for data is not "idle"). Declaring the node dead ends its sessions, so the
    // rescue that skips locked rows gets the job.
    void deadNodesSessionsAreEndedSoTheirJobsCanBeRescued()
    {
        DatabaseConfig named = m_config;
        named.sessionName = DatabaseConfig::sessionNameFor(QStringLiteral("node-b"));
        auto opened = PostgresStore::open(named);
        QVERIFY(opened.ok());
        std::unique_ptr<PostgresStore> b = std::move(*opened);
        ClusterNode nodeA(*m_a, m_clock, nodeOptions(QStringLiteral("node-a")));
        ClusterNode nodeB(*b, m_clock, nodeOptions(QStringLiteral("node-b")));
        nodeA.tick();
        nodeB.tick();
        QVERIFY(b->enqueue({clusterJob(m_user, QStringLiteral("noop"))}, m_clock.nowMs()));
        auto claimed = b->settleAndClaim(
            {}, ClaimRequest{QStringLiteral("node-b"), 1, m_clock.nowMs(), 30'000, 0});
        QCOMPARE(claimed->size(), 1);
        const qint64 jobId = claimed->first().id;

        // node-b's batch, stuck: the fence commitBatch takes, in a session no timeout ends.
        auto stuck = QSqlDatabase::addDatabase(QStringLiteral("QPSQL"), QStringLiteral("stuck"));
        stuck.setHostName(m_config.host);
        stuck.setPort(m_config.port);
        stuck.setUserName(m_config.user);
        stuck.setDatabaseName(m_config.database);
        stuck.setConnectOptions(QStringLiteral("application_name=") + named.sessionName);
        QVERIFY(stuck.open());
        QVERIFY(stuck.transaction());
        {
            QSqlQuery fence(stuck);
            QVERIFY(
                fence.exec(QStringLiteral("SET LOCAL idle_in_transaction_session_timeout = 0")));
            QVERIFY(fence.exec(
                QStringLiteral("SELECT 1 FROM jobs WHERE id = %1 FOR KEY SHARE").arg(jobId)));
        }

        m_clock.advance(31'000); // past node-b's heartbeat and its lease
        auto dead = m_a->rescueDeadNodes(m_clock.nowMs() - 15'000, QStringLiteral("node-a"),
                                         m_clock.nowMs());
        QVERIFY2(dead.ok(), dead ? "" : qPrintable(dead.error().message));
        QCOMPARE(dead->nodes, QStringList{QStringLiteral("node-b")});
        // The session is gone as soon as its backend has exited; the ordinary rescue then takes
        // the job (without the fix it skipped the locked row for as long as the session lived).
        QTRY_VERIFY_WITH_TIMEOUT(
            [&] {
                auto rescued = m_a->rescueLeases(RescueScope::ExpiredLeases,
                                                 QStringLiteral("node-a"), m_clock.nowMs());
                return rescued.ok() &&
                       (*m_a->job(jobId, std::nullopt))->status == JobStatus::Pending;
            }(),
            20'000);
        QVERIFY(dead->sessionsEnded >= 1);
        QSqlQuery after(stuck);
        QVERIFY(!after.exec(QStringLiteral("SELECT 1")));
        after = QSqlQuery();
        stuck = QSqlDatabase();
        QSqlDatabase::removeDatabase(QStringLiteral("stuck"));
        // node-b's own store opens new sessions for what it does next (a statement that finds
        // its connection ended fails once; the pool then opens another).
        QVERIFY(b->nodes(m_clock.nowMs()).ok() || b->nodes(m_clock.nowMs()).ok());
    }

    void enqueueNotifyWakesAnIdleNodeBeforeItsPoll()
    {
        ClusterHandlers handlers;
        QueueConfig config = clusterQueueConfig();
        config.pollIntervalMs = 60'000; // the poll alone would start the job after a minute
        ClusterMember a(*m_a, handlers.registry, m_systemClock, QStringLiteral("node-a"), config);
        ClusterMember b(*m_b, handlers.registry, m_systemClock, QStringLiteral("node-b"), config);
        NotificationListener listener(
            m_config, {[q = b.queue.get()] { q->announceRemoteEnqueue(); },
                       [q = b.queue.get()](qint64 id) { q->announceRemoteCancel(id); },
                       {}});
        QVERIFY(listener.start().ok());
        QVERIFY(b.dispatcher->start().ok()); // its first (empty) claim, then a 60 s poll wait
        QTest::qWait(100);
        // Enqueued through the other node's queue: nothing in b's process announces it.
        auto job = a.queue->enqueue(clusterJob(m_user, QStringLiteral("record")));
        QVERIFY(job.ok());
        QTRY_COMPARE((*m_b->job(job->id, std::nullopt))->status, JobStatus::Completed);
        QCOMPARE(handlers.recorder->started().size(), 1);
        const auto attempts = *m_b->attempts(job->id);
        QCOMPARE(attempts.first().node, QStringLiteral("node-b"));
    }

    void cancelNotifyReachesTheNodeRunningTheJob()
    {
        ClusterHandlers handlers;
        QueueConfig config = clusterQueueConfig();
        config.pollIntervalMs = 60'000;
        ClusterMember a(*m_a, handlers.registry, m_systemClock, QStringLiteral("node-a"), config);
        ClusterMember b(*m_b, handlers.registry, m_systemClock, QStringLiteral("node-b"), config);
        QList<qint64> heard;
        QMutex heardMutex;
        NotificationListener listener(m_config,
                                      {[q = b.queue.get()] { q->announceRemoteEnqueue(); },
                                       [&, q = b.queue.get()](qint64 id) {
                                           {
                                               QMutexLocker lock(&heardMutex);
                                               heard.append(id);
                                           }
                                           q->announceRemoteCancel(id);
                                       },
                                       {}});
        QVERIFY(listener.start().ok());
        QVERIFY(b.dispatcher->start().ok());
        auto job = a.queue->enqueue(clusterJob(m_user, QStringLiteral("block")));
        QVERIFY(job.ok());
        QTRY_COMPARE(handlers.blocker->running.load(), 1);
        // Cancelled through node a: the store marks it, and NOTIFY carries the id to b.
        auto cancelled = a.queue->cancel(job->id);
        QVERIFY(cancelled.ok());
        QCOMPARE(*cancelled, JobStatus::Running);
        QTRY_VERIFY([&] {
            QMutexLocker lock(&heardMutex);
            return heard == QList<qint64>{job->id};
        }());
        QTRY_COMPARE((*m_a->job(job->id, std::nullopt))->status, JobStatus::Cancelled);
        QCOMPARE(handlers.blocker->running.load(), 0);
    }

    // A pause written through one node reaches the other at once (ferry_settings), not at its
    // poll a minute later; and the claim of the other node refuses work from the moment the
    // pause committed, whatever its own copy of the flag says.
    void pauseNotifyReachesTheOtherNodeAtOnce()
    {
        ClusterHandlers handlers;
        QueueConfig config = clusterQueueConfig();
        config.pollIntervalMs = 60'000;
        ClusterMember a(*m_a, handlers.registry, m_systemClock, QStringLiteral("node-a"), config);
        ClusterMember b(*m_b, handlers.registry, m_systemClock, QStringLiteral("node-b"), config);
        NotificationListener listener(
            m_config, {[q = b.queue.get()] { q->announceRemoteEnqueue(); },
                       [q = b.queue.get()](qint64 id) { q->announceRemoteCancel(id); },
                       [q = b.queue.get()](const QString &) { q->reloadPaused(); }});
        QVERIFY(listener.start().ok());
        QVERIFY(!b.queue->isPaused());
        QVERIFY(a.queue->setPaused(true).ok());
        QVERIFY(m_b->enqueue({clusterJob(m_user, QStringLiteral("noop"))}, m_clock.nowMs()));
        auto claimed = m_b->settleAndClaim(
            {}, ClaimRequest{QStringLiteral("node-b"), 1, m_clock.nowMs(), 30'000, 0});
        QVERIFY(claimed.ok());
        QVERIFY(claimed->isEmpty()); // the persisted pause, read by the claim itself
        QTRY_VERIFY_WITH_TIMEOUT(b.queue->isPaused(), 10'000); // heard, not polled
        QVERIFY(a.queue->setPaused(false).ok());
        QTRY_VERIFY_WITH_TIMEOUT(!b.queue->isPaused(), 10'000);
    }

    void droppedListenerReconnects()
    {
        std::atomic<int> wakes{0};
        NotificationListener listener(m_config, {[&] { ++wakes; }, {}, {}});
        QVERIFY(listener.start(50).ok());
        QVERIFY(listener.isListening());
        listener.dropConnectionForTest();
        QVERIFY(!listener.isListening());
        QTRY_VERIFY(listener.isListening());     // the next check reopens and resubscribes
        const int afterReconnect = wakes.load(); // one catch-up wake on reconnecting
        QVERIFY(afterReconnect >= 1);
        QVERIFY(m_a->enqueue({clusterJob(m_user, QStringLiteral("noop"))}, m_clock.nowMs()));
        QTRY_VERIFY(wakes.load() > afterReconnect); // and NOTIFY arrives on the new connection
    }

    void globalLimitNeverExceededWithTwoDispatchers()
    {
        ClusterHandlers handlers;
        QueueConfig config = clusterQueueConfig();
        config.clusterMaxRunning = 3;
        ClusterMember a(*m_a, handlers.registry, m_systemClock, QStringLiteral("node-a"), config);
        ClusterMember b(*m_b, handlers.registry, m_systemClock, QStringLiteral("node-b"), config);
        QVERIFY(a.dispatcher->start().ok());
        QVERIFY(b.dispatcher->start().ok());
        QList<NewJob> jobs;
        for (int i = 0; i < 30; ++i)
            jobs.append(clusterJob(m_user, QStringLiteral("record"), {{QStringLiteral("ms"), 20}}));
        QVERIFY(a.queue->enqueueBatch(jobs).ok());
        QTRY_COMPARE_WITH_TIMEOUT((*m_a->countByStatus()).value(JobStatus::Completed), 30, 30'000);
        QVERIFY2(handlers.recorder->maxActive() <= 3,
                 qPrintable(QString::number(handlers.recorder->maxActive())));
    }
};

QTEST_GUILESS_MAIN(tst_ClusterPostgres)
#include "tst_clusterpostgres.moc"
