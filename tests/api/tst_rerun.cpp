// Issue 15, items 4 and "dry run": a migration that failed is fixed by re-running its stored
// upload with new options (POST /api/v1/sessions/{id}/migrations), without uploading again or
// being charged again; a dry run (POST /api/v1/sessions/{id}/dry-run, POST /api/v1/dry-run)
// shows what an import would make of the first rows, every error of each row, and writes
// nothing; the rejected-rows report lists every error of a row.
#include "gzip.h"
#include "jobsapitestsupport.h"

#include <QNetworkReply>
#include <QUrlQuery>

#include <memory>

using namespace Ferry;
using namespace Ferry::Test;

namespace {

const QByteArray s_people = "id,name,score,active\n"
                            "1,Ada,90,true\n"
                            "2,Grace,high,maybe\n"
                            "3,Alan,75,false\n";

QByteArray json(const QJsonObject &object)
{
    return QJsonDocument(object).toJson(QJsonDocument::Compact);
}

QJsonObject typedMapping(const QString &scoreSource = QStringLiteral("score"))
{
    return {{QStringLiteral("fields"),
             QJsonArray{
                 QJsonObject{{QStringLiteral("name"), QStringLiteral("id")},
                             {QStringLiteral("type"), QStringLiteral("integer")}},
                 QJsonObject{{QStringLiteral("name"), QStringLiteral("name")}},
                 QJsonObject{{QStringLiteral("name"), QStringLiteral("score")},
                             {QStringLiteral("source"), scoreSource},
                             {QStringLiteral("type"), QStringLiteral("integer")}},
                 QJsonObject{{QStringLiteral("name"), QStringLiteral("active")},
                             {QStringLiteral("type"), QStringLiteral("boolean")}},
             }},
            {QStringLiteral("key"), QStringLiteral("id")}};
}

const QList<std::pair<QByteArray, QByteArray>> s_json{{"Content-Type", "application/json"}};

} // namespace

class tst_Rerun : public QObject
{
    Q_OBJECT

    // Uploads the CSV over HTTP with the query; returns the 202's JSON.
    QJsonObject upload(JobsApiFixture &api, const QString &query, const QByteArray &csv = s_people)
    {
        const JobsReply reply = api.send("POST", QStringLiteral("/api/v1/uploads?") + query,
                                         api.aliceToken, {{"Content-Type", "text/csv"}}, csv);
        if (reply.status != 202)
            qFatal("upload refused: %s", reply.body.constData());
        return reply.json;
    }

    QJsonObject waitForEnd(JobsApiFixture &api, const QString &jobId)
    {
        api.startDispatcher();
        QJsonObject job;
        if (!waitFor([&] {
                job = api.get(QStringLiteral("/api/v1/jobs/") + jobId, api.aliceToken)
                          .json.value(u"job")
                          .toObject();
                const QString status = job.value(u"status").toString();
                return status == u"completed" || status == u"failed" || status == u"dead";
            }))
            qFatal("job %s did not end", qPrintable(jobId));
        return job;
    }

    QJsonObject quotaUsed(JobsApiFixture &api)
    {
        return api.get(QStringLiteral("/api/v1/quota"), api.aliceToken)
            .json.value(u"quota")
            .toObject();
    }

    qint64 jobCount(JobsApiFixture &api)
    {
        JobFilter filter;
        filter.userId = api.alice.id;
        return api.t.store->jobs(filter)->size();
    }

