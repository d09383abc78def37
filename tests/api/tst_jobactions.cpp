// POST /api/v1/jobs/{id}/cancel and /retry over real HTTP: what each does to a job in each state,
// a running job included.
#include "jobsapicases.h"

using namespace Ferry;
using namespace Ferry::Test;

class tst_JobActions : public QObject
{
    Q_OBJECT

private Q_SLOTS:
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
};

QTEST_GUILESS_MAIN(tst_JobActions)
#include "tst_jobactions.moc"
