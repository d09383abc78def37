// POST /api/v1/uploads against the monthly upload quota: a refusal that says when the month
// resets, and a failed upload giving its reservation back. The fixture is uploadsfixture.h.
#include "uploadsfixture.h"

using namespace Ferry;
using namespace Ferry::Test;

class tst_UploadQuota : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void quotaExceeded();
    void failedUploadReleasesItsReservation();
};

void tst_UploadQuota::quotaExceeded()
{
    UploadsFixture f;
    f.quota.maxUploads = 1;
    QCOMPARE(f.post(peopleTarget(), "text/csv", s_csv).status, 202);
    // Refused once the body is in: the reservation is made on a worker while it streams (a
    // network thread never waits for the database), and settle() returns the refusal.
    QTcpSocket socket;
    socket.connectToHost(QHostAddress::LocalHost, f.port);
    QVERIFY(socket.waitForConnected(10'000));
    socket.write(requestHead(peopleTarget(), f.aliceToken, "text/csv", s_csv.size()) + s_csv);
    const Reply refused = readHttpReply(socket);
    QCOMPARE(refused.status, 429);
    const QJsonObject expected{
        {QStringLiteral("success"), false},
        {QStringLiteral("error"), QStringLiteral("Quota exceeded")},
        {QStringLiteral("message"), QStringLiteral("Monthly upload limit exceeded")},
        {QStringLiteral("code"), QStringLiteral("quota_exceeded")}};
    QCOMPARE(refused.json.value(u"code"), expected.value(u"code"));
    QVERIFY(refused.json.value(u"message").toString().startsWith(u"Monthly upload limit exceeded"));
    QCOMPARE(refused.headers.value("retry-after"), QByteArray::number(s_secondsToNextMonth));
    QCOMPARE(f.count(QStringLiteral("jobs")), 1);
    // Bob's quota is his own.
    QCOMPARE(f.post(peopleTarget(), "text/csv", s_csv, {}, f.bob).status, 202);
}

void tst_UploadQuota::failedUploadReleasesItsReservation()
{
    UploadsFixture f;
    f.quota.maxUploads = 1;
    // Stored, then refused (the format cannot be told): the one allowed upload is not used up.
    const Reply failed =
        f.post("/api/v1/uploads?dataset=x", formType(s_boundary),
               form(s_boundary, {{"file", QByteArray("\x01\x02\x03\x00\xff", 5), "data.bin"}}));
    QCOMPARE(failed.status, 400);
    // Its settle counted it; the refund, on the quota's pool after the answer, takes it back.
    QVERIFY(f.waitForAliceQuota(0));
    QCOMPARE(f.blobFiles(), 0);
    const Reply ok = f.post(peopleTarget(), "text/csv", s_csv);
    QCOMPARE(ok.status, 202);
    QCOMPARE(f.quota.usage(f.alice).uploads, 1);
}

QTEST_GUILESS_MAIN(tst_UploadQuota)
#include "tst_uploadquota.moc"
