// GET /api/v1/events over real HTTP: a raw socket reads the stream as it comes (chunked framing,
// then Server-Sent Events), while jobs are enqueued, uploaded, run and end.
#include "eventclient.h"
#include "jobsapitestsupport.h"
#include "testbackend.h"

using namespace Ferry;
using namespace Ferry::Test;

namespace {

qint64 enqueueSleep(JobsApiFixture &api, qint64 user, int ms)
{
    NewJob job;
    job.userId = user;
    job.type = QStringLiteral("sleep");
    job.payload = {{QStringLiteral("ms"), ms}};
    return api.queue->enqueue(job)->id;
}

} // namespace

class tst_Events : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    // An upload and a running job, seen from Alice's stream: created, running (with progress),
    // completed, each with the job as GET /api/v1/jobs/{id} shows it. Bob's stream, open all
    // along, sees none of it.
    void lifecycleOfTheCallersJobs()
    {
        JobsApiFixture api;
        EventClient alice(api.port, api.aliceToken);
        EventClient bob(api.port, api.bobToken);
        QVERIFY(alice.waitOpen());
        QVERIFY(bob.waitOpen());
        QCOMPARE(alice.status(), 200);
        QVERIFY(alice.header("content-type").startsWith("text/event-stream"));
        QCOMPARE(alice.header("cache-control"), QByteArray("no-cache"));

        QVERIFY(api.queue->setPaused(true).ok());
        const JobsReply upload =
            api.send("POST", QStringLiteral("/api/v1/uploads?dataset=people"), api.aliceToken,
                     {{"Content-Type", "text/csv"}}, "id,name\n1,a\n2,b\n");
        QCOMPARE(upload.status, 202);
        const qint64 imported = upload.json.value(u"jobId").toString().toLongLong();
        QVERIFY(alice.waitForStatus(imported, QStringLiteral("pending")));
        const Event created = alice.eventsOf(imported).first();
        QCOMPARE(created.type, QStringLiteral("job"));
        QCOMPARE(created.job.value(u"sessionId"), upload.json.value(u"sessionId"));
        QCOMPARE(created.job.value(u"type").toString(), QStringLiteral("migrate"));

        const qint64 sleeper = enqueueSleep(api, api.alice.id, 2500);
        QVERIFY(alice.waitForStatus(sleeper, QStringLiteral("pending")));
        QVERIFY(api.queue->setPaused(false).ok());
        api.startDispatcher();
        QVERIFY(alice.waitForStatus(imported, QStringLiteral("completed")));
        QVERIFY(alice.waitForStatus(sleeper, QStringLiteral("running")));
        QVERIFY(alice.waitForStatus(sleeper, QStringLiteral("completed")));

        // The last event of each job is the job as GET shows it, result and all.
        for (qint64 id : {imported, sleeper}) {
            const JobsReply got =
                api.get(QStringLiteral("/api/v1/jobs/%1").arg(id), api.aliceToken);
            QCOMPARE(alice.eventsOf(id).last().job, got.json.value(u"job").toObject());
        }
        QCOMPARE(
            alice.eventsOf(imported).last().job.value(u"result").toObject().value(u"rowsImported"),
            QJsonValue(2));
        // In order: created before running before completed, ids growing.
        QStringList statuses;
        for (const Event &event : alice.eventsOf(sleeper)) {
            if (statuses.isEmpty() || statuses.last() != event.job.value(u"status").toString())
                statuses.append(event.job.value(u"status").toString());
        }
        QCOMPARE(statuses, (QStringList{QStringLiteral("pending"), QStringLiteral("running"),
                                        QStringLiteral("completed")}));
        for (qsizetype i = 1; i < alice.events().size(); ++i)
            QVERIFY(alice.events()[i].id > alice.events()[i - 1].id);

        // Bob saw nothing of Alice's; his own job reaches him, and not her.
        const qint64 bobs = api.enqueue(api.bob.id);
        QVERIFY(bob.waitForStatus(bobs, QStringLiteral("completed")));
        for (const Event &event : bob.events())
            QCOMPARE(event.job.value(u"id").toString().toLongLong(), bobs);
        QVERIFY(alice.eventsOf(bobs).isEmpty());
    }

    // Cluster: a job that another node creates, claims and settles through a store connection of
    // its own (the shared database) reaches the stream, as the job GET would show it.
    void changesMadeByAnotherNodeArrive()
    {
        JobsApiFixture api;
        EventClient alice(api.port, api.aliceToken);
        QVERIFY(alice.waitOpen());
        std::unique_ptr<Store> other = openTestStore(api.t.location());
        const qint64 now = api.clock.nowMs();
        NewJob job;
        job.userId = api.alice.id;
        job.type = QStringLiteral("noop");
        job.maxAttempts = 1;
        job.timeoutMs = 60'000;
        const qint64 id = other->enqueue({job}, now)->first().id;
        QVERIFY(alice.waitForStatus(id, QStringLiteral("pending")));
        auto claimed = other->settleAndClaim({}, {QStringLiteral("node-b"), 1, now, 60'000});
        QVERIFY(claimed.ok() && claimed->size() == 1);
        QVERIFY(alice.waitForStatus(id, QStringLiteral("running")));
        SettledAttempt done;
        done.jobId = id;
        done.userId = api.alice.id;
        done.leaseToken = claimed->first().leaseToken;
        done.attempt = 1;
        done.startedAt = now;
        done.finishedAt = now;
        done.newStatus = JobStatus::Completed;
        done.outcome = QStringLiteral("completed");
        done.result = {{QStringLiteral("elsewhere"), true}};
        QVERIFY(other->settleAndClaim({done}, {QStringLiteral("node-b"), 0, now, 60'000}).ok());
        QVERIFY(alice.waitForStatus(id, QStringLiteral("completed")));
        const JobsReply got = api.get(QStringLiteral("/api/v1/jobs/%1").arg(id), api.aliceToken);
        QCOMPARE(alice.eventsOf(id).last().job, got.json.value(u"job").toObject());
        QCOMPARE(alice.eventsOf(id).last().job.value(u"result").toObject().value(u"elsewhere"),
                 QJsonValue(true));
    }

    // Progress goes out at most once a second per job: a 3.5 s job that saves progress every
    // second gets a handful of progress events, and they do carry its progress.
    void progressIsThrottled()
    {
        JobsApiFixture api;
        EventClient alice(api.port, api.aliceToken);
        QVERIFY(alice.waitOpen());
        api.startDispatcher();
        const qint64 id = enqueueSleep(api, api.alice.id, 3500);
        QVERIFY(alice.waitForStatus(id, QStringLiteral("completed")));
        QList<Event> running;
        for (const Event &event : alice.eventsOf(id)) {
            if (event.job.value(u"status").toString() == u"running")
                running.append(event);
        }
        // One when it started, then at most one per second of its run.
        QVERIFY2(running.size() >= 2 && running.size() <= 5,
                 qPrintable(QString::number(running.size())));
        QVERIFY(running.last().job.value(u"progress").toObject().value(u"done").toDouble() > 0);
        QCOMPARE(running.last().job.value(u"progress").toObject().value(u"unit").toString(),
                 QStringLiteral("ms"));
    }

    // Four streams per user; the fifth is 429 with a JSON body naming the limit. Other users are
    // not affected, and a closed stream frees its place.
    void perUserStreamCap()
    {
        JobsApiFixture api;
        std::vector<std::unique_ptr<EventClient>> streams;
        for (int i = 0; i < api.eventHub->options().maxStreamsPerUser; ++i) {
            streams.push_back(std::make_unique<EventClient>(api.port, api.aliceToken));
            QVERIFY(streams.back()->waitOpen());
        }
        EventClient fifth(api.port, api.aliceToken);
        QVERIFY(fifth.waitForHead());
        QCOMPARE(fifth.status(), 429);
        QVERIFY(waitFor([&] { return !fifth.errorBody().isEmpty(); }));
        QCOMPARE(fifth.errorBody().value(u"code").toString(), QStringLiteral("too_many_streams"));
        QCOMPARE(fifth.errorBody().value(u"success"), QJsonValue(false));
        QVERIFY(fifth.errorBody().value(u"message").toString().contains(u"4 event streams"));

        EventClient bob(api.port, api.bobToken);
        QVERIFY(bob.waitOpen());

        streams.front()->close();
        QVERIFY(waitFor([&] {
            return api.eventHub->openStreams() == api.eventHub->options().maxStreamsPerUser;
        }));
        EventClient again(api.port, api.aliceToken);
        QVERIFY(again.waitOpen());
    }

    // The overall cap answers 503 with Retry-After.
    void totalStreamCap()
    {
        JobsApiFixture api;
        JobEventHubOptions options = api.eventHub->options();
        options.maxStreams = 1;
        JobEventHub small(*api.t.store, options);
        auto first = small.subscribe(api.alice.id);
        QVERIFY(first.ok());
        QCOMPARE(first->refusal, JobEventHub::Refusal::None);
        auto second = small.subscribe(api.bob.id);
        QVERIFY(second.ok());
        QCOMPARE(second->refusal, JobEventHub::Refusal::TotalLimit);
        // Over HTTP: the route's answer for it.
        EventRoutes routes(small);
        ApiHandler handler(*api.users, *api.limiter, ClientAddress(), &api.log);
        handler.addRoutes(routes);
        Http::HttpServer server(handler);
        const quint16 port = *server.listen(QHostAddress::LocalHost, 0);
        EventClient refused(port, api.bobToken);
        QVERIFY(refused.waitForHead());
        QCOMPARE(refused.status(), 503);
        QVERIFY(!refused.header("retry-after").isEmpty());
        QVERIFY(waitFor([&] { return !refused.errorBody().isEmpty(); }));
        QCOMPARE(refused.errorBody().value(u"code").toString(), QStringLiteral("too_many_streams"));
    }

    // A stream nobody writes to gets a keep-alive comment (the fixture's interval: 2 s).
    void keepAlive()
    {
        JobsApiFixture api;
        EventClient alice(api.port, api.aliceToken);
        QVERIFY(alice.waitOpen());
        QVERIFY(waitFor([&] { return alice.comments().contains(QStringLiteral("keepalive")); }));
    }

    // When the server stops, every stream ends with its last chunk (a clean end, not a reset),
    // and new streams are refused until it is gone.
    void streamsEndWhenTheServerStops()
    {
        JobsApiFixture api;
        EventClient alice(api.port, api.aliceToken);
        EventClient bob(api.port, api.bobToken);
        QVERIFY(alice.waitOpen());
        QVERIFY(bob.waitOpen());
        api.eventHub->stop();
        QVERIFY(waitFor([&] { return alice.ended() && bob.ended(); }));
        EventClient late(api.port, api.aliceToken);
        QVERIFY(late.waitForHead());
        QCOMPARE(late.status(), 503);
        api.server.reset();
        QVERIFY(waitFor([&] { return alice.closed(); }));
    }

    // A stream whose client does not read keeps the latest state of each job only, and ends
    // once too many jobs wait for it. A second stream of the same user, read all along, shows
    // when the hub has published.
    void slowReaderKeepsTheLatestStatePerJob()
    {
        JobsApiFixture api;
        JobEventHubOptions options = api.eventHub->options();
        options.maxQueuedJobs = 2;
        JobEventHub hub(*api.t.store, options);
        std::shared_ptr<JobEventStream> slow = hub.subscribe(api.alice.id)->stream;
        std::shared_ptr<JobEventStream> fast = hub.subscribe(api.alice.id)->stream;
        QVERIFY(slow && fast);
        QVERIFY(slow->next().result().data.startsWith(": ")); // opened; then it reads nothing
        QByteArray fastText;
        const auto readUntil = [&](const QByteArray &needle) {
            while (!fastText.contains(needle)) {
                QFuture<Http::StreamChunk> next = fast->next();
                if (!waitFor([&] { return next.isFinished(); }))
                    return false;
                if (next.result().kind != Http::StreamChunk::Kind::Data)
                    return false;
                fastText += next.result().data;
            }
            return true;
        };
        QVERIFY(api.queue->setPaused(true).ok());
        const qint64 id = api.enqueue(api.alice.id);
        QVERIFY(readUntil("\"status\":\"pending\""));
        QVERIFY(api.queue->cancel(id).ok());
        QVERIFY(readUntil("\"status\":\"cancelled\""));
        // Two changes of one job while the slow client read nothing: one event, the latest.
        QFuture<Http::StreamChunk> waiting = slow->next();
        QVERIFY(waiting.isFinished());
        const QByteArray text = waiting.result().data;
        QCOMPARE(text.count("event: job"), 1);
        QVERIFY(text.contains("\"status\":\"cancelled\""));
        // Three jobs waiting, two allowed: the stream ends.
        for (int i = 0; i < 3; ++i)
            api.enqueue(api.alice.id);
        QVERIFY(readUntil("\"id\":\"" + QByteArray::number(id + 3) + '"'));
        QFuture<Http::StreamChunk> ended = slow->next();
        QVERIFY(ended.isFinished());
        QVERIFY(ended.result().kind == Http::StreamChunk::Kind::End);
    }

    // Without a token: 401, like every authenticated route.
    void needsAToken()
    {
        JobsApiFixture api;
        const JobsReply reply = api.get(QStringLiteral("/api/v1/events"), {});
        QCOMPARE(reply.status, 401);
    }
};

QTEST_GUILESS_MAIN(tst_Events)
#include "tst_events.moc"