    QString mappingQuery(const QJsonObject &mapping)
    {
        QUrlQuery query;
        query.addQueryItem(QStringLiteral("mapping"),
                           QString::fromUtf8(json(mapping)).replace(u'+', QStringLiteral("%2B")));
        return query.toString(QUrl::FullyEncoded);
    }

private Q_SLOTS:
    // The issue's case: a mapping that names a column the file lacks fails the job for good,
    // and a retry fails the same way. A re-run with the mapping fixed imports the stored file;
    // the quota counts one upload and its bytes once.
    void failedMigrationFixedByRerun()
    {
        JobsApiFixture api;
        const QJsonObject accepted =
            upload(api, QStringLiteral("dataset=people&") +
                            mappingQuery(typedMapping(QStringLiteral("points"))));
        const QString sessionId = accepted.value(u"sessionId").toString();
        const QString firstJob = accepted.value(u"jobId").toString();
        const QJsonObject failed = waitForEnd(api, firstJob);
        QCOMPARE(failed.value(u"status").toString(), QStringLiteral("failed"));
        QVERIFY(failed.value(u"error").toString().contains(u"points"));
        const QJsonObject before = quotaUsed(api);

        QJsonObject options{{QStringLiteral("mapping"), typedMapping()}};
        const JobsReply rerun =
            api.send("POST", QStringLiteral("/api/v1/sessions/%1/migrations").arg(sessionId),
                     api.aliceToken, s_json, json(options));
        QCOMPARE(rerun.status, 202);
        QCOMPARE(rerun.json.value(u"sessionId").toString(), sessionId);
        QCOMPARE(rerun.json.value(u"rerunOf").toString(), firstJob);
        const QString secondJob = rerun.json.value(u"jobId").toString();
        QVERIFY(secondJob != firstJob);
        QCOMPARE(rerun.headers.value("location"), "/api/v1/jobs/" + secondJob.toUtf8());

        const QJsonObject done = waitForEnd(api, secondJob);
        QCOMPARE(done.value(u"status").toString(), QStringLiteral("completed"));
        QCOMPARE(done.value(u"sessionId").toString(), sessionId);
        const QJsonObject result = done.value(u"result").toObject();
        QCOMPARE(result.value(u"rowsImported").toInteger(), 2); // Grace's row is rejected
        QCOMPARE(result.value(u"rowsRejected").toInteger(), 1);

        // The report of the re-run lists both of Grace's errors (score and active), line 3.
        const JobsReply report =
            api.get(QStringLiteral("/api/v1/jobs/%1/report").arg(secondJob), api.aliceToken);
        const QJsonArray errors = report.json.value(u"errors").toArray();
        QCOMPARE(errors.size(), 2);
        QCOMPARE(errors.at(0).toObject().value(u"line").toInteger(), 3);
        QCOMPARE(errors.at(1).toObject().value(u"line").toInteger(), 3);
        QCOMPARE(errors.at(0).toObject().value(u"field").toString(), QStringLiteral("score"));
        QCOMPARE(errors.at(1).toObject().value(u"field").toString(), QStringLiteral("active"));

        // Not charged again: the same uploads and bytes as after the first upload.
        QCOMPARE(quotaUsed(api), before);
        QCOMPARE(before.value(u"uploads").toObject().value(u"used").toInteger(), 1);
    }

    // Leaving options out keeps the last migration's; "mapping": null drops its mapping, and
    // the re-run can go into another dataset.
    void rerunOverridesMemberByMember()
    {
        JobsApiFixture api;
        const QJsonObject accepted = upload(api, QStringLiteral("dataset=people&key=id"));
        const QString sessionId = accepted.value(u"sessionId").toString();
        waitForEnd(api, accepted.value(u"jobId").toString());

        const JobsReply rerun =
            api.send("POST", QStringLiteral("/api/v1/sessions/%1/migrations").arg(sessionId),
                     api.aliceToken, s_json,
                     json({{QStringLiteral("dataset"), QStringLiteral("copy")},
                           {QStringLiteral("key"), QJsonValue::Null},
                           {QStringLiteral("mapping"), QJsonValue::Null}}));
        QCOMPARE(rerun.status, 202);
        const QJsonObject done = waitForEnd(api, rerun.json.value(u"jobId").toString());
        QCOMPARE(done.value(u"status").toString(), QStringLiteral("completed"));
        auto copy = api.t.store->datasets().dataset(api.alice.id, QStringLiteral("copy"));
        QVERIFY(copy && copy->has_value());
        QCOMPARE((*copy)->records, 3);
        QVERIFY((*copy)->key.isEmpty());
        // The job's payload kept the upload's format and took the new dataset.
        auto job = api.t.store->job(done.value(u"id").toString().toLongLong(), api.alice.id);
        QCOMPARE((*job)->payload.value(u"format").toString(), QStringLiteral("csv"));
        QCOMPARE((*job)->payload.value(u"dataset").toString(), QStringLiteral("copy"));
        QVERIFY(!(*job)->payload.contains(u"key"));

        // No body at all: the last migration's options again (the copy dataset, unkeyed), so
        // the copy gains the file's rows a second time and people is left alone.
        const JobsReply again =
            api.send("POST", QStringLiteral("/api/v1/sessions/%1/migrations").arg(sessionId),
                     api.aliceToken, {}, QByteArray());
        QCOMPARE(again.status, 202);
        QCOMPARE(again.json.value(u"rerunOf").toString(), done.value(u"id").toString());
        waitForEnd(api, again.json.value(u"jobId").toString());
        copy = api.t.store->datasets().dataset(api.alice.id, QStringLiteral("copy"));
        QCOMPARE((*copy)->records, 6);
        auto people = api.t.store->datasets().dataset(api.alice.id, QStringLiteral("people"));
        QCOMPARE((*people)->records, 3);
    }

