// POST /api/v1/uploads with an Idempotency-Key: a replay answers as the first request did, and
// concurrent requests with one key create one job and store one body. The fixture is
// uploadsfixture.h.
#include "uploadsfixture.h"

using namespace Ferry;
using namespace Ferry::Test;

class tst_UploadReplay : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void idempotentReplay();
    void concurrentRequestsWithOneKeyCreateOneJob();
    void concurrentRequestsWithOneKeyStoreOnce();
};

void tst_UploadReplay::idempotentReplay()
{
    UploadsFixture f;
    const QList<std::pair<QByteArray, QByteArray>> key{{"Idempotency-Key", "upload-0001"}};
    const Reply first = f.post(peopleTarget(), "text/csv", s_csv, key);
    QVERIFY2(first.status == 202, first.body.constData());
    QVERIFY(f.completedJob(first) > 0);

    const Reply again = f.post(peopleTarget(), "text/csv", s_csv, key);
    QCOMPARE(again.status, 202);
    QCOMPARE(again.json, first.json); // same session, same job
    QCOMPARE(again.headers.value("location"), first.headers.value("location"));
    QCOMPARE(again.headers.value("idempotent-replayed"), QByteArray("true"));
    QCOMPARE(f.count(QStringLiteral("jobs")), 1);
    QCOMPARE(f.count(QStringLiteral("upload_sessions")), 1);
    QCOMPARE(f.quota.usage(f.alice).uploads, 1); // not counted again
    QCOMPARE(f.quota.reserveCalls(), 1);

    // The same key with another body, or other parameters: 422.
    const Reply otherBody = f.post(peopleTarget(), "text/csv", s_csv + "4,Barbara,1\n", key);
    QCOMPARE(otherBody.status, 422);
    QCOMPARE(otherBody.json.value(u"code").toString(), QStringLiteral("idempotency_key_reused"));
    QCOMPARE(f.post(peopleTarget("elsewhere"), "text/csv", s_csv, key).status, 422);
    QCOMPARE(f.count(QStringLiteral("jobs")), 1);

    // Another user's same key is theirs alone.
    const Reply bobs = f.post(peopleTarget(), "text/csv", s_csv, key, f.bob);
    QCOMPARE(bobs.status, 202);
    QVERIFY(bobs.json.value(u"jobId") != first.json.value(u"jobId"));
    QVERIFY(bobs.json.value(u"sessionId") != first.json.value(u"sessionId"));
    QVERIFY(!bobs.headers.contains("idempotent-replayed"));

    // A form is the same request whatever boundary the client picked this time.
    const QList<std::pair<QByteArray, QByteArray>> formKey{{"Idempotency-Key", "form-1"}};
    const QList<FormPart> parts{{"dataset", "formed", {}}, {"file", s_csv, "people.csv"}};
    const Reply formFirst =
        f.post("/api/v1/uploads", formType("boundary-one"), form("boundary-one", parts), formKey);
    QCOMPARE(formFirst.status, 202);
    const Reply formAgain =
        f.post("/api/v1/uploads", formType("boundary-two"), form("boundary-two", parts), formKey);
    QCOMPARE(formAgain.status, 202);
    QCOMPARE(formAgain.json, formFirst.json);

    // Keys are kept 24 hours; then the key is free again.
    f.t.clock.advance(IdempotencyKeys::KeepMs + 1000);
    const Reply later = f.post(peopleTarget(), "text/csv", s_csv + "4,Barbara,1\n", key);
    QCOMPARE(later.status, 202);
    QVERIFY(later.json.value(u"jobId") != first.json.value(u"jobId"));
}

