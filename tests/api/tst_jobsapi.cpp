// The upload and job API over real HTTP on loopback: sessions, the job list and its cursor,
// long-polls, cancel and retry, reports, datasets and streamed exports, and isolation between
// users walked over every registered route.
#include "eventclient.h"
#include "jobsapitestsupport.h"

#include <QSet>
#include <QTcpSocket>

#include <thread>

using namespace Ferry;
using namespace Ferry::Test;

namespace {

QByteArray peopleCsv(int rows, int badRows = 0)
{
    QByteArray csv = "id,name\n";
    for (int i = 1; i <= rows; ++i)
        csv += QByteArray::number(i) + ",name " + QByteArray::number(i) + "\n";
    for (int i = 0; i < badRows; ++i)
        csv += "not-a-number-" + QByteArray::number(i) + ",bad\n";
    return csv;
}

QJsonObject peopleMapping()
{
    return QJsonDocument::fromJson("{\"fields\": [{\"name\": \"id\", \"type\": \"integer\", "
                                   "\"required\": true}, {\"name\": \"name\"}], \"key\": \"id\"}")
        .object();
}

QList<qint64> ids(const QJsonArray &jobs)
{
    QList<qint64> result;
    for (const QJsonValue &job : jobs)
        result.append(job.toObject().value(u"id").toString().toLongLong());
    return result;
}

QList<QByteArray> lines(const QByteArray &body, const char *separator)
{
    QList<QByteArray> result = body.split(separator[0]);
    if (!result.isEmpty() && result.last().isEmpty())
        result.removeLast();
    if (separator[0] == '\r') { // CRLF: drop the LF each line but the first starts with
        for (QByteArray &line : result) {
            if (line.startsWith('\n'))
                line.remove(0, 1);
        }
        if (!result.isEmpty() && result.last().isEmpty())
            result.removeLast();
    }
    return result;
}

// What a user B sees of user A's objects, route by route.
enum class Expect {
    Public,
    NotFound,
    EmptyList,
    TusNotFound,  // a tus request (its headers, a body for PATCH) on A's upload: 404, A's untouched
    OwnQuota,     // B's own usage, not A's
    OwnUpload,    // B's upload creates B's own session and job, whatever dataset name it gives
    OwnTusUpload, // B's tus creation makes B's own upload, which A cannot see
    OwnDryRun,    // B's dry run of a body reads B's dataset of that name, not A's
    DeleteNotFound, // B's delete of A's dataset: 404, A's records all there (not replayed as A)
    NotFoundKept,   // a delete: 404 for B, and A's object stays (A's own request is not replayed)
    OwnEvents,      // B's event stream carries B's jobs only, never A's
};

const QByteArray s_tus = "1.0.0";

} // namespace

class tst_JobsApi : public QObject
{
    Q_OBJECT

private:
    // Alice's objects for the isolation walk, made once.
    std::unique_ptr<JobsApiFixture> m_shared;
    SubmittedMigration m_aliceImport;
    QString m_aliceTusId; // a tus upload of Alice's, half sent
    static constexpr qint64 s_aliceRecords = 10;

    // Alice's tus upload as she sees it: (offset, length), or (-1, -1) when it is gone.
    std::pair<qint64, qint64> aliceTusState()
    {
        JobsApiFixture &api = *m_shared;
        const JobsReply head = api.send("HEAD", QStringLiteral("/api/v1/tus/") + m_aliceTusId,
                                        api.aliceToken, {{"Tus-Resumable", s_tus}}, {});
        if (head.status != 200)
            return {-1, -1};
        return {head.headers.value("upload-offset").toLongLong(),
                head.headers.value("upload-length").toLongLong()};
    }

    qint64 aliceRecordsIn(const QString &dataset)
    {
        JobsApiFixture &api = *m_shared;
        const JobsReply list = api.get(QStringLiteral("/api/v1/datasets"), api.aliceToken);
        for (const QJsonValue &entry : list.json.value(u"datasets").toArray()) {
            if (entry.toObject().value(u"name").toString() == dataset)
                return entry.toObject().value(u"records").toInteger();
        }
        return -1;
    }

private Q_SLOTS:
    void initTestCase()
    {
        m_shared = std::make_unique<JobsApiFixture>();
        m_aliceImport = m_shared->migrate(m_shared->alice.id, QStringLiteral("people"),
                                          peopleCsv(s_aliceRecords, 2), peopleMapping());
        JobsApiFixture &api = *m_shared;
        // An upload over HTTP, counted in Alice's quota (into another dataset of hers).
        const JobsReply upload =
            api.send("POST", QStringLiteral("/api/v1/uploads?dataset=counted"), api.aliceToken,
                     {{"Content-Type", "text/csv"}}, peopleCsv(3));
        QVERIFY2(upload.status == 202, upload.body.constData());
        const qint64 uploadJob = upload.json.value(u"jobId").toString().toLongLong();
        QVERIFY(waitFor(
            [&] { return isTerminal((*api.t.store->job(uploadJob, std::nullopt))->status); }));
        // A tus upload of 20 bytes, 12 sent.
        const JobsReply created =
            api.send("POST", QStringLiteral("/api/v1/tus"), api.aliceToken,
                     {{"Tus-Resumable", s_tus},
                      {"Upload-Length", "20"},
                      {"Upload-Metadata", "dataset " + QByteArray("people").toBase64()}},
                     {});
        QVERIFY2(created.status == 201, created.body.constData());
        m_aliceTusId = created.json.value(u"upload").toObject().value(u"id").toString();
        const JobsReply patched =
            api.send("PATCH", QStringLiteral("/api/v1/tus/") + m_aliceTusId, api.aliceToken,
                     {{"Tus-Resumable", s_tus},
                      {"Upload-Offset", "0"},
                      {"Content-Type", "application/offset+octet-stream"}},
                     "id,name\n1,a\n");
        QVERIFY2(patched.status == 204, patched.body.constData());
        QCOMPARE(aliceTusState(), std::make_pair(qint64(12), qint64(20)));
    }
    void cleanupTestCase() { m_shared.reset(); }