    // While a job imports the upload, a re-run is refused and names it.
    void rerunRefusedWhileImporting()
    {
        JobsApiFixture api; // no dispatcher: the upload's job stays pending
        const QJsonObject accepted = upload(api, QStringLiteral("dataset=people"));
        const JobsReply rerun = api.send("POST",
                                         QStringLiteral("/api/v1/sessions/%1/migrations")
                                             .arg(accepted.value(u"sessionId").toString()),
                                         api.aliceToken, s_json, "{}");
        QCOMPARE(rerun.status, 409);
        QCOMPARE(rerun.json.value(u"code").toString(), QStringLiteral("migration_in_progress"));
        QCOMPARE(rerun.json.value(u"jobId").toString(), accepted.value(u"jobId").toString());
        QCOMPARE(jobCount(api), 1);
    }

    void rerunOptionsChecked()
    {
        JobsApiFixture api;
        const QJsonObject accepted = upload(api, QStringLiteral("dataset=people"));
        const QString sessionId = accepted.value(u"sessionId").toString();
        waitForEnd(api, accepted.value(u"jobId").toString());
        const QString path = QStringLiteral("/api/v1/sessions/%1/migrations").arg(sessionId);
        auto post = [&](const QByteArray &body, const QByteArray &type = "application/json",
                        const QByteArray &token = {}) {
            return api.send("POST", path, token.isEmpty() ? api.aliceToken : token,
                            {{"Content-Type", type}}, body);
        };
        JobsReply reply = post(R"({"mappping": {}})");
        QCOMPARE(reply.status, 400);
        QCOMPARE(reply.json.value(u"code").toString(), QStringLiteral("unknown_parameter"));
        QVERIFY(reply.json.value(u"allowed").toArray().contains(QStringLiteral("mapping")));
        reply = post(R"({"mapping": "id,name"})");
        QCOMPARE(reply.status, 400);
        QCOMPARE(reply.json.value(u"code").toString(), QStringLiteral("invalid_mapping"));
        reply = post(R"({"delimiter": ";;"})");
        QCOMPARE(reply.status, 400);
        QCOMPARE(reply.json.value(u"code").toString(), QStringLiteral("invalid_delimiter"));
        reply = post(R"({"priority": 1000})");
        QCOMPARE(reply.status, 400);
        QCOMPARE(reply.json.value(u"code").toString(), QStringLiteral("invalid_priority"));
        reply = post("mapping=1");
        QCOMPARE(reply.status, 400);
        QCOMPARE(reply.json.value(u"code").toString(), QStringLiteral("invalid_body"));
        reply = post("{}", "text/plain");
        QCOMPARE(reply.status, 415);
        // A huge body is refused before it is read.
        reply = post(QByteArray(300 * 1024, ' '));
        QCOMPARE(reply.status, 413);
        // Another user's session, and ids that are no session, are 404s; nothing was queued.
        reply = post("{}", "application/json", api.bobToken);
        QCOMPARE(reply.status, 404);
        reply = api.send("POST", QStringLiteral("/api/v1/sessions/nope/migrations"), api.aliceToken,
                         s_json, "{}");
        QCOMPARE(reply.status, 404);
        QCOMPARE(jobCount(api), 1);
    }

