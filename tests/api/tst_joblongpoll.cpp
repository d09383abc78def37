// GET /api/v1/jobs/{id}?wait=N over real HTTP: the long-poll returns when the job changes,
// follows a running job, answers at its deadline, and is freed when its client goes away or the
// server shuts down.
#include "jobsapicases.h"

using namespace Ferry;
using namespace Ferry::Test;

class tst_JobLongPoll : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void longPollReturnsWhenTheJobChanges()
    {
        JobsApiFixture api;
        const qint64 id = api.enqueue(api.alice.id);
        // Claimed by a node of ours that runs no handler: running, and nobody else writes it.
        ClaimRequest claim{QStringLiteral("test-node"), 1, api.clock.nowMs(), 60'000};
        const auto claimed = api.t.store->settleAndClaim({}, claim);
        QCOMPARE(claimed->size(), 1);
        const qint64 lease = claimed->first().leaseToken;
        // Another thread reports progress once the request is parked.
        std::thread writer([&] {
            while (api.jobs->watcher().parked() == 0)
                std::this_thread::sleep_for(std::chrono::milliseconds(5));
            (void)api.t.store->saveProgress(id, lease, {{QStringLiteral("done"), 5}});
        });
        // progress=true: the wait ends when the progress changes.
        const JobsReply reply = api.get(
            QStringLiteral("/api/v1/jobs/%1?wait=60&progress=true").arg(id), api.aliceToken);
        writer.join();
        QCOMPARE(reply.status, 200);
        QCOMPARE(reply.json.value(u"job").toObject().value(u"progress").toObject().value(u"done"),
                 QJsonValue(5));
        QCOMPARE(reply.json.value(u"job").toObject().value(u"status").toString(),
                 QStringLiteral("running"));
        QCOMPARE(api.jobs->watcher().parked(), 0);

        // Without it (issue 15: a 20-second job took 21 polls), progress does not end the wait:
        // still parked several watcher ticks after the progress was written, it answers at its
        // deadline with the job as it is then.
        int parkedAfterProgress = -1;
        std::thread progressWriter([&] {
            while (api.jobs->watcher().parked() == 0)
                std::this_thread::sleep_for(std::chrono::milliseconds(5));
            (void)api.t.store->saveProgress(id, lease, {{QStringLiteral("done"), 6}});
            std::this_thread::sleep_for(std::chrono::milliseconds(800)); // 4 ticks of 200 ms
            parkedAfterProgress = api.jobs->watcher().parked();
        });
        const JobsReply quiet =
            api.get(QStringLiteral("/api/v1/jobs/%1?wait=2").arg(id), api.aliceToken);
        progressWriter.join();
        QCOMPARE(parkedAfterProgress, 1);
        QCOMPARE(quiet.status, 200);
        QCOMPARE(quiet.json.value(u"job").toObject().value(u"progress").toObject().value(u"done"),
                 QJsonValue(6));
        QCOMPARE(
            api.get(QStringLiteral("/api/v1/jobs/%1?wait=2&progress=maybe").arg(id), api.aliceToken)
                .status,
            400);

        // A status change from another thread, through the queue.
        const qint64 pending = api.enqueue(api.alice.id);
        std::thread canceller([&] {
            while (api.jobs->watcher().parked() == 0)
                std::this_thread::sleep_for(std::chrono::milliseconds(5));
            (void)api.queue->cancel(pending);
        });
        const JobsReply cancelled =
            api.get(QStringLiteral("/api/v1/jobs/%1?wait=60").arg(pending), api.aliceToken);
        canceller.join();
        QCOMPARE(cancelled.status, 200);
        QCOMPARE(cancelled.json.value(u"job").toObject().value(u"status").toString(),
                 QStringLiteral("cancelled"));
    }

    void longPollFollowsARunningJob()
    {
        JobsApiFixture api;
        const qint64 id = api.enqueue(api.alice.id, {}, QStringLiteral("noop"));
        api.startDispatcher();
        // Follow it as a client would: wait until it finished, one request per change.
        QString status;
        for (int i = 0; i < 10 && status != u"completed"; ++i) {
            const JobsReply reply =
                api.get(QStringLiteral("/api/v1/jobs/%1?wait=30").arg(id), api.aliceToken);
            QCOMPARE(reply.status, 200);
            status = reply.json.value(u"job").toObject().value(u"status").toString();
        }
        QCOMPARE(status, QStringLiteral("completed"));
    }

    void longPollAnswersAtTheDeadline()
    {
        JobsApiFixture api;
        const qint64 id = api.enqueue(api.alice.id);
        const JobsReply reply =
            api.get(QStringLiteral("/api/v1/jobs/%1?wait=1").arg(id), api.aliceToken);
        QCOMPARE(reply.status, 200);
        QCOMPARE(reply.json.value(u"job").toObject().value(u"status").toString(),
                 QStringLiteral("pending"));
        QCOMPARE(api.jobs->watcher().parked(), 0);
        // wait=0 is the plain GET; a finished job answers at once, whatever the wait.
        QCOMPARE(api.get(QStringLiteral("/api/v1/jobs/%1?wait=0").arg(id), api.aliceToken).status,
                 200);
        QCOMPARE(api.get(QStringLiteral("/api/v1/jobs/999?wait=5"), api.aliceToken).status, 404);
    }

    void disconnectedLongPollIsFreed()
    {
        JobsApiFixture api;
        const qint64 id = api.enqueue(api.alice.id);
        {
            QTcpSocket socket;
            socket.connectToHost(QHostAddress::LocalHost, api.port);
            QVERIFY(socket.waitForConnected(5000));
            socket.write("GET /api/v1/jobs/" + QByteArray::number(id) +
                         "?wait=60 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + api.aliceToken +
                         "\r\n\r\n");
            QVERIFY(socket.waitForBytesWritten(5000));
            QTRY_COMPARE(api.jobs->watcher().parked(), 1);
            socket.abort();
        }
        QTRY_COMPARE_WITH_TIMEOUT(api.jobs->watcher().parked(), 0, 30'000);
        // The server goes on answering.
        QCOMPARE(api.get(QStringLiteral("/api/v1/jobs/%1").arg(id), api.aliceToken).status, 200);
    }

    void shutdownWithAParkedLongPoll()
    {
        auto api = std::make_unique<JobsApiFixture>();
        const qint64 id = api->enqueue(api->alice.id);
        QTcpSocket socket;
        socket.connectToHost(QHostAddress::LocalHost, api->port);
        QVERIFY(socket.waitForConnected(5000));
        socket.write("GET /api/v1/jobs/" + QByteArray::number(id) +
                     "?wait=60 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + api->aliceToken +
                     "\r\n\r\n");
        QVERIFY(socket.waitForBytesWritten(5000));
        QTRY_COMPARE(api->jobs->watcher().parked(), 1);
        // Server, handler, routes, store go in the engine's order, the wait still parked.
        api.reset();
        QTRY_VERIFY(socket.state() == QAbstractSocket::UnconnectedState);
    }
};

QTEST_GUILESS_MAIN(tst_JobLongPoll)
#include "tst_joblongpoll.moc"
