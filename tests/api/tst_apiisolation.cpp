// Isolation between users, walked over every route the API registers: user B with user A's ids
// and names gets a 404 for each of A's objects and B's own (empty) lists, and A's objects stay as
// they were. A route missing from the walk's table fails the test.
#include "eventclient.h"
#include "jobsapicases.h"

using namespace Ferry;
using namespace Ferry::Test;

namespace {

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

class tst_ApiIsolation : public QObject
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

QTEST_GUILESS_MAIN(tst_ApiIsolation)
#include "tst_apiisolation.moc"