    // A dry run of a stored upload: the converted records, every error of each rejected row,
    // and nothing written, queued or charged.
    void dryRunOfStoredUpload()
    {
        JobsApiFixture api;
        const QJsonObject accepted = upload(api, QStringLiteral("dataset=people&key=id"));
        const QString sessionId = accepted.value(u"sessionId").toString();
        waitForEnd(api, accepted.value(u"jobId").toString());
        const QJsonObject quotaBefore = quotaUsed(api);
        const qint64 jobsBefore = jobCount(api);

        const JobsReply dry = api.send(
            "POST", QStringLiteral("/api/v1/sessions/%1/dry-run").arg(sessionId), api.aliceToken,
            s_json,
            json({{QStringLiteral("mapping"), typedMapping()}, {QStringLiteral("rows"), 2}}));
        QCOMPARE(dry.status, 200);
        QCOMPARE(dry.json.value(u"ok").toBool(), false);
        QCOMPARE(dry.json.value(u"format").toString(), QStringLiteral("csv"));
        QCOMPARE(dry.json.value(u"key").toString(), QStringLiteral("id"));
        QCOMPARE(dry.json.value(u"rowsChecked").toInteger(), 2);
        QCOMPARE(dry.json.value(u"rowsValid").toInteger(), 1);
        QCOMPARE(dry.json.value(u"rowsRejected").toInteger(), 1);
        QCOMPARE(dry.json.value(u"moreRows").toBool(), true);
        QVERIFY(dry.json.value(u"problem").isNull());
        const QJsonArray rows = dry.json.value(u"rows").toArray();
        QCOMPARE(rows.size(), 2);
        const QJsonObject ada = rows.at(0).toObject();
        QCOMPARE(ada.value(u"line").toInteger(), 2);
        QCOMPARE(ada.value(u"record").toObject(),
                 (QJsonObject{{QStringLiteral("id"), 1},
                              {QStringLiteral("name"), QStringLiteral("Ada")},
                              {QStringLiteral("score"), 90},
                              {QStringLiteral("active"), true}}));
        const QJsonArray errors = rows.at(1).toObject().value(u"errors").toArray();
        QCOMPARE(errors.size(), 2);
        QCOMPARE(errors.at(0).toObject().value(u"field").toString(), QStringLiteral("score"));
        QVERIFY(errors.at(0).toObject().value(u"reason").toString().contains(u"high"));
        QCOMPARE(errors.at(1).toObject().value(u"field").toString(), QStringLiteral("active"));

        // Nothing written: the dataset still holds the three string records of the upload.
        auto people = api.t.store->datasets().dataset(api.alice.id, QStringLiteral("people"));
        QCOMPARE((*people)->records, 3);
        QCOMPARE(jobCount(api), jobsBefore);
        QCOMPARE(quotaUsed(api), quotaBefore);

        // A key other than the dataset's is named as the problem, before anything runs.
        const JobsReply otherKey =
            api.send("POST", QStringLiteral("/api/v1/sessions/%1/dry-run").arg(sessionId),
                     api.aliceToken, s_json, R"({"key": "name"})");
        QCOMPARE(otherKey.status, 200);
        QCOMPARE(otherKey.json.value(u"ok").toBool(), false);
        QVERIFY2(otherKey.json.value(u"problem").toString().contains(u"keyed by \"id\""),
                 otherKey.body.constData());

        // A mapping naming a column the file lacks is the problem, with the file's columns.
        const JobsReply missing = api.send(
            "POST", QStringLiteral("/api/v1/sessions/%1/dry-run").arg(sessionId), api.aliceToken,
            s_json, json({{QStringLiteral("mapping"), typedMapping(QStringLiteral("points"))}}));
        QCOMPARE(missing.status, 200);
        QVERIFY(missing.json.value(u"problem").toString().contains(u"points"));
        QCOMPARE(missing.json.value(u"rows").toArray().size(), 0);

        // Another user cannot dry-run Alice's upload.
        QCOMPARE(api.send("POST", QStringLiteral("/api/v1/sessions/%1/dry-run").arg(sessionId),
                          api.bobToken, s_json, "{}")
                     .status,
                 404);
    }

