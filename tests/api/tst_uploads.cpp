// POST /api/v1/uploads end to end, by body format: raw CSV, NDJSON, a multipart form with fields
// around the file, gzip, and a chunked body. The fixture is uploadsfixture.h.
#include "uploadsfixture.h"

using namespace Ferry;
using namespace Ferry::Test;

class tst_Uploads : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void rawCsvIsImported();
    void rawUploadNamesItsFileInContentDisposition();
    void ndjsonIsImported();
    void multipartWithFieldsBeforeAndAfterTheFile();
    void gzipBodiesAreImported();
    void chunkedBodyIsSettledAtItsSize();
};

void tst_Uploads::rawCsvIsImported()
{
    UploadsFixture f;
    const Reply reply = f.post(peopleTarget() + "&priority=7", "text/csv", s_csv);
    QVERIFY2(reply.status == 202, reply.body.constData());
    QCOMPARE(reply.json.value(u"success"), QJsonValue(true));
    QCOMPARE(reply.json.value(u"status").toString(), QStringLiteral("pending"));
    const QString sessionId = reply.json.value(u"sessionId").toString();
    QVERIFY(!sessionId.isEmpty());
    const QByteArray jobId = reply.json.value(u"jobId").toString().toUtf8();
    QCOMPARE(reply.headers.value("location"), "/api/v1/jobs/" + jobId);
    QCOMPARE(reply.json.value(u"priority").toInt(), 7); // the priority the job got
    QCOMPARE(reply.json.keys().size(), 5);

    const qint64 id = f.completedJob(reply);
    QVERIFY(id > 0);
    const Job job = f.job(id);
    QCOMPARE(job.type, QStringLiteral("migrate"));
    QCOMPARE(job.priority, 7);
    QCOMPARE(job.sessionId, sessionId);
    QCOMPARE(job.userId, f.alice);
    QCOMPARE(f.records(f.alice, QStringLiteral("people")), expectedPeople());
    // The job is the caller's, over HTTP too.
    const Reply status = f.get(reply.headers.value("location"));
    QCOMPARE(status.status, 200);
    QCOMPARE(status.json[u"job"][u"status"].toString(), QStringLiteral("completed"));
    QCOMPARE(status.json[u"job"][u"result"][u"rowsImported"].toInt(), 3);
    QCOMPARE(f.get(reply.headers.value("location"), f.bob).status, 404);
    // Counted once, at its size.
    QCOMPARE(f.quota.usage(f.alice).uploads, 1);
    QCOMPARE(f.quota.usage(f.alice).bytes, qint64(s_csv.size()));
    QCOMPARE(f.quota.usage(f.alice).heldUploads, 0);
    QCOMPARE(f.quota.lastReserved(), qint64(s_csv.size()));
    auto session = f.t.store->session(sessionId, f.alice);
    QVERIFY(session.ok() && session->has_value());
    QCOMPARE((*session)->sizeBytes, qint64(s_csv.size()));
    QCOMPARE((*session)->contentType, QStringLiteral("text/csv"));
}

// A raw body has no form part to carry a file name; Content-Disposition (RFC 6266) names it, as
// curl -H 'Content-Disposition: attachment; filename="people.csv"' sends it. Only the name is
// kept: a client's directory part is dropped, and the name is never a path on the server.
void tst_Uploads::rawUploadNamesItsFileInContentDisposition()
{
    UploadsFixture f;
    const auto sessionFileName = [&f](const Reply &reply) {
        auto session = f.t.store->session(reply.json.value(u"sessionId").toString(), f.alice);
        return session.ok() && session->has_value() ? (*session)->fileName : QStringLiteral("?");
    };
    const Reply plain = f.post(peopleTarget(), "text/csv", s_csv,
                               {{"Content-Disposition", "attachment; filename=\"people.csv\""}});
    QVERIFY2(plain.status == 202, plain.body.constData());
    QCOMPARE(sessionFileName(plain), QStringLiteral("people.csv"));
    QVERIFY(f.completedJob(plain) > 0);

    const Reply extended =
        f.post(peopleTarget(), "text/csv", s_csv,
               {{"Content-Disposition",
                 "attachment; filename=\"x.csv\"; filename*=UTF-8''%C3%BCbersicht.csv"}});
    QVERIFY2(extended.status == 202, extended.body.constData());
    QCOMPARE(sessionFileName(extended), QStringLiteral("übersicht.csv"));

    const Reply path = f.post(
        peopleTarget(), "text/csv", s_csv,
        {{"Content-Disposition", "attachment; filename=\"C:\\\\Users\\\\ann\\\\..\\\\q3.csv\""}});
    QVERIFY2(path.status == 202, path.body.constData());
    QCOMPARE(sessionFileName(path), QStringLiteral("q3.csv"));

    const Reply none = f.post(peopleTarget(), "text/csv", s_csv);
    QVERIFY2(none.status == 202, none.body.constData());
    QCOMPARE(sessionFileName(none), QString());
}

