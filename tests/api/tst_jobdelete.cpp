// DELETE /api/v1/jobs/{id} and /api/v1/sessions/{id} over real HTTP: finished jobs go, with their
// upload once nothing reads it; unfinished ones and migrations awaiting their undo stay (409);
// other users' are 404; idempotency keys still answer.
#include "jobsapitestsupport.h"

using namespace Ferry;
using namespace Ferry::Test;

namespace {

QByteArray csv()
{
    return "id,name\n1,a\n2,b\n";
}

} // namespace

class tst_JobDelete : public QObject
{
    Q_OBJECT

private:
    static JobsReply del(JobsApiFixture &api, const QString &path, const QByteArray &token)
    {
        return api.call("DELETE", path, token);
    }
    static QString jobPath(qint64 id) { return QStringLiteral("/api/v1/jobs/%1").arg(id); }
    static QString sessionPath(const QString &id)
    {
        return QStringLiteral("/api/v1/sessions/") + id;
    }

private Q_SLOTS:
    // A completed import: the job, its session and (nothing else reading it) its file go.
    void deletesAFinishedJobAndItsUpload()
    {
        JobsApiFixture api;
        const SubmittedMigration import =
            api.migrate(api.alice.id, QStringLiteral("people"), csv());
        const JobsReply reply = del(api, jobPath(import.jobId), api.aliceToken);
        QCOMPARE(reply.status, 200);
        QCOMPARE(reply.json.value(u"success"), QJsonValue(true));
        QCOMPARE(reply.json.value(u"jobId").toString(), QString::number(import.jobId));
        QCOMPARE(reply.json.value(u"sessionId").toString(), import.sessionId);
        QCOMPARE(reply.json.value(u"sessionDeleted"), QJsonValue(true));
        QCOMPARE(api.get(jobPath(import.jobId), api.aliceToken).status, 404);
        QCOMPARE(api.get(sessionPath(import.sessionId), api.aliceToken).status, 404);
        QVERIFY(!*api.t.store->blobReferenced(import.blob.id));
        // The dataset's records stay: deleting a job is not an undo.
        QCOMPARE(
            (*api.t.store->datasets().dataset(api.alice.id, QStringLiteral("people")))->records,
            qint64(2));
        // Again: it is gone.
        QCOMPARE(del(api, jobPath(import.jobId), api.aliceToken).status, 404);
    }