    void sessionWithItsJob()
    {
        JobsApiFixture api;
        const QByteArray csv = peopleCsv(5);
        const SubmittedMigration import =
            api.migrate(api.alice.id, QStringLiteral("people"), csv, peopleMapping());
        const JobsReply reply =
            api.get(QStringLiteral("/api/v1/sessions/") + import.sessionId, api.aliceToken);
        QCOMPARE(reply.status, 200);
        QVERIFY(reply.json.value(u"success").toBool());
        const QJsonObject session = reply.json.value(u"session").toObject();
        QCOMPARE(session.value(u"id").toString(), import.sessionId);
        QCOMPARE(session.value(u"fileName").toString(), QStringLiteral("data.csv"));
        QCOMPARE(session.value(u"contentType").toString(), QStringLiteral("text/csv"));
        QCOMPARE(session.value(u"sizeBytes").toInteger(), csv.size());
        QVERIFY(session.value(u"createdAt").toInteger() > 0);
        QCOMPARE(session.value(u"jobId").toString(), QString::number(import.jobId));
        QCOMPARE(session.value(u"jobStatus").toString(), QStringLiteral("completed"));

        const JobsReply missing =
            api.get(QStringLiteral("/api/v1/sessions/no-such-session"), api.aliceToken);
        QCOMPARE(missing.status, 404);
        QCOMPARE(missing.json.value(u"code").toString(), QStringLiteral("not_found"));
        QCOMPARE(api.get(QStringLiteral("/api/v1/sessions/x"), {}).status, 401);
    }

    void jobFields()
    {
        JobsApiFixture api;
        const qint64 id = api.enqueue(api.alice.id);
        const JobsReply reply = api.get(QStringLiteral("/api/v1/jobs/%1").arg(id), api.aliceToken);
        QCOMPARE(reply.status, 200);
        const QJsonObject job = reply.json.value(u"job").toObject();
        for (const char *key :
             {"id", "type", "status", "priority", "attempts", "maxAttempts", "sessionId",
              "progress", "error", "result", "createdAt", "startedAt", "finishedAt"}) {
            QVERIFY2(job.contains(QLatin1String(key)), key);
        }
        QCOMPARE(job.value(u"status").toString(), QStringLiteral("pending"));
        QCOMPARE(job.value(u"attempts").toInt(), 0);
    }

    void cursorWalksEveryJobOnce_data()
    {
        QTest::addColumn<int>("limit");
        QTest::newRow("1") << 1;
        QTest::newRow("7") << 7;
        QTest::newRow("25 (one page)") << 25;
        QTest::newRow("500") << 500;
    }
    void cursorWalksEveryJobOnce()
    {
        QFETCH(int, limit);
        JobsApiFixture api;
        QList<qint64> expected;
        for (int i = 0; i < 25; ++i) {
            expected.prepend(api.enqueue(api.alice.id));
            api.enqueue(api.bob.id); // interleaved: Bob's jobs never show up in Alice's pages
        }
        QList<qint64> seen;
        QString cursor;
        int pages = 0;
        while (true) {
            QString path = QStringLiteral("/api/v1/jobs?limit=%1").arg(limit);
            if (!cursor.isEmpty())
                path += QStringLiteral("&after=") + cursor;
            const JobsReply reply = api.get(path, api.aliceToken);
            QCOMPARE(reply.status, 200);
            const QJsonArray page = reply.json.value(u"jobs").toArray();
            QVERIFY(page.size() <= limit);
            seen += ids(page);
            ++pages;
            QVERIFY(pages <= 26);
            const QJsonValue next = reply.json.value(u"next");
            QVERIFY(reply.json.contains(u"next"));
            if (next.isNull())
                break;
            QCOMPARE(page.size(), limit); // only a full page has a next one
            cursor = next.toString();
        }
        QCOMPARE(seen, expected); // every job once, newest first
    }

