// POST /api/v1/uploads refused or cut short: bad requests, a bad field before the file, too large,
// unsupported media types, a full disk (before and during the body) and a client that goes away
// mid-body. Each leaves nothing behind: no session, no job, no blob. The fixture is
// uploadsfixture.h.
#include "uploadsfixture.h"

using namespace Ferry;
using namespace Ferry::Test;

class tst_UploadRefusals : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void badRequestsCreateNothing_data();
    void badRequestsCreateNothing();
    void badFieldBeforeTheFileIsAnsweredWithoutTheFile();
    void tooLargeIsRefusedBeforeTheBody();
    void unsupportedMediaType();
    void insufficientStorage();
    void diskFillingUpMidBodyIs507();
    void disconnectMidBodyLeavesNothing();
};

void tst_UploadRefusals::badRequestsCreateNothing_data()
{
    QTest::addColumn<QByteArray>("target");
    QTest::addColumn<QByteArray>("contentType");
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<QString>("code");
    QTest::addColumn<QString>("says");

    const QByteArray badMapping = "{\"fields\": [{\"name\": \"id\"},]}";
    QJsonParseError error;
    QJsonDocument::fromJson(badMapping, &error);
    const QString position = QStringLiteral("offset %1").arg(error.offset);

    QTest::newRow("missing dataset")
        << QByteArray("/api/v1/uploads") << QByteArray("text/csv") << s_csv
        << QStringLiteral("missing_dataset") << QStringLiteral("dataset=NAME");
    QTest::newRow("bad dataset name")
        << QByteArray("/api/v1/uploads?dataset=a%20b") << QByteArray("text/csv") << s_csv
        << QStringLiteral("invalid_dataset") << QStringLiteral("letters, digits");
    // A pattern ending in '$' would take "x\n" (it matches before a final newline).
    QTest::newRow("dataset name ending in a newline")
        << QByteArray("/api/v1/uploads?dataset=x%0A") << QByteArray("text/csv") << s_csv
        << QStringLiteral("invalid_dataset") << QStringLiteral("letters, digits");
    QTest::newRow("unknown format")
        << QByteArray("/api/v1/uploads?dataset=x&format=xml") << QByteArray("text/csv") << s_csv
        << QStringLiteral("invalid_format") << QStringLiteral("csv, tsv, ndjson or json");
    QTest::newRow("mapping not JSON")
        << QByteArray("/api/v1/uploads?dataset=x&mapping=" + encoded(badMapping))
        << QByteArray("text/csv") << s_csv << QStringLiteral("invalid_mapping") << position;
    QTest::newRow("mapping without fields")
        << QByteArray("/api/v1/uploads?dataset=x&mapping=" + encoded("{\"key\": \"id\"}"))
        << QByteArray("text/csv") << s_csv << QStringLiteral("invalid_mapping")
        << QStringLiteral("\"fields\"");
    QTest::newRow("priority out of range")
        << QByteArray("/api/v1/uploads?dataset=x&priority=101") << QByteArray("text/csv") << s_csv
        << QStringLiteral("invalid_priority") << QStringLiteral("-100 to 100");
    QTest::newRow("empty body") << QByteArray("/api/v1/uploads?dataset=x") << QByteArray("text/csv")
                                << QByteArray() << QStringLiteral("empty_upload")
                                << QStringLiteral("empty");
    QTest::newRow("form without dataset")
        << QByteArray("/api/v1/uploads") << formType(s_boundary)
        << form(s_boundary, {{"file", s_csv, "people.csv"}}) << QStringLiteral("missing_dataset")
        << QStringLiteral("dataset=NAME");
    QTest::newRow("form with a bad mapping after the file")
        << QByteArray("/api/v1/uploads?dataset=x") << formType(s_boundary)
        << form(s_boundary, {{"file", s_csv, "people.csv"}, {"mapping", badMapping, {}}})
        << QStringLiteral("invalid_mapping") << position;
    QTest::newRow("form with a bad format before the file")
        << QByteArray("/api/v1/uploads") << formType(s_boundary)
        << form(s_boundary,
                {{"dataset", "x", {}}, {"format", "xls", {}}, {"file", s_csv, "people.csv"}})
        << QStringLiteral("invalid_format") << QStringLiteral("csv, tsv, ndjson or json");
    QTest::newRow("form without file")
        << QByteArray("/api/v1/uploads") << formType(s_boundary)
        << form(s_boundary, {{"dataset", "x", {}}}) << QStringLiteral("invalid_form")
        << QStringLiteral("'file'");
    QTest::newRow("form cut short")
        << QByteArray("/api/v1/uploads?dataset=x") << formType(s_boundary)
        << form(s_boundary, {{"file", s_csv, "people.csv"}}).chopped(8)
        << QStringLiteral("invalid_form") << QStringLiteral("closing boundary");
    QTest::newRow("form without boundary")
        << QByteArray("/api/v1/uploads?dataset=x") << QByteArray("multipart/form-data")
        << form(s_boundary, {{"file", s_csv, "people.csv"}}) << QStringLiteral("invalid_form")
        << QStringLiteral("boundary");
    QTest::newRow("undetectable format")
        << QByteArray("/api/v1/uploads?dataset=x") << formType(s_boundary)
        << form(s_boundary, {{"file", QByteArray("\x01\x02\x03\x00\xff", 5), "data.bin"}})
        << QStringLiteral("invalid_argument") << QStringLiteral("Cannot tell the format");
}