    // A dry run of a small body sent with the request: the upload's parameters in the query,
    // nothing stored. Its bounds: rows 1-1000, a body of at most 1 MiB, not empty.
    void dryRunOfBody()
    {
        JobsApiFixture api;
        const QJsonObject quotaBefore = quotaUsed(api);
        QByteArray csv = "id;name\n";
        for (int i = 1; i <= 30; ++i)
            csv += QByteArray::number(i) + ";n" + QByteArray::number(i) + '\n';
        csv += "31\n"; // ragged: one field of two
        const JobsReply dry =
            api.send("POST", QStringLiteral("/api/v1/dry-run?delimiter=%3B&rows=1000"),
                     api.aliceToken, {{"Content-Type", "text/csv"}}, csv);
        QCOMPARE(dry.status, 200);
        QCOMPARE(dry.json.value(u"columns").toArray(),
                 (QJsonArray{QStringLiteral("id"), QStringLiteral("name")}));
        QCOMPARE(dry.json.value(u"rowsChecked").toInteger(), 31);
        QCOMPARE(dry.json.value(u"rowsValid").toInteger(), 30);
        QCOMPARE(dry.json.value(u"moreRows").toBool(), false);
        QVERIFY(dry.json.value(u"dataset").isNull());
        const QJsonObject ragged = dry.json.value(u"rows").toArray().last().toObject();
        QCOMPARE(ragged.value(u"line").toInteger(), 32);
        QVERIFY(
            ragged.value(u"errors").toArray().at(0).toObject().value(u"reason").toString().contains(
                u"expected 2 fields"));

        const JobsReply few =
            api.send("POST", QStringLiteral("/api/v1/dry-run?delimiter=%3B&rows=5"), api.aliceToken,
                     {{"Content-Type", "text/csv"}}, csv);
        QCOMPARE(few.json.value(u"rowsChecked").toInteger(), 5);
        QCOMPARE(few.json.value(u"moreRows").toBool(), true);

        for (const char *rows : {"0", "-1", "1001", "x"}) {
            const JobsReply bad =
                api.send("POST", QStringLiteral("/api/v1/dry-run?rows=%1").arg(QLatin1String(rows)),
                         api.aliceToken, {{"Content-Type", "text/csv"}}, csv);
            QCOMPARE(bad.status, 400);
            QCOMPARE(bad.json.value(u"code").toString(), QStringLiteral("invalid_rows"));
        }
        QCOMPARE(api.send("POST", QStringLiteral("/api/v1/dry-run?priority=5"), api.aliceToken,
                          {{"Content-Type", "text/csv"}}, csv)
                     .json.value(u"code")
                     .toString(),
                 QStringLiteral("unknown_parameter"));
        QCOMPARE(api.send("POST", QStringLiteral("/api/v1/dry-run"), api.aliceToken,
                          {{"Content-Type", "text/csv"}}, QByteArray(""))
                     .status,
                 400);
        QCOMPARE(api.send("POST", QStringLiteral("/api/v1/dry-run"), api.aliceToken,
                          {{"Content-Type", "text/csv"}}, QByteArray(2 << 20, 'a'))
                     .status,
                 413);
        QCOMPARE(api.send("POST", QStringLiteral("/api/v1/dry-run"), api.aliceToken,
                          {{"Content-Type", "text/plain"}}, csv)
                     .status,
                 415);

        // Nothing stored: no job, no session, no quota used.
        QCOMPARE(jobCount(api), 0);
        QCOMPARE(quotaUsed(api), quotaBefore);
    }