    void filters()
    {
        JobsApiFixture api;
        QList<qint64> people, cancelled;
        for (int i = 0; i < 12; ++i) {
            const qint64 id =
                api.enqueue(api.alice.id, i % 3 == 0 ? QStringLiteral("people") : QString());
            if (i % 3 == 0)
                people.prepend(id);
            if (i % 2 == 0) {
                QVERIFY(api.queue->cancel(id).ok());
                cancelled.prepend(id);
            }
        }
        api.enqueue(api.bob.id, QStringLiteral("people"));
        auto list = [&](const QString &query) {
            const JobsReply reply =
                api.get(QStringLiteral("/api/v1/jobs?") + query, api.aliceToken);
            if (reply.status != 200)
                qWarning() << reply.body;
            return ids(reply.json.value(u"jobs").toArray());
        };
        QCOMPARE(list(QStringLiteral("dataset=people")), people);
        QCOMPARE(list(QStringLiteral("status=cancelled")), cancelled);
        QList<qint64> both;
        for (qint64 id : people) {
            if (cancelled.contains(id))
                both.append(id);
        }
        QCOMPARE(list(QStringLiteral("status=cancelled&dataset=people")), both);
        QCOMPARE(list(QStringLiteral("status=running")), QList<qint64>());
        QCOMPARE(list(QStringLiteral("dataset=nothing")), QList<qint64>());
        // Filters and the cursor together: two by two.
        QList<qint64> walked;
        QString cursor;
        do {
            const JobsReply reply =
                api.get(QStringLiteral("/api/v1/jobs?status=cancelled&limit=2") +
                            (cursor.isEmpty() ? QString() : QStringLiteral("&after=") + cursor),
                        api.aliceToken);
            walked += ids(reply.json.value(u"jobs").toArray());
            cursor = reply.json.value(u"next").toString();
        } while (!cursor.isEmpty());
        QCOMPARE(walked, cancelled);
    }

    void badParameters_data()
    {
        QTest::addColumn<QString>("path");
        QTest::addColumn<QString>("mentions");
        QTest::newRow("limit 0") << "/api/v1/jobs?limit=0"
                                 << "1 to 500";
        QTest::newRow("limit 501") << "/api/v1/jobs?limit=501"
                                   << "1 to 500";
        QTest::newRow("limit text") << "/api/v1/jobs?limit=ten"
                                    << "1 to 500";
        QTest::newRow("limit negative") << "/api/v1/jobs?limit=-5"
                                        << "1 to 500";
        QTest::newRow("after 0") << "/api/v1/jobs?after=0"
                                 << "next";
        QTest::newRow("after text") << "/api/v1/jobs?after=abc"
                                    << "next";
        QTest::newRow("status") << "/api/v1/jobs?status=done"
                                << "pending, running, completed, failed, cancelled, dead";
        QTest::newRow("dataset") << "/api/v1/jobs?dataset=a%20b"
                                 << "letters, digits";
        QTest::newRow("wait 61") << "/api/v1/jobs/1?wait=61"
                                 << "0 to 60";
        QTest::newRow("wait negative") << "/api/v1/jobs/1?wait=-1"
                                       << "0 to 60";
        QTest::newRow("wait text") << "/api/v1/jobs/1?wait=soon"
                                   << "0 to 60";
        QTest::newRow("format") << "/api/v1/datasets/people/records?format=xml"
                                << "ndjson, csv or json";
    }
    void badParameters()
    {
        QFETCH(QString, path);
        QFETCH(QString, mentions);
        JobsApiFixture api;
        api.enqueue(api.alice.id);
        const JobsReply reply = api.get(path, api.aliceToken);
        QCOMPARE(reply.status, 400);
        QCOMPARE(reply.json.value(u"code").toString(), QStringLiteral("invalid_parameter"));
        const QString message = reply.json.value(u"message").toString();
        QVERIFY2(message.contains(mentions), qPrintable(message));
    }

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

    void cancelAndRetry()
    {
        JobsApiFixture api;
        const qint64 id = api.enqueue(api.alice.id);
        const QString base = QStringLiteral("/api/v1/jobs/%1").arg(id);

        JobsReply retry = api.call("POST", base + QStringLiteral("/retry"), api.aliceToken);
        QCOMPARE(retry.status, 409);
        QCOMPARE(retry.json.value(u"code").toString(), QStringLiteral("job_not_retryable"));
        QVERIFY(retry.json.value(u"message").toString().contains(u"failed, dead or cancelled"));

        JobsReply cancel = api.call("POST", base + QStringLiteral("/cancel"), api.aliceToken);
        QCOMPARE(cancel.status, 200);
        QCOMPARE(cancel.json.value(u"job").toObject().value(u"status").toString(),
                 QStringLiteral("cancelled"));

        cancel = api.call("POST", base + QStringLiteral("/cancel"), api.aliceToken);
        QCOMPARE(cancel.status, 409);
        QCOMPARE(cancel.json.value(u"code").toString(), QStringLiteral("job_finished"));
        QVERIFY(cancel.json.value(u"message").toString().contains(u"/retry"));

        retry = api.call("POST", base + QStringLiteral("/retry"), api.aliceToken);
        QCOMPARE(retry.status, 200);
        const QJsonObject job = retry.json.value(u"job").toObject();
        QCOMPARE(job.value(u"status").toString(), QStringLiteral("pending"));
        QCOMPARE(job.value(u"attempts").toInt(), 0);
        QVERIFY(job.value(u"finishedAt").isNull());

        for (const char *action : {"cancel", "retry"}) {
            const JobsReply missing =
                api.call("POST", QStringLiteral("/api/v1/jobs/999/") + QLatin1String(action),
                         api.aliceToken);
            QCOMPARE(missing.status, 404);
            QCOMPARE(api.call("GET", base + u'/' + QLatin1String(action), api.aliceToken).status,
                     405);
        }

        // A completed job is not run again: its 409 does not point at /retry (which would answer
        // 409 too).
        const qint64 done = api.enqueue(api.alice.id);
        api.startDispatcher();
        QVERIFY(waitFor([&] {
            return (*api.t.store->job(done, std::nullopt))->status == JobStatus::Completed;
        }));
        const JobsReply finished =
            api.call("POST", QStringLiteral("/api/v1/jobs/%1/cancel").arg(done), api.aliceToken);
        QCOMPARE(finished.status, 409);
        QVERIFY2(!finished.json.value(u"message").toString().contains(u"retry"),
                 finished.body.constData());
        QCOMPARE(api.call("POST", QStringLiteral("/api/v1/jobs/%1/retry").arg(done), api.aliceToken)
                     .status,
                 409);
    }