void tst_UploadRefusals::badRequestsCreateNothing()
{
    QFETCH(QByteArray, target);
    QFETCH(QByteArray, contentType);
    QFETCH(QByteArray, body);
    QFETCH(QString, code);
    QFETCH(QString, says);
    UploadsFixture f;
    const Reply reply = f.post(target, contentType, body);
    QCOMPARE(reply.status, 400);
    QCOMPARE(reply.json.value(u"success"), QJsonValue(false));
    QCOMPARE(reply.json.value(u"code").toString(), code);
    QVERIFY2(reply.json.value(u"message").toString().contains(says), reply.body.constData());
    if (code == u"invalid_mapping" && says.startsWith(u"offset")) {
        QCOMPARE(QStringLiteral("offset %1").arg(reply.json.value(u"position").toInt()), says);
    }
    QCOMPARE(f.count(QStringLiteral("upload_sessions")), 0);
    QCOMPARE(f.count(QStringLiteral("jobs")), 0);
    QVERIFY(f.waitForAliceQuota(0));
    QCOMPARE(f.blobFiles(), 0);
}

void tst_UploadRefusals::badFieldBeforeTheFileIsAnsweredWithoutTheFile()
{
    UploadsFixture f;
    QTcpSocket socket;
    socket.connectToHost(QHostAddress::LocalHost, f.port);
    QVERIFY(socket.waitForConnected(10'000));
    const QByteArray start = form(s_boundary, {{"dataset", "x", {}}, {"priority", "1000", {}}});
    // The form as far as the start of its file; the rest (4 MiB announced) never comes.
    socket.write(requestHead("/api/v1/uploads", f.aliceToken, formType(s_boundary), 4 << 20) +
                 start.left(start.lastIndexOf(QByteArray("--" + s_boundary))) + "--" + s_boundary +
                 "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\n\r\n"
                 "id\n1\n");
    const Reply reply = readHttpReply(socket, 10'000);
    QCOMPARE(reply.status, 400);
    QCOMPARE(reply.json.value(u"code").toString(), QStringLiteral("invalid_priority"));
    QVERIFY(waitFor([&] { return f.quota.usage(f.alice).heldUploads == 0; }));
    QCOMPARE(f.blobFiles(), 0);
}

void tst_UploadRefusals::tooLargeIsRefusedBeforeTheBody()
{
    UploadsFixtureOptions options;
    options.maxUploadBytes = qint64(1) << 20;
    UploadsFixture f(options);
    // Only the headers are sent: the answer must not wait for a body.
    QTcpSocket socket;
    socket.connectToHost(QHostAddress::LocalHost, f.port);
    QVERIFY(socket.waitForConnected(10'000));
    socket.write(requestHead(peopleTarget(), f.aliceToken, "text/csv", (qint64(1) << 20) + 1));
    const Reply reply = readHttpReply(socket);
    QCOMPARE(reply.status, 413);
    QCOMPARE(reply.json.value(u"code").toString(), QStringLiteral("body_too_large"));
    QVERIFY(reply.json.value(u"message").toString().contains(u"1 MB"));
    QCOMPARE(f.quota.reserveCalls(), 0); // refused before anything was reserved

    // A chunked body is stopped as soon as it passes the limit; its reservation comes back.
    QTcpSocket chunked;
    chunked.connectToHost(QHostAddress::LocalHost, f.port);
    QVERIFY(chunked.waitForConnected(10'000));
    chunked.write(requestHead(peopleTarget(), f.aliceToken, "text/csv", -1,
                              {{"Transfer-Encoding", "chunked"}}));
    const QByteArray piece(64 * 1024, 'x');
    for (int i = 0; i < 20 && chunked.state() == QAbstractSocket::ConnectedState; ++i) {
        chunked.write(QByteArray::number(piece.size(), 16) + "\r\n" + piece + "\r\n");
        chunked.waitForBytesWritten(10'000);
    }
    const Reply stopped = readHttpReply(chunked);
    QCOMPARE(stopped.status, 413);
    QVERIFY(waitFor([&] { return f.quota.usage(f.alice).heldUploads == 0; }));
    QVERIFY(waitFor([&] { return f.blobFiles() == 0; }));
    QCOMPARE(f.count(QStringLiteral("upload_sessions")), 0);
}

void tst_UploadRefusals::unsupportedMediaType()
{
    UploadsFixture f;
    for (const QByteArray &type : {QByteArray("text/plain"), QByteArray()}) {
        const Reply reply = f.post(peopleTarget(), type, s_csv);
        QCOMPARE(reply.status, 415);
        QCOMPARE(reply.json.value(u"code").toString(), QStringLiteral("unsupported_media_type"));
        const QString message = reply.json.value(u"message").toString();
        for (const char *accepted :
             {"text/csv", "text/tab-separated-values", "application/x-ndjson", "application/json",
              "multipart/form-data"})
            QVERIFY2(message.contains(QLatin1String(accepted)), qPrintable(message));
        QVERIFY(reply.headers.value("accept-post").contains("text/csv"));
    }
    const Reply brotli = f.post(peopleTarget(), "text/csv", s_csv, {{"Content-Encoding", "br"}});
    QCOMPARE(brotli.status, 415);
    QVERIFY(brotli.json.value(u"message").toString().contains(u"gzip"));
    QCOMPARE(f.quota.reserveCalls(), 0);
}

void tst_UploadRefusals::insufficientStorage()
{
    UploadsFixtureOptions options;
    QTemporaryDir probe;
    options.freeDiskFloor = QStorageInfo(probe.path()).bytesAvailable() + (qint64(1) << 40);
    UploadsFixture f(options);
    const Reply reply = f.post(peopleTarget(), "text/csv", s_csv);
    QCOMPARE(reply.status, 507);
    QCOMPARE(reply.json.value(u"code").toString(), QStringLiteral("insufficient_storage"));
    QVERIFY(reply.json.value(u"message").toString().contains(u"free disk space"));
    QCOMPARE(f.quota.usage(f.alice).heldUploads, 0);
    QCOMPARE(f.quota.usage(f.alice).uploads, 0);
    QCOMPARE(f.blobFiles(), 0);
}

void tst_UploadRefusals::diskFillingUpMidBodyIs507()
{
    UploadsFixtureOptions options;
    options.diskRoomBytes = 256 * 1024;
    UploadsFixture f(options);
    QByteArray csv = "id,name,active\n";
    while (csv.size() < 1024 * 1024)
        csv += "1,somebody,1\n";
    // The body is refused as soon as it no longer fits, with 507 rather than a generic 500.
    const Reply reply = f.post(peopleTarget(), "text/csv", csv);
    QCOMPARE(reply.status, 507);
    QCOMPARE(reply.json.value(u"code").toString(), QStringLiteral("insufficient_storage"));
    QVERIFY(waitFor([&] { return f.quota.usage(f.alice).heldUploads == 0; }));
    QCOMPARE(f.quota.usage(f.alice).uploads, 0);
    QCOMPARE(f.blobFiles(), 0);
    QCOMPARE(f.count(QStringLiteral("upload_sessions")), 0);
    // What fits still goes through.
    QCOMPARE(f.post(peopleTarget(), "text/csv", s_csv).status, 202);
}

void tst_UploadRefusals::disconnectMidBodyLeavesNothing()
{
    UploadsFixture f;
    QTcpSocket socket;
    socket.connectToHost(QHostAddress::LocalHost, f.port);
    QVERIFY(socket.waitForConnected(10'000));
    socket.write(requestHead(peopleTarget(), f.aliceToken, "text/csv", 4 << 20,
                             {{"Idempotency-Key", "gone"}}));
    QByteArray part = "id,name,active\n";
    while (part.size() < 512 * 1024)
        part += "1,somebody,1\n";
    socket.write(part);
    socket.flush();
    // The upload is under way: reserved, and its bytes going to a temporary file (unnamed on
    // Linux, O_TMPFILE, so it cannot be listed; it gets a name only when committed).
    QVERIFY(waitFor([&] { return f.quota.usage(f.alice).heldUploads == 1; }));
    socket.abort();
    QVERIFY(waitFor([&] { return f.quota.usage(f.alice).heldUploads == 0; }));
    QVERIFY(waitFor([&] { return f.blobFiles() == 0; }));
    QCOMPARE(f.quota.usage(f.alice).uploads, 0);
    QCOMPARE(f.count(QStringLiteral("upload_sessions")), 0);
    QCOMPARE(f.count(QStringLiteral("jobs")), 0);
    QCOMPARE(f.count(QStringLiteral("idempotency_keys")), 0);
    // The key was never used: a retry runs.
    const Reply retry = f.post(peopleTarget(), "text/csv", s_csv, {{"Idempotency-Key", "gone"}});
    QCOMPARE(retry.status, 202);
}

QTEST_GUILESS_MAIN(tst_UploadRefusals)
#include "tst_uploadrefusals.moc"