void tst_UploadReplay::concurrentRequestsWithOneKeyCreateOneJob()
{
    UploadsFixture f;
    QByteArray csv = "id,name,active\n";
    for (int i = 1; i <= 20'000; ++i)
        csv += QByteArray::number(i) + ",person " + QByteArray::number(i) + ",1\n";
    const QByteArray head = requestHead(peopleTarget(), f.aliceToken, "text/csv", csv.size(),
                                        {{"Idempotency-Key", "same-key"}});
    // Both requests get past their headers (nothing holds the key yet) before either ends.
    QTcpSocket a, b;
    for (QTcpSocket *socket : {&a, &b}) {
        socket->connectToHost(QHostAddress::LocalHost, f.port);
        QVERIFY(socket->waitForConnected(10'000));
        socket->write(head + csv.left(csv.size() / 2));
        socket->flush();
    }
    QVERIFY(waitFor([&] { return f.quota.usage(f.alice).heldUploads == 2; }));
    for (QTcpSocket *socket : {&a, &b}) {
        socket->write(csv.mid(csv.size() / 2));
        socket->flush();
    }
    const QList<Reply> replies{readHttpReply(a), readHttpReply(b)};
    QJsonObject accepted;
    for (const Reply &reply : replies) {
        QVERIFY2(reply.status == 202 || reply.status == 409, reply.body.constData());
        if (reply.status == 409) {
            QCOMPARE(reply.json.value(u"code").toString(),
                     QStringLiteral("idempotency_key_in_progress"));
            continue;
        }
        if (accepted.isEmpty())
            accepted = reply.json;
        QCOMPARE(reply.json, accepted); // every 202 names the same session and job
    }
    QVERIFY(!accepted.isEmpty());
    QCOMPARE(f.count(QStringLiteral("jobs")), 1);
    QCOMPARE(f.count(QStringLiteral("upload_sessions")), 1);
    QVERIFY(waitFor([&] { return f.quota.usage(f.alice).heldUploads == 0; }));
    QCOMPARE(f.quota.usage(f.alice).uploads, 1);
    // The loser did not take the winner's (identical) file with it.
    Reply winner;
    winner.status = 202;
    winner.json = accepted;
    QVERIFY(f.completedJob(winner) > 0);
    QCOMPARE(f.records(f.alice, QStringLiteral("people")).size(), 20'000);
    QCOMPARE(f.blobFiles(), 1);
}

// Issue 12 item 12: the key is claimed before the body is stored, so of two requests with one
// key (both past their headers) only one stores its body; the other's temporary file goes.
void tst_UploadReplay::concurrentRequestsWithOneKeyStoreOnce()
{
    UploadsFixtureOptions options;
    options.diskRoomBytes = qint64(1) << 30; // the counting view of the blob store
    UploadsFixture f(options);
    QByteArray csv = "id,name,active\n";
    for (int i = 1; i <= 5'000; ++i)
        csv += QByteArray::number(i) + ",person " + QByteArray::number(i) + ",1\n";
    const QByteArray head = requestHead(peopleTarget(), f.aliceToken, "text/csv", csv.size(),
                                        {{"Idempotency-Key", "store-once"}});
    QTcpSocket a, b;
    for (QTcpSocket *socket : {&a, &b}) {
        socket->connectToHost(QHostAddress::LocalHost, f.port);
        QVERIFY(socket->waitForConnected(10'000));
        socket->write(head + csv.left(csv.size() / 2));
        socket->flush();
    }
    QVERIFY(waitFor([&] { return f.quota.usage(f.alice).heldUploads == 2; }));
    for (QTcpSocket *socket : {&a, &b}) {
        socket->write(csv.mid(csv.size() / 2));
        socket->flush();
    }
    const QList<Reply> replies{readHttpReply(a), readHttpReply(b)};
    int accepted = 0;
    for (const Reply &reply : replies) {
        QVERIFY2(reply.status == 202 || reply.status == 409, reply.body.constData());
        accepted += reply.status == 202 ? 1 : 0;
    }
    QVERIFY(accepted >= 1);
    QCOMPARE(f.filling->commits.load(), 1);
    QCOMPARE(f.count(QStringLiteral("jobs")), 1);
    QVERIFY(waitFor([&] { return f.quota.usage(f.alice).heldUploads == 0; }));
    QCOMPARE(f.quota.usage(f.alice).uploads, 1);
    QCOMPARE(f.blobFiles(), 1); // nothing left in tmp either
}

QTEST_GUILESS_MAIN(tst_UploadReplay)
#include "tst_uploadreplay.moc"