void tst_Uploads::ndjsonIsImported()
{
    UploadsFixture f;
    const QByteArray ndjson =
        "{\"id\": 1, \"tags\": [\"a\"]}\n{\"id\": 2, \"nested\": {\"x\": true}}\n";
    const Reply reply = f.post("/api/v1/uploads?dataset=events", "application/x-ndjson", ndjson);
    QVERIFY2(reply.status == 202, reply.body.constData());
    QVERIFY(f.completedJob(reply) > 0);
    const auto records = f.records(f.alice, QStringLiteral("events"));
    QCOMPARE(records.size(), 2);
    QCOMPARE(records[0], QJsonDocument::fromJson(ndjson.split('\n')[0]).object());
    QCOMPARE(records[1], QJsonDocument::fromJson(ndjson.split('\n')[1]).object());
}

void tst_Uploads::multipartWithFieldsBeforeAndAfterTheFile()
{
    UploadsFixture f;
    const QByteArray body = form(s_boundary, {{"dataset", "people", {}},
                                              {"file", s_csv, "people.csv"},
                                              {"mapping", s_mapping, {}},
                                              {"priority", "-5", {}}});
    const Reply reply = f.post("/api/v1/uploads", formType(s_boundary), body);
    QVERIFY2(reply.status == 202, reply.body.constData());
    const qint64 id = f.completedJob(reply);
    QVERIFY(id > 0);
    QCOMPARE(f.job(id).priority, -5);
    QCOMPARE(f.records(f.alice, QStringLiteral("people")), expectedPeople());
    auto session = f.t.store->session(reply.json.value(u"sessionId").toString(), f.alice);
    QCOMPARE((*session)->fileName, QStringLiteral("people.csv"));
    QCOMPARE((*session)->sizeBytes, qint64(s_csv.size())); // the file, not the form around it

    // Every field after the file, the dataset in the query instead.
    const QByteArray after =
        form(s_boundary, {{"file", s_csv, "more.csv"}, {"mapping", s_mapping, {}}});
    const Reply second = f.post("/api/v1/uploads?dataset=later", formType(s_boundary), after);
    QVERIFY2(second.status == 202, second.body.constData());
    QVERIFY(f.completedJob(second) > 0);
    QCOMPARE(f.records(f.alice, QStringLiteral("later")), expectedPeople());
}

void tst_Uploads::gzipBodiesAreImported()
{
    UploadsFixture f;
    const QByteArray compressed = gzip(s_csv);
    const Reply raw =
        f.post(peopleTarget("zipped"), "text/csv", compressed, {{"Content-Encoding", "gzip"}});
    QVERIFY2(raw.status == 202, raw.body.constData());
    QVERIFY(f.completedJob(raw) > 0);
    QCOMPARE(f.records(f.alice, QStringLiteral("zipped")), expectedPeople());

    // A gzip file inside a form: detected by its magic bytes, named by its file name.
    const QByteArray body = form(s_boundary, {{"dataset", "zipform", {}},
                                              {"mapping", s_mapping, {}},
                                              {"file", compressed, "people.csv.gz"}});
    const Reply multipart = f.post("/api/v1/uploads", formType(s_boundary), body);
    QVERIFY2(multipart.status == 202, multipart.body.constData());
    QVERIFY(f.completedJob(multipart) > 0);
    QCOMPARE(f.records(f.alice, QStringLiteral("zipform")), expectedPeople());

    // Saying gzip about a body that is not: refused, nothing left behind.
    const int blobsBefore = f.blobFiles();
    const Reply lying =
        f.post(peopleTarget("lie"), "text/csv", s_csv, {{"Content-Encoding", "gzip"}});
    QCOMPARE(lying.status, 400);
    QCOMPARE(lying.json.value(u"code").toString(), QStringLiteral("invalid_encoding"));
    QVERIFY(waitFor([&] { return f.quota.usage(f.alice).heldUploads == 0; }));
    QCOMPARE(f.blobFiles(), blobsBefore);
}

void tst_Uploads::chunkedBodyIsSettledAtItsSize()
{
    UploadsFixture f;
    QByteArray chunked;
    for (qsizetype at = 0; at < s_csv.size(); at += 10) {
        const QByteArray piece = s_csv.mid(at, 10);
        chunked += QByteArray::number(piece.size(), 16) + "\r\n" + piece + "\r\n";
    }
    chunked += "0\r\n\r\n";
    const Reply reply = f.send(requestHead(peopleTarget(), f.aliceToken, "text/csv", -1,
                                           {{"Transfer-Encoding", "chunked"}}),
                               chunked);
    QVERIFY2(reply.status == 202, reply.body.constData());
    QVERIFY(f.completedJob(reply) > 0);
    QCOMPARE(f.records(f.alice, QStringLiteral("people")), expectedPeople());
    QCOMPARE(f.quota.lastReserved(), qint64(0)); // the size was not announced
    QCOMPARE(f.quota.usage(f.alice).bytes, qint64(s_csv.size()));
}

QTEST_GUILESS_MAIN(tst_Uploads)
#include "tst_uploads.moc"