    // Pending and running jobs are refused with what to do; nothing changes.
    void unfinishedJobsAreRefused()
    {
        JobsApiFixture api;
        QVERIFY(api.queue->setPaused(true).ok());
        const qint64 pending = api.enqueue(api.alice.id);
        JobsReply reply = del(api, jobPath(pending), api.aliceToken);
        QCOMPARE(reply.status, 409);
        QCOMPARE(reply.json.value(u"code").toString(), QStringLiteral("job_not_finished"));
        QVERIFY(reply.json.value(u"message").toString().contains(u"/cancel"));
        QCOMPARE(api.get(jobPath(pending), api.aliceToken).status, 200);

        NewJob sleep;
        sleep.userId = api.alice.id;
        sleep.type = QStringLiteral("sleep");
        sleep.payload = {{QStringLiteral("ms"), 20'000}};
        const qint64 running = api.queue->enqueue(sleep)->id;
        QVERIFY(api.queue->cancel(pending).ok());
        QVERIFY(api.queue->setPaused(false).ok());
        api.startDispatcher();
        QVERIFY(waitFor([&] {
            return (*api.t.store->job(running, std::nullopt))->status == JobStatus::Running;
        }));
        reply = del(api, jobPath(running), api.aliceToken);
        QCOMPARE(reply.status, 409);
        QCOMPARE(reply.json.value(u"code").toString(), QStringLiteral("job_not_finished"));
        QVERIFY(reply.json.value(u"message").toString().contains(u"running"));
        // Cancelled first, it can go.
        QCOMPARE(
            api.call("POST", jobPath(running) + QStringLiteral("/cancel"), api.aliceToken).status,
            200);
        QVERIFY(waitFor([&] {
            return (*api.t.store->job(running, std::nullopt))->status == JobStatus::Cancelled;
        }));
        QCOMPARE(del(api, jobPath(running), api.aliceToken).status, 200);
        QCOMPARE(del(api, jobPath(pending), api.aliceToken).status, 200); // cancelled: finished
    }

    // Another user's job or session, an unknown id, a malformed one: 404, and nothing goes.
    void othersAndUnknownAre404()
    {
        JobsApiFixture api;
        const SubmittedMigration import =
            api.migrate(api.alice.id, QStringLiteral("people"), csv());
        for (const QString &path :
             {jobPath(import.jobId), sessionPath(import.sessionId), jobPath(999'999),
              QStringLiteral("/api/v1/jobs/x1"), sessionPath(QStringLiteral("nope"))}) {
            const JobsReply reply = del(api, path, api.bobToken);
            QCOMPARE(reply.status, 404);
            QCOMPARE(reply.json.value(u"code").toString(), QStringLiteral("not_found"));
        }
        QCOMPARE(api.get(jobPath(import.jobId), api.aliceToken).status, 200);
        QCOMPARE(api.get(sessionPath(import.sessionId), api.aliceToken).status, 200);
    }

    // A migration that ended without completing keeps its checkpoint until its undo ran: the
    // API says so (409 undo_pending), and the console's "Delete finished" keeps it too.
    void migrationAwaitingItsUndoStays()
    {
        JobsApiFixture api;
        const qint64 now = api.clock.nowMs();
        NewJob job;
        job.userId = api.alice.id;
        job.type = QStringLiteral("migrate");
        job.payload = {{QStringLiteral("dataset"), QStringLiteral("people")}};
        job.maxAttempts = 1;
        job.timeoutMs = 60'000;
        const qint64 id = api.t.store->enqueue({job}, now)->first().id;
        auto claimed = api.t.store->settleAndClaim({}, {QStringLiteral("node-a"), 1, now, 60'000});
        QVERIFY(claimed.ok() && claimed->size() == 1);
        const qint64 dataset =
            *api.t.store->datasets().ensureDataset(api.alice.id, QStringLiteral("people"), now);
        ImportBatch batch;
        batch.jobId = id;
        batch.leaseToken = claimed->first().leaseToken;
        batch.records.push_back({{}, std::string("{\"n\":1}")});
        batch.checkpoint.datasetId = dataset;
        batch.checkpoint.rowsRead = 1;
        batch.checkpoint.rowsImported = 1;
        QVERIFY(api.t.store->datasets().commitBatch(batch).ok());
        SettledAttempt failed;
        failed.jobId = id;
        failed.userId = api.alice.id;
        failed.leaseToken = claimed->first().leaseToken;
        failed.attempt = 1;
        failed.startedAt = now;
        failed.finishedAt = now;
        failed.newStatus = JobStatus::Failed;
        failed.outcome = QStringLiteral("failed");
        failed.error = QStringLiteral("broken");
        QVERIFY(
            api.t.store->settleAndClaim({failed}, {QStringLiteral("node-a"), 0, now, 60'000}).ok());

        const JobsReply reply = del(api, jobPath(id), api.aliceToken);
        QCOMPARE(reply.status, 409);
        QCOMPARE(reply.json.value(u"code").toString(), QStringLiteral("undo_pending"));
        QVERIFY(reply.headers.contains("retry-after"));
        ConsoleJobFilter filter;
        filter.ids = QList<qint64>{id};
        auto console =
            api.t.store->applyConsoleAction(filter, ConsoleBulkAction::DeleteFinished, 0, now);
        QVERIFY(console.ok());
        QCOMPARE(console->changed, 0);
        QVERIFY(api.t.store->datasets().checkpoint(id)->has_value());
        // Once the undo ran (its checkpoint gone), the job can go.
        auto undone = api.t.store->datasets().undoEndedMigrations();
        QVERIFY2(undone.ok(), undone.ok() ? "" : qPrintable(undone.error().toString()));
        QVERIFY(!api.t.store->datasets().checkpoint(id)->has_value());
        QCOMPARE(del(api, jobPath(id), api.aliceToken).status, 200);
    }

    // An upload read by two jobs (the import and a re-run) stays until the last one goes.
    void sharedUploadStaysUntilItsLastJob()
    {
        JobsApiFixture api;
        const SubmittedMigration import =
            api.migrate(api.alice.id, QStringLiteral("people"), csv());
        const JobsReply rerun = api.send(
            "POST", sessionPath(import.sessionId) + QStringLiteral("/migrations"), api.aliceToken,
            {{"Content-Type", "application/json"}}, "{\"dataset\": \"copy\"}");
        QCOMPARE(rerun.status, 202);
        const qint64 second = rerun.json.value(u"jobId").toString().toLongLong();
        QVERIFY(
            waitFor([&] { return isTerminal((*api.t.store->job(second, std::nullopt))->status); }));
        JobsReply reply = del(api, jobPath(import.jobId), api.aliceToken);
        QCOMPARE(reply.status, 200);
        QCOMPARE(reply.json.value(u"sessionDeleted"), QJsonValue(false));
        QCOMPARE(api.get(sessionPath(import.sessionId), api.aliceToken).status, 200);
        QVERIFY(*api.t.store->blobReferenced(import.blob.id));
        reply = del(api, jobPath(second), api.aliceToken);
        QCOMPARE(reply.status, 200);
        QCOMPARE(reply.json.value(u"sessionDeleted"), QJsonValue(true));
        QCOMPARE(api.get(sessionPath(import.sessionId), api.aliceToken).status, 404);
        QVERIFY(!*api.t.store->blobReferenced(import.blob.id));
    }

    // DELETE /sessions/{id}: all its jobs must be finished (409 naming the one in the way,
    // nothing deleted); then the jobs and the upload go together.
    void deletesASessionWithAllItsJobs()
    {
        JobsApiFixture api;
        const SubmittedMigration import =
            api.migrate(api.alice.id, QStringLiteral("people"), csv());
        QVERIFY(api.queue->setPaused(true).ok());
        const JobsReply rerun = api.send(
            "POST", sessionPath(import.sessionId) + QStringLiteral("/migrations"), api.aliceToken,
            {{"Content-Type", "application/json"}}, "{\"dataset\": \"copy\"}");
        QCOMPARE(rerun.status, 202);
        const QString waiting = rerun.json.value(u"jobId").toString();
        JobsReply reply = del(api, sessionPath(import.sessionId), api.aliceToken);
        QCOMPARE(reply.status, 409);
        QCOMPARE(reply.json.value(u"code").toString(), QStringLiteral("job_not_finished"));
        QCOMPARE(reply.json.value(u"jobId").toString(), waiting);
        QCOMPARE(api.get(jobPath(import.jobId), api.aliceToken).status, 200); // nothing went
        QVERIFY(api.queue->setPaused(false).ok());
        QVERIFY(waitFor([&] {
            return isTerminal((*api.t.store->job(waiting.toLongLong(), std::nullopt))->status);
        }));
        reply = del(api, sessionPath(import.sessionId), api.aliceToken);
        QCOMPARE(reply.status, 200);
        QCOMPARE(reply.json.value(u"jobsDeleted").toInt(), 2);
        QCOMPARE(api.get(jobPath(import.jobId), api.aliceToken).status, 404);
        QCOMPARE(api.get(jobPath(waiting.toLongLong()), api.aliceToken).status, 404);
        QCOMPARE(api.get(sessionPath(import.sessionId), api.aliceToken).status, 404);
        QVERIFY(!*api.t.store->blobReferenced(import.blob.id));
    }

    // An upload's Idempotency-Key still answers after its job was deleted: a retry of the lost
    // answer gets the first answer (naming the deleted job), not a second upload or a 500.
    void idempotencyKeyStillAnswers()
    {
        JobsApiFixture api;
        api.startDispatcher();
        const QList<std::pair<QByteArray, QByteArray>> headers = {
            {"Content-Type", "text/csv"}, {"Idempotency-Key", "delete-me-1"}};
        const QString path = QStringLiteral("/api/v1/uploads?dataset=people");
        const JobsReply first = api.send("POST", path, api.aliceToken, headers, csv());
        QCOMPARE(first.status, 202);
        const qint64 id = first.json.value(u"jobId").toString().toLongLong();
        QVERIFY(waitFor([&] { return isTerminal((*api.t.store->job(id, std::nullopt))->status); }));
        QCOMPARE(del(api, jobPath(id), api.aliceToken).status, 200);
        const JobsReply replay = api.send("POST", path, api.aliceToken, headers, csv());
        QCOMPARE(replay.status, 202);
        QCOMPARE(replay.headers.value("idempotent-replayed"), QByteArray("true"));
        QCOMPARE(replay.json.value(u"jobId").toString(), QString::number(id));
    }

    // Found by attacking the API: on SQLite, deleting the newest job let the next job take its
    // id (a rowid is max + 1), so an Idempotency-Key replay, a saved Location or an event stream
    // (which tells new jobs by id) took the new job for the deleted one.
    void deletedJobIdsAreNotGivenAgain()
    {
        JobsApiFixture api;
        const SubmittedMigration import =
            api.migrate(api.alice.id, QStringLiteral("people"), csv());
        QCOMPARE(del(api, jobPath(import.jobId), api.aliceToken).status, 200);
        const qint64 next = api.enqueue(api.bob.id);
        QVERIFY2(
            next > import.jobId,
            qPrintable(QStringLiteral("job %1 after deleted job %2").arg(next).arg(import.jobId)));
    }
};

QTEST_GUILESS_MAIN(tst_JobDelete)
#include "tst_jobdelete.moc"