    // Found by attacking the API: a re-run racing DELETE /api/v1/sessions/{id} read the session,
    // then enqueued its job after the session was deleted; the store refused the job (the session
    // it names is gone) and the client got a 503 "the database does not answer". The re-run says
    // the session is gone instead (404), as it would have a moment later.
    void rerunOfASessionDeletedMeanwhileIsNotFound()
    {
        JobsApiFixture api;
        const QJsonObject accepted = upload(api, QStringLiteral("dataset=people"));
        const QString sessionId = accepted.value(u"sessionId").toString();
        waitForEnd(api, accepted.value(u"jobId").toString());
        auto found = api.reruns->find(sessionId, api.alice.id);
        QVERIFY(found && found->has_value());
        QCOMPARE(api.call("DELETE", QStringLiteral("/api/v1/sessions/") + sessionId, api.aliceToken)
                     .status,
                 200);
        QJsonObject payload = (*found)->lastPayload;
        payload.insert(QStringLiteral("format"), QStringLiteral("csv")); // no read of the file
        auto queued = api.reruns->rerun(**found, payload, 0);
        QVERIFY(!queued);
        QCOMPARE(queued.error().code, ErrorCode::NotFound);
        QVERIFY2(queued.error().message.contains(sessionId), qPrintable(queued.error().message));
        QCOMPARE(jobCount(api), 0);
    }

    // Found by attacking the API: 12 slow dry runs of one user (1 MiB gzip bodies that
    // decompress to spaces) held all 8 of the API's workers, and another user's GET /api/v1/jobs
    // waited for them. Dry runs run on a pool of their own; a user's beyond 2 at once get a 429.
    void dryRunsLeaveTheWorkersFree()
    {
        JobsApiFixture api;
        // 400 MiB of spaces, about a thousandth of that compressed: a JSON dry run reads all of
        // it looking for the array, a second or more of work for a body under 1 MiB.
        const QByteArray bomb = gzipRepeated(QByteArray(1 << 20, ' '), 400, GzipSmallest);
        QVERIFY(bomb.size() < (1 << 20));
        // Several managers: one opens at most 6 connections to a host.
        std::vector<std::unique_ptr<QNetworkAccessManager>> managers;
        QList<QNetworkReply *> dryRuns;
        for (int i = 0; i < 12; ++i) {
            if (i % 6 == 0)
                managers.push_back(std::make_unique<QNetworkAccessManager>());
            QNetworkRequest request(
                QUrl(QStringLiteral("http://127.0.0.1:%1/api/v1/dry-run").arg(api.port)));
            request.setRawHeader("Authorization", "Bearer " + api.aliceToken);
            request.setRawHeader("Content-Type", "application/json");
            request.setRawHeader("Content-Encoding", "gzip");
            dryRuns.append(managers.back()->post(request, bomb));
        }
        // Alice's beyond her two are refused at once, in the API's error shape.
        QVERIFY(waitFor([&] {
            return std::count_if(dryRuns.begin(), dryRuns.end(),
                                 [](QNetworkReply *r) { return r->isFinished(); }) >= 10;
        }));
        int refused = 0;
        for (QNetworkReply *reply : std::as_const(dryRuns)) {
            if (!reply->isFinished())
                continue;
            ++refused;
            QCOMPARE(reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt(), 429);
            QVERIFY(reply->hasRawHeader("Retry-After"));
            const QJsonObject body = QJsonDocument::fromJson(reply->readAll()).object();
            QCOMPARE(body.value(u"success").toBool(true), false);
            QCOMPARE(body.value(u"code").toString(), QStringLiteral("too_many_dry_runs"));
        }
        QCOMPARE(refused, 10);
        // Bob's request is answered while alice's two dry runs still read their bodies.
        const JobsReply bobs = api.get(QStringLiteral("/api/v1/jobs"), api.bobToken);
        QCOMPARE(bobs.status, 200);
        QVERIFY(std::any_of(dryRuns.begin(), dryRuns.end(),
                            [](QNetworkReply *r) { return !r->isFinished(); }));
        QVERIFY(waitFor(
            [&] {
                return std::all_of(dryRuns.begin(), dryRuns.end(),
                                   [](QNetworkReply *r) { return r->isFinished(); });
            },
            60'000));
        for (QNetworkReply *reply : std::as_const(dryRuns)) {
            const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
            QVERIFY(status == 200 || status == 429);
            reply->deleteLater();
        }
    }
};

QTEST_GUILESS_MAIN(tst_Rerun)
#include "tst_rerun.moc"