    void cancelARunningJob()
    {
        JobsApiFixture api;
        NewJob sleep;
        sleep.userId = api.alice.id;
        sleep.type = QStringLiteral("sleep");
        sleep.payload.insert(QStringLiteral("ms"), 600'000);
        const qint64 id = api.queue->enqueue(sleep)->id;
        api.startDispatcher();
        QVERIFY(waitFor(
            [&] { return (*api.t.store->job(id, std::nullopt))->status == JobStatus::Running; }));
        const JobsReply cancel =
            api.call("POST", QStringLiteral("/api/v1/jobs/%1/cancel").arg(id), api.aliceToken);
        QCOMPARE(cancel.status, 200);
        QString status = cancel.json.value(u"job").toObject().value(u"status").toString();
        for (int i = 0; i < 20 && status == u"running"; ++i) {
            status = api.get(QStringLiteral("/api/v1/jobs/%1?wait=30").arg(id), api.aliceToken)
                         .json.value(u"job")
                         .toObject()
                         .value(u"status")
                         .toString();
        }
        QCOMPARE(status, QStringLiteral("cancelled"));
    }

    void report()
    {
        JobsApiFixture api;
        const SubmittedMigration import =
            api.migrate(api.alice.id, QStringLiteral("people"), peopleCsv(4, 3), peopleMapping());
        const JobsReply reply =
            api.get(QStringLiteral("/api/v1/jobs/%1/report").arg(import.jobId), api.aliceToken);
        QCOMPARE(reply.status, 200);
        QCOMPARE(reply.json.value(u"rowsRejected").toInteger(), 3);
        const QJsonArray errors = reply.json.value(u"errors").toArray();
        QCOMPARE(errors.size(), 3);
        QCOMPARE(errors.at(0).toObject().value(u"line").toInteger(), 6); // header, 4 rows, bad
        QCOMPARE(errors.at(0).toObject().value(u"field").toString(), QStringLiteral("id"));
        QVERIFY(!errors.at(0).toObject().value(u"reason").toString().isEmpty());

        const qint64 plain = api.enqueue(api.alice.id);
        const JobsReply none =
            api.get(QStringLiteral("/api/v1/jobs/%1/report").arg(plain), api.aliceToken);
        QCOMPARE(none.status, 200);
        QCOMPARE(none.json.value(u"errors").toArray().size(), 0);
        QCOMPARE(none.json.value(u"rowsRejected").toInteger(), 0);
        QCOMPARE(api.get(QStringLiteral("/api/v1/jobs/999/report"), api.aliceToken).status, 404);
    }

    void datasetList()
    {
        JobsApiFixture api;
        QCOMPARE(api.get(QStringLiteral("/api/v1/datasets"), api.aliceToken)
                     .json.value(u"datasets")
                     .toArray()
                     .size(),
                 0);
        api.migrate(api.alice.id, QStringLiteral("people"), peopleCsv(7), peopleMapping());
        api.migrate(api.alice.id, QStringLiteral("animals"), peopleCsv(2));
        const JobsReply reply = api.get(QStringLiteral("/api/v1/datasets"), api.aliceToken);
        QCOMPARE(reply.status, 200);
        const QJsonArray list = reply.json.value(u"datasets").toArray();
        QCOMPARE(list.size(), 2);
        const QJsonObject animals = list.at(0).toObject(); // by name
        const QJsonObject people = list.at(1).toObject();
        QCOMPARE(animals.value(u"name").toString(), QStringLiteral("animals"));
        QCOMPARE(people.value(u"name").toString(), QStringLiteral("people"));
        QCOMPARE(people.value(u"records").toInteger(), 7);
        QCOMPARE(people.value(u"columns").toArray(),
                 QJsonArray({QStringLiteral("id"), QStringLiteral("name")}));
        QVERIFY(people.value(u"createdAt").toInteger() > 0);
        QVERIFY(people.value(u"updatedAt").toInteger() >= people.value(u"createdAt").toInteger());
    }

    void exportRecords_data()
    {
        QTest::addColumn<int>("rows");
        QTest::newRow("small") << 3;
        QTest::newRow("50k records, streamed in pages") << 50'000;
    }
    void exportRecords()
    {
        QFETCH(int, rows);
        JobsApiFixture api;
        api.migrate(api.alice.id, QStringLiteral("people"), peopleCsv(rows), peopleMapping());

        const JobsReply ndjson =
            api.get(QStringLiteral("/api/v1/datasets/people/records"), api.aliceToken);
        QCOMPARE(ndjson.status, 200);
        QCOMPARE(ndjson.headers.value("content-type"),
                 QByteArray("application/x-ndjson; charset=utf-8"));
        QCOMPARE(ndjson.headers.value("content-disposition"),
                 QByteArray("attachment; filename=\"people.ndjson\""));
        QCOMPARE(ndjson.headers.value("transfer-encoding"), QByteArray("chunked"));
        const QList<QByteArray> docs = lines(ndjson.body, "\n");
        QCOMPARE(docs.size(), rows);
        QSet<qint64> seen;
        for (const QByteArray &line : docs) {
            const QJsonObject doc = QJsonDocument::fromJson(line).object();
            const qint64 id = doc.value(u"id").toInteger();
            QCOMPARE(doc.value(u"name").toString(), QStringLiteral("name %1").arg(id));
            seen.insert(id);
        }
        QCOMPARE(seen.size(), rows);
        QVERIFY(seen.contains(1) && seen.contains(rows));

        const JobsReply csv =
            api.get(QStringLiteral("/api/v1/datasets/people/records?format=csv"), api.aliceToken);
        QCOMPARE(csv.status, 200);
        QCOMPARE(csv.headers.value("content-type"), QByteArray("text/csv; charset=utf-8"));
        QCOMPARE(csv.headers.value("content-disposition"),
                 QByteArray("attachment; filename=\"people.csv\""));
        const QList<QByteArray> rowsOut = lines(csv.body, "\r\n");
        QCOMPARE(rowsOut.size(), rows + 1);
        QCOMPARE(rowsOut.first(), QByteArray("id,name"));
        QSet<qint64> csvSeen;
        for (qsizetype i = 1; i < rowsOut.size(); ++i) {
            const QList<QByteArray> cells = rowsOut.at(i).split(',');
            QCOMPARE(cells.size(), 2);
            QCOMPARE(cells.at(1), "name " + cells.at(0));
            csvSeen.insert(cells.at(0).toLongLong());
        }
        QCOMPARE(csvSeen.size(), rows);

        const JobsReply head =
            api.call("HEAD", QStringLiteral("/api/v1/datasets/people/records"), api.aliceToken);
        QCOMPARE(head.status, 200);
        QVERIFY(head.body.isEmpty());
        QCOMPARE(api.get(QStringLiteral("/api/v1/datasets/nothing/records"), api.aliceToken).status,
                 404);
        QCOMPARE(api.get(QStringLiteral("/api/v1/datasets/..%2Fx/records"), api.aliceToken).status,
                 404);
    }

    // User B walks every route the API registers, with user A's ids and names: every object of
    // A's is a 404, every list is B's own (empty). A route missing from the table fails the test,
    // so a new route cannot be forgotten.
    void isolation_data()
    {
        QTest::addColumn<QByteArray>("method");
        QTest::addColumn<QString>("path");
        QTest::addColumn<int>("expect");
        QTest::addColumn<QString>("listKey");
        const QHash<QByteArray, std::pair<Expect, QString>> table = {
            {"GET /api/v1/health", {Expect::Public, {}}},
            {"GET /metrics", {Expect::Public, {}}},
            {"GET /api/v1/openapi.json", {Expect::Public, {}}},
            {"GET /api/v1/jobs", {Expect::EmptyList, QStringLiteral("jobs")}},
            {"GET /api/v1/jobs/{id}", {Expect::NotFound, {}}},
            {"POST /api/v1/jobs/{id}/cancel", {Expect::NotFound, {}}},
            {"POST /api/v1/jobs/{id}/retry", {Expect::NotFound, {}}},
            {"GET /api/v1/jobs/{id}/report", {Expect::NotFound, {}}},
            {"GET /api/v1/sessions/{id}", {Expect::NotFound, {}}},
            {"GET /api/v1/datasets", {Expect::EmptyList, QStringLiteral("datasets")}},
            {"GET /api/v1/datasets/{name}/records", {Expect::NotFound, {}}},
            {"GET /api/v1/datasets/{name}", {Expect::NotFound, {}}},
            {"DELETE /api/v1/datasets/{name}", {Expect::DeleteNotFound, {}}},
            {"DELETE /api/v1/datasets/{name}/records", {Expect::DeleteNotFound, {}}},
            {"GET /api/v1/quota", {Expect::OwnQuota, {}}},
            {"POST /api/v1/uploads", {Expect::OwnUpload, {}}},
            {"OPTIONS /api/v1/tus", {Expect::Public, {}}},
            {"POST /api/v1/tus", {Expect::OwnTusUpload, {}}},
            {"HEAD /api/v1/tus/{id}", {Expect::TusNotFound, {}}},
            {"PATCH /api/v1/tus/{id}", {Expect::TusNotFound, {}}},
            {"DELETE /api/v1/tus/{id}", {Expect::TusNotFound, {}}},
            {"GET /api/v1/events", {Expect::OwnEvents, {}}},
            {"DELETE /api/v1/jobs/{id}", {Expect::NotFoundKept, {}}},
            {"DELETE /api/v1/sessions/{id}", {Expect::NotFoundKept, {}}},
            // Re-runs and dry runs (issue 15): A's stored upload is a 404 for B; a re-run as A
            // would queue a job, so it is not replayed.
            {"POST /api/v1/sessions/{id}/migrations", {Expect::NotFoundKept, {}}},
            {"POST /api/v1/sessions/{id}/dry-run", {Expect::NotFound, {}}},
            {"POST /api/v1/dry-run", {Expect::OwnDryRun, {}}},
        };
        // A's object for each kind of path parameter, by the path's collection.
        const QList<std::pair<QByteArray, QString>> arguments = {
            {"/api/v1/jobs/", QString::number(m_aliceImport.jobId)},
            {"/api/v1/sessions/", m_aliceImport.sessionId},
            {"/api/v1/datasets/", QStringLiteral("people")},
            {"/api/v1/tus/", m_aliceTusId},
        };
        // Rows that create objects of B's run last, so that B's lists are still empty before.
        QList<std::tuple<QByteArray, QByteArray, QString, int>> creating;
        int rows = 0;
        for (ApiRouteGroup *group : m_shared->groups()) {
            for (const ApiRoute &route : group->routes()) {
                const QByteArray key = route.method + ' ' + route.path;
                if (!table.contains(key)) {
                    QFAIL(qPrintable(QStringLiteral("Route %1 is not in the isolation table: add "
                                                    "what user B must see of user A's objects.")
                                         .arg(QString::fromUtf8(key))));
                }
                QString path = QString::fromUtf8(route.path);
                if (route.path.contains('{')) {
                    bool filled = false;
                    for (const auto &[prefix, value] : arguments) {
                        if (route.path.startsWith(prefix)) {
                            path.replace(QRegularExpression(QStringLiteral("\\{[^}]*\\}")), value);
                            filled = true;
                        }
                    }
                    if (!filled)
                        QFAIL(qPrintable(QStringLiteral("No object of user A for %1: add one.")
                                             .arg(QString::fromUtf8(key))));
                }
                const auto &[expect, listKey] = table.value(key);
                if (expect == Expect::OwnUpload || expect == Expect::OwnTusUpload)
                    creating.append({key, route.method, path, int(expect)});
                else
                    QTest::newRow(key.constData())
                        << route.method << path << int(expect) << listKey;
                ++rows;
            }
        }
        QCOMPARE(rows, int(table.size())); // and no stale table entries
        // Variants that reach A's objects through query parameters.
        QTest::newRow("long-poll of A's job")
            << QByteArray("GET")
            << QStringLiteral("/api/v1/jobs/%1?wait=5").arg(m_aliceImport.jobId)
            << int(Expect::NotFound) << QString();
        QTest::newRow("jobs of A's dataset")
            << QByteArray("GET") << QStringLiteral("/api/v1/jobs?dataset=people")
            << int(Expect::EmptyList) << QStringLiteral("jobs");
        QTest::newRow("A's records as CSV")
            << QByteArray("GET") << QStringLiteral("/api/v1/datasets/people/records?format=csv")
            << int(Expect::NotFound) << QString();
        QTest::newRow("A's records, a JSON page")
            << QByteArray("GET") << QStringLiteral("/api/v1/datasets/people/records?format=json")
            << int(Expect::NotFound) << QString();
        QTest::newRow("A's tus upload, PATCH at its offset")
            << QByteArray("PATCH") << QStringLiteral("/api/v1/tus/") + m_aliceTusId
            << int(Expect::TusNotFound) << QStringLiteral("offset 12");
        for (const auto &[key, method, path, expect] : creating)
            QTest::newRow(key.constData()) << method << path << expect << QString();
    }
    void isolation()
    {
        QFETCH(QByteArray, method);
        QFETCH(QString, path);
        QFETCH(int, expect);
        QFETCH(QString, listKey);
        if (Expect(expect) == Expect::Public)
            QSKIP("not user data: no token needed, nothing of a user's in it");
        JobsApiFixture &api = *m_shared;
        switch (Expect(expect)) {
        case Expect::TusNotFound:
            return tusIsolation(method, path, listKey == u"offset 12" ? "12" : "0");
        case Expect::OwnQuota:
            return quotaIsolation(path);
        case Expect::OwnUpload:
            return uploadIsolation(path);
        case Expect::OwnTusUpload:
            return tusCreationIsolation(path);
        case Expect::OwnDryRun:
            return dryRunIsolation(path);
        case Expect::DeleteNotFound:
            return deleteIsolation(method, path);
        case Expect::OwnEvents:
            return eventIsolation();
        default:
            break;
        }
        const JobsReply asBob = api.call(method, path, api.bobToken);
        if (Expect(expect) == Expect::NotFound || Expect(expect) == Expect::NotFoundKept) {
            QCOMPARE(asBob.status, 404);
            QCOMPARE(asBob.json.value(u"code").toString(), QStringLiteral("not_found"));
        } else {
            QCOMPARE(asBob.status, 200);
            QCOMPARE(asBob.json.value(listKey).toArray().size(), 0);
        }
        // Bob's request changed nothing of Alice's (a retry would have made her job pending).
        auto job = api.t.store->job(m_aliceImport.jobId, std::nullopt);
        QCOMPARE((*job)->status, JobStatus::Completed);
        QCOMPARE((*job)->attempts, 1);
        if (Expect(expect) == Expect::NotFoundKept) {
            QCOMPARE(api.get(QStringLiteral("/api/v1/sessions/") + m_aliceImport.sessionId,
                             api.aliceToken)
                         .status,
                     200);
            return; // A's own delete would delete it: tst_jobdelete covers that
        }
        // The same request as A reaches A's object: the ids are right, the 404 is isolation.
        const JobsReply asAlice = api.call(method, path, api.aliceToken);
        QVERIFY2(asAlice.status == 200 || asAlice.status == 409, asAlice.body.constData());
        if (Expect(expect) == Expect::EmptyList)
            QVERIFY(!asAlice.json.value(listKey).toArray().isEmpty());
    }

private:
    // B's delete of A's dataset (or its records): 404 as for a name B has none of, and A's
    // dataset keeps every record. Not replayed as A, which would delete it: A's GET of it shows
    // the 404 was isolation, not a missing dataset.
    void deleteIsolation(const QByteArray &method, const QString &path)
    {
        JobsApiFixture &api = *m_shared;
        const JobsReply asBob = api.call(method, path, api.bobToken);
        QCOMPARE(asBob.status, 404);
        QCOMPARE(asBob.json.value(u"code").toString(), QStringLiteral("not_found"));
        QCOMPARE(aliceRecordsIn(QStringLiteral("people")), s_aliceRecords);
        QCOMPARE(api.get(QStringLiteral("/api/v1/datasets/people"), api.aliceToken).status, 200);
    }

    // B's event stream, open while A's job is created and runs: it carries nothing of A's.
    void eventIsolation()
    {
        JobsApiFixture &api = *m_shared;
        EventClient alice(api.port, api.aliceToken);
        EventClient bob(api.port, api.bobToken);
        QVERIFY(alice.waitOpen());
        QVERIFY(bob.waitOpen());
        QCOMPARE(bob.status(), 200);
        const qint64 aliceJob = api.enqueue(api.alice.id);
        api.startDispatcher();
        QVERIFY(alice.waitForStatus(aliceJob, QStringLiteral("completed")));
        const qint64 bobJob = api.enqueue(api.bob.id);
        QVERIFY(bob.waitForStatus(bobJob, QStringLiteral("completed")));
        for (const Event &event : bob.events())
            QCOMPARE(event.job.value(u"id").toString().toLongLong(), bobJob);
        QVERIFY(alice.eventsOf(bobJob).isEmpty());
        // B's job stays out of the walk's lists (B's lists must be empty for the other rows).
        QCOMPARE(
            api.call("DELETE", QStringLiteral("/api/v1/jobs/%1").arg(bobJob), api.bobToken).status,
            200);
        QCOMPARE(api.call("DELETE", QStringLiteral("/api/v1/jobs/%1").arg(aliceJob), api.aliceToken)
                     .status,
                 200);
    }

    // B's tus request, with everything the protocol asks for, on A's upload: 404, and A's upload
    // is where it was (offset, length), still resumable.
    void tusIsolation(const QByteArray &method, const QString &path, const QByteArray &offset)
    {
        JobsApiFixture &api = *m_shared;
        QList<std::pair<QByteArray, QByteArray>> headers = {{"Tus-Resumable", s_tus}};
        QByteArray body;
        if (method == "PATCH") {
            headers.append(std::make_pair(QByteArray("Upload-Offset"), offset));
            headers.append(std::make_pair(QByteArray("Content-Type"),
                                          QByteArray("application/offset+octet-stream")));
            body = "2,b\n3,c\n"; // 8 bytes: would complete Alice's upload
        }
        const JobsReply asBob = api.send(method, path, api.bobToken, headers, body);
        QCOMPARE(asBob.status, 404);
        if (method != "HEAD") // a HEAD answer has no body
            QCOMPARE(asBob.json.value(u"code").toString(), QStringLiteral("not_found"));
        QCOMPARE(asBob.headers.value("tus-resumable"), s_tus);
        QVERIFY(!asBob.headers.contains("upload-offset"));
        QCOMPARE(aliceTusState(), std::make_pair(qint64(12), qint64(20)));
    }

    // B's quota is B's usage: Alice's upload is not in it.
    void quotaIsolation(const QString &path)
    {
        JobsApiFixture &api = *m_shared;
        const JobsReply asBob = api.get(path, api.bobToken);
        QCOMPARE(asBob.status, 200);
        const QJsonObject bobQuota = asBob.json.value(u"quota").toObject();
        const QuotaStatus bob = *api.quotas->status(api.bob);
        const QuotaStatus alice = *api.quotas->status(api.alice);
        QVERIFY(alice.uploadsUsed >= 1 && alice.bytesUsed > 0); // her upload counted
        QCOMPARE(bob.uploadsUsed, 0);
        QCOMPARE(bobQuota.value(u"uploads").toObject().value(u"used").toInteger(), 0);
        QCOMPARE(bobQuota.value(u"bytes").toObject().value(u"used").toInteger(), 0);
        QCOMPARE(bobQuota.value(u"tier").toString(), api.bob.tier);
        const JobsReply asAlice = api.get(path, api.aliceToken);
        QCOMPARE(asAlice.status, 200);
        const QJsonObject aliceQuota = asAlice.json.value(u"quota").toObject();
        QCOMPARE(aliceQuota.value(u"uploads").toObject().value(u"used").toInteger(),
                 alice.uploadsUsed);
        QCOMPARE(aliceQuota.value(u"bytes").toObject().value(u"used").toInteger(), alice.bytesUsed);
    }

    // B uploads into a dataset named like A's: B's own session, job and dataset; A's dataset
    // keeps its records and A sees nothing of B's upload.
    // B's dry run names A's dataset (keyed by "id") with another key: it reads B's dataset of
    // that name (none), so no key conflict; A's own dry run of the same is told hers is keyed.
    void dryRunIsolation(const QString &path)
    {
        JobsApiFixture &api = *m_shared;
        const QString query = path + QStringLiteral("?dataset=people&key=name");
        const QByteArray csv = "id,name\n100,b\n";
        const JobsReply asBob =
            api.send("POST", query, api.bobToken, {{"Content-Type", "text/csv"}}, csv);
        QCOMPARE(asBob.status, 200);
        QVERIFY2(asBob.json.value(u"problem").isNull(), asBob.body.constData());
        QCOMPARE(asBob.json.value(u"ok").toBool(), true);
        const JobsReply asAlice =
            api.send("POST", query, api.aliceToken, {{"Content-Type", "text/csv"}}, csv);
        QCOMPARE(asAlice.status, 200);
        QVERIFY2(asAlice.json.value(u"problem").toString().contains(u"keyed by \"id\""),
                 asAlice.body.constData());
        QCOMPARE(aliceRecordsIn(QStringLiteral("people")), s_aliceRecords);
    }

    void uploadIsolation(const QString &path)
    {
        JobsApiFixture &api = *m_shared;
        QCOMPARE(aliceRecordsIn(QStringLiteral("people")), s_aliceRecords);
        const QByteArray csv = "id,name\n100,bob's 100\n101,bob's 101\n";
        const JobsReply asBob = api.send("POST", path + QStringLiteral("?dataset=people"),
                                         api.bobToken, {{"Content-Type", "text/csv"}}, csv);
        QVERIFY2(asBob.status == 202, asBob.body.constData());
        const qint64 jobId = asBob.json.value(u"jobId").toString().toLongLong();
        const QString sessionId = asBob.json.value(u"sessionId").toString();
        auto job = api.t.store->job(jobId, std::nullopt);
        QVERIFY(job && job->has_value());
        QCOMPARE((*job)->userId, api.bob.id);
        QVERIFY(
            waitFor([&] { return isTerminal((*api.t.store->job(jobId, std::nullopt))->status); }));
        QCOMPARE((*api.t.store->job(jobId, std::nullopt))->status, JobStatus::Completed);
        // Bob's: his job, his session, his two records.
        QCOMPARE(api.get(QStringLiteral("/api/v1/jobs/%1").arg(jobId), api.bobToken).status, 200);
        QCOMPARE(api.get(QStringLiteral("/api/v1/sessions/") + sessionId, api.bobToken).status,
                 200);
        const JobsReply bobRecords =
            api.get(QStringLiteral("/api/v1/datasets/people/records"), api.bobToken);
        QCOMPARE(bobRecords.status, 200);
        QCOMPARE(bobRecords.body.count('\n'), 2);
        QVERIFY(bobRecords.body.contains("bob's 100"));
        // Alice's: untouched, and Bob's objects are not hers.
        QCOMPARE(aliceRecordsIn(QStringLiteral("people")), s_aliceRecords);
        const JobsReply aliceRecords =
            api.get(QStringLiteral("/api/v1/datasets/people/records"), api.aliceToken);
        QCOMPARE(aliceRecords.body.count('\n'), s_aliceRecords);
        QVERIFY(!aliceRecords.body.contains("bob's"));
        QCOMPARE(api.get(QStringLiteral("/api/v1/jobs/%1").arg(jobId), api.aliceToken).status, 404);
        QCOMPARE(api.get(QStringLiteral("/api/v1/sessions/") + sessionId, api.aliceToken).status,
                 404);
        QCOMPARE((*api.quotas->status(api.bob)).uploadsUsed, 1);
    }

    // B's tus creation is B's upload: A cannot see or delete it; A's own upload is unchanged.
    void tusCreationIsolation(const QString &path)
    {
        JobsApiFixture &api = *m_shared;
        const JobsReply asBob =
            api.send("POST", path, api.bobToken,
                     {{"Tus-Resumable", s_tus},
                      {"Upload-Length", "20"},
                      {"Upload-Metadata", "dataset " + QByteArray("people").toBase64()}},
                     {});
        QVERIFY2(asBob.status == 201, asBob.body.constData());
        const QString location = QString::fromLatin1(asBob.headers.value("location"));
        QVERIFY(location.startsWith(u"/api/v1/tus/"));
        QVERIFY(location != QStringLiteral("/api/v1/tus/") + m_aliceTusId);
        for (const QByteArray method : {"HEAD", "DELETE"}) {
            QCOMPARE(
                api.send(method, location, api.aliceToken, {{"Tus-Resumable", s_tus}}, {}).status,
                404);
        }
        QCOMPARE(api.send("HEAD", location, api.bobToken, {{"Tus-Resumable", s_tus}}, {}).status,
                 200);
        QCOMPARE(aliceTusState(), std::make_pair(qint64(12), qint64(20)));
    }
};

QTEST_GUILESS_MAIN(tst_JobsApi)
#include "tst_jobsapi.moc"
