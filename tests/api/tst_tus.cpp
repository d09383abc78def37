#include "quota/tierpolicy.h"
#include "tusfixture.h"

#include "store/databaseconfig.h"

#include <QDateTime>
#include <QDir>
#include <QFileInfo>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QStorageInfo>
#include <QTcpSocket>

#include <sys/stat.h>

using namespace Ferry;
using namespace Ferry::Test;

namespace {

QByteArray csvRows(int from, int to)
{
    QByteArray csv = "id,name\n";
    for (int i = from; i <= to; ++i)
        csv += QByteArray::number(i) + ",name " + QByteArray::number(i) + "\n";
    return csv;
}

ino_t inodeOf(const QString &path)
{
    struct stat info
    {};
    return ::stat(QFile::encodeName(path).constData(), &info) == 0 ? info.st_ino : 0;
}

QByteArray peopleMetadata()
{
    return TusFixture::metadata(
        {{"dataset", "people"}, {"format", "csv"}, {"key", "id"}, {"filename", "people.csv"}});
}

// A quota that grants up to a byte budget and remembers what it was told.
class CountingQuota final : public UploadQuota
{
public:
    explicit CountingQuota(qint64 budget) : m_budget(budget) {}
    Result<QuotaDecision> reserve(qint64 userId, qint64 bytes) override
    {
        QuotaDecision decision;
        decision.resetsAtMs = QDateTime::currentMSecsSinceEpoch() + 3'600'000;
        if (held + bytes > m_budget) {
            decision.message = QStringLiteral("Monthly upload limit exceeded.");
            return decision;
        }
        held += bytes;
        decision.granted = true;
        decision.reservation = {userId, QStringLiteral("2026-11"), bytes, ++m_next};
        return decision;
    }
    Result<QuotaDecision> settle(const QuotaReservation &reservation, qint64 actual) override
    {
        held -= reservation.bytes;
        settled += actual;
        QuotaDecision decision;
        decision.granted = true;
        return decision;
    }
    void release(const QuotaReservation &reservation) override { held -= reservation.bytes; }

    std::atomic<qint64> held = 0;
    std::atomic<qint64> settled = 0;

private:
    qint64 m_budget;
    std::atomic<qint64> m_next = 0;
};

} // namespace

class tst_Tus : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void metadataParses_data()
    {
        QTest::addColumn<QByteArray>("header");
        QTest::addColumn<bool>("ok");
        QTest::addColumn<QString>("dataset");
        QTest::newRow("one") << QByteArray("dataset cGVvcGxl") << true << QStringLiteral("people");
        QTest::newRow("several") << QByteArray("filename YS5jc3Y=,dataset cGVvcGxl,flag") << true
                                 << QStringLiteral("people");
        QTest::newRow("spaces") << QByteArray(" dataset cGVvcGxl , x eA== ") << true
                                << QStringLiteral("people");
        QTest::newRow("empty") << QByteArray() << true << QString();
        QTest::newRow("not base64") << QByteArray("dataset !!!") << false << QString();
        QTest::newRow("bad key") << QByteArray("da/ta cGVvcGxl") << false << QString();
        QTest::newRow("repeated") << QByteArray("dataset cGVvcGxl,dataset cGVvcGxl") << false
                                  << QString();
    }
    void metadataParses()
    {
        QFETCH(QByteArray, header);
        QFETCH(bool, ok);
        QFETCH(QString, dataset);
        auto parsed = TusUploads::parseMetadata(header);
        QCOMPARE(parsed.ok(), ok);
        if (ok)
            QCOMPARE(parsed->value(u"dataset").toString(), dataset);
    }

    void uploadIdsAreStrict()
    {
        QVERIFY(TusUploads::isUploadId("0123456789abcdef0123456789abcdef"));
        QVERIFY(!TusUploads::isUploadId("0123456789ABCDEF0123456789abcdef"));
        QVERIFY(!TusUploads::isUploadId("../../../../etc/passwd0123456789a"));
        QVERIFY(!TusUploads::isUploadId("0123456789abcdef0123456789abcde"));
    }

    void optionsAdvertisesTheProtocol()
    {
        TusFixture f(4096);
        const TusReply reply = f.call("OPTIONS", QStringLiteral("/api/v1/tus"), {});
        QCOMPARE(reply.status, 204);
        QCOMPARE(reply.header("tus-resumable"), QByteArray("1.0.0"));
        QCOMPARE(reply.header("tus-version"), QByteArray("1.0.0"));
        QCOMPARE(reply.header("tus-extension"), QByteArray("creation,termination"));
        QCOMPARE(reply.header("tus-max-size"), QByteArray("4096"));
    }

    void uploadInPiecesCompletesAndRunsTheImport()
    {
        TusFixture f;
        QVERIFY(f.dispatcher->start().ok());
        const QByteArray csv = csvRows(1, 200);
        TusReply created;
        const QString id = f.create(csv.size(), peopleMetadata(), f.aliceToken, &created);
        QVERIFY2(!id.isEmpty(), created.body.constData());
        QVERIFY(TusUploads::isUploadId(id.toLatin1()));
        QCOMPARE(created.header("tus-resumable"), QByteArray("1.0.0"));
        QCOMPARE(created.json.value(u"upload").toObject().value(u"length").toInteger(), csv.size());

        TusReply head = f.head(id, f.aliceToken);
        QCOMPARE(head.status, 200);
        QCOMPARE(head.header("upload-offset"), QByteArray("0"));
        QCOMPARE(head.header("upload-length"), QByteArray::number(csv.size()));
        QCOMPARE(head.header("cache-control"), QByteArray("no-store"));
        QVERIFY(!head.headers.contains("ferry-job-id"));

        // Three pieces; each PATCH answers the new offset.
        const qint64 third = csv.size() / 3;
        qint64 offset = 0;
        for (int i = 0; i < 2; ++i) {
            const TusReply piece = f.patch(id, offset, csv.mid(offset, third), f.aliceToken);
            QCOMPARE(piece.status, 204);
            offset += third;
            QCOMPARE(piece.header("upload-offset"), QByteArray::number(offset));
            QVERIFY(!piece.headers.contains("ferry-job-id"));
            QCOMPARE(f.head(id, f.aliceToken).header("upload-offset"), QByteArray::number(offset));
        }
        const TusReply last = f.patch(id, offset, csv.mid(offset), f.aliceToken);
        QCOMPARE(last.status, 204);
        QCOMPARE(last.header("upload-offset"), QByteArray::number(csv.size()));
        const qint64 jobId = last.header("ferry-job-id").toLongLong();
        QVERIFY(jobId > 0);
        const QString sessionId = QString::fromLatin1(last.header("ferry-session-id"));
        QVERIFY(!sessionId.isEmpty());
        QVERIFY(!QFileInfo::exists(f.partPath(id))); // committed into the blob store

        head = f.head(id, f.aliceToken);
        QCOMPARE(head.header("upload-offset"), QByteArray::number(csv.size()));
        QCOMPARE(head.header("ferry-job-id"), QByteArray::number(jobId));
        QCOMPARE(head.header("ferry-session-id"), sessionId.toLatin1());

        // The job is the caller's, on that session, and imports what was sent.
        const TusReply job =
            f.call("GET", QStringLiteral("/api/v1/jobs/%1").arg(jobId), f.aliceToken);
        QCOMPARE(job.status, 200);
        QCOMPARE(job.json.value(u"job").toObject().value(u"sessionId").toString(), sessionId);
        // Ranked as a plain upload of its size and the user's tier: standard, under 1 MiB.
        QCOMPARE(job.json.value(u"job").toObject().value(u"priority").toInt(),
                 uploadPriority(f.alice.tier, csv.size(), std::nullopt));
        QCOMPARE(job.json.value(u"job").toObject().value(u"priority").toInt(), 5);
        QVERIFY(f.finished(jobId));
        QCOMPARE(f.job(jobId).status, JobStatus::Completed);
        QCOMPARE(f.blobContent(sessionId), csv);
        QCOMPARE(f.recordCount(f.alice.id, QStringLiteral("people")), 200);

        // A repeated final PATCH (a client that missed the answer) changes nothing.
        const TusReply again = f.patch(id, csv.size(), {}, f.aliceToken);
        QCOMPARE(again.status, 204);
        QCOMPARE(again.header("ferry-job-id"), QByteArray::number(jobId));
        QCOMPARE(f.patch(id, 0, "x", f.aliceToken).status, 409);
    }

    void wrongOffsetIsAConflict()
    {
        TusFixture f;
        const QString id = f.create(10, peopleMetadata(), f.aliceToken);
        QCOMPARE(f.patch(id, 0, "id,na", f.aliceToken).status, 204);
        const TusReply stale = f.patch(id, 0, "id,na", f.aliceToken);
        QCOMPARE(stale.status, 409);
        QCOMPARE(stale.code(), QStringLiteral("conflict"));
        QCOMPARE(stale.json.value(u"success"), QJsonValue(false));
        QCOMPARE(f.patch(id, 7, "me", f.aliceToken).status, 409);
        QCOMPARE(f.head(id, f.aliceToken).header("upload-offset"), QByteArray("5"));
    }

    void missingTusResumableIsRefused()
    {
        TusFixture f;
        const QString id = f.create(10, peopleMetadata(), f.aliceToken);
        const QString path = QStringLiteral("/api/v1/tus/") + id;
        const QList<std::pair<QByteArray, QString>> calls = {
            {"POST", QStringLiteral("/api/v1/tus")},
            {"HEAD", path},
            {"PATCH", path},
            {"DELETE", path}};
        for (const auto &[method, target] : calls) {
            const TusReply reply = f.call(method, target, f.aliceToken,
                                          {{"Upload-Length", "10"},
                                           {"Upload-Offset", "0"},
                                           {"Content-Type", "application/offset+octet-stream"}});
            QCOMPARE(reply.status, 412);
            QCOMPARE(reply.header("tus-version"), QByteArray("1.0.0"));
            if (method != "HEAD")
                QCOMPARE(reply.code(), QStringLiteral("tus_version_unsupported"));
        }
        const TusReply old = f.call("HEAD", path, f.aliceToken, {{"Tus-Resumable", "0.2.2"}});
        QCOMPARE(old.status, 412);
        QCOMPARE(f.head(id, f.aliceToken).status, 200); // nothing was deleted
    }

    void wrongContentTypeIsUnsupported()
    {
        TusFixture f;
        const QString id = f.create(10, peopleMetadata(), f.aliceToken);
        const TusReply reply = f.call(
            "PATCH", QStringLiteral("/api/v1/tus/") + id, f.aliceToken,
            {{"Tus-Resumable", "1.0.0"}, {"Upload-Offset", "0"}, {"Content-Type", "text/csv"}},
            "id,name\n");
        QCOMPARE(reply.status, 415);
        QCOMPARE(reply.code(), QStringLiteral("unsupported_media_type"));
        QCOMPARE(f.head(id, f.aliceToken).header("upload-offset"), QByteArray("0"));
    }

    void overMaxSizeIsTooLarge()
    {
        TusFixture f(1000);
        TusReply reply;
        QVERIFY(f.create(1001, peopleMetadata(), f.aliceToken, &reply).isEmpty());
        QCOMPARE(reply.status, 413);
        QCOMPARE(reply.code(), QStringLiteral("upload_too_large"));
        QVERIFY(!f.create(1000, peopleMetadata(), f.aliceToken).isEmpty());
        // A body past the announced length is refused too.
        const QString id = f.create(4, peopleMetadata(), f.aliceToken);
        QCOMPARE(f.patch(id, 0, "id,name\n", f.aliceToken).status, 413);
        QCOMPARE(f.head(id, f.aliceToken).header("upload-offset"), QByteArray("0"));
    }

    void creationChecksTheMetadata_data()
    {
        QTest::addColumn<QByteArray>("metadata");
        QTest::addColumn<QString>("mentions");
        QTest::newRow("no dataset")
            << TusFixture::metadata({{"format", "csv"}}) << QStringLiteral("dataset");
        QTest::newRow("empty") << QByteArray() << QStringLiteral("dataset");
        QTest::newRow("bad dataset")
            << TusFixture::metadata({{"dataset", "../x y"}}) << QStringLiteral("");
        QTest::newRow("bad format")
            << TusFixture::metadata({{"dataset", "a"}, {"format", "xls"}}) << QStringLiteral("xls");
        QTest::newRow("bad mapping") << TusFixture::metadata({{"dataset", "a"}, {"mapping", "{"}})
                                     << QStringLiteral("mapping");
        QTest::newRow("not base64") << QByteArray("dataset ***") << QStringLiteral("base64");
    }
    void creationChecksTheMetadata()
    {
        QFETCH(QByteArray, metadata);
        QFETCH(QString, mentions);
        TusFixture f;
        TusReply reply;
        QVERIFY(f.create(10, metadata, f.aliceToken, &reply).isEmpty());
        QCOMPARE(reply.status, 400);
        QCOMPARE(reply.json.value(u"success"), QJsonValue(false));
        QVERIFY(reply.json.value(u"message").toString().contains(mentions));
        QCOMPARE(reply.header("tus-resumable"), QByteArray("1.0.0"));
        QVERIFY(QDir(f.tusDir()).entryList(QDir::Files).isEmpty());
    }

    void missingOrBadLengthIsRefused()
    {
        TusFixture f;
        TusReply reply =
            f.call("POST", QStringLiteral("/api/v1/tus"), f.aliceToken,
                   {{"Tus-Resumable", "1.0.0"}, {"Upload-Metadata", peopleMetadata()}});
        QCOMPARE(reply.status, 400);
        QCOMPARE(reply.code(), QStringLiteral("upload_length_missing"));
        QVERIFY(f.create(0, peopleMetadata(), f.aliceToken, &reply).isEmpty());
        QCOMPARE(reply.status, 400);
        QVERIFY(f.create(-5, peopleMetadata(), f.aliceToken, &reply).isEmpty());
        QCOMPARE(reply.status, 400);
        QCOMPARE(
            f.call("POST", QStringLiteral("/api/v1/tus"), {}, {{"Tus-Resumable", "1.0.0"}}).status,
            401);
    }

    void anotherUsersUploadIsNotFound()
    {
        TusFixture f;
        const QString id = f.create(10, peopleMetadata(), f.aliceToken);
        QVERIFY(!id.isEmpty());
        QCOMPARE(f.head(id, f.bobToken).status, 404);
        const TusReply patch = f.patch(id, 0, "id,name\n", f.bobToken);
        QCOMPARE(patch.status, 404);
        QCOMPARE(patch.code(), QStringLiteral("not_found"));
        const TusReply removal = f.call("DELETE", QStringLiteral("/api/v1/tus/") + id, f.bobToken,
                                        {{"Tus-Resumable", "1.0.0"}});
        QCOMPARE(removal.status, 404);
        QCOMPARE(removal.code(), QStringLiteral("not_found"));
        // Alice's upload is untouched; ids that are not ours are 404 too.
        QCOMPARE(f.head(id, f.aliceToken).header("upload-offset"), QByteArray("0"));
        QCOMPARE(f.head(QStringLiteral("..%2f..%2fferry.db"), f.aliceToken).status, 404);
        QCOMPARE(f.patch(QStringLiteral("0123456789abcdef0123456789abcdef"), 0, "x", f.aliceToken)
                     .status,
                 404);
    }

    void terminationRemovesTheUploadAndItsData()
    {
        TusFixture f;
        const QString id = f.create(10, peopleMetadata(), f.aliceToken);
        QCOMPARE(f.patch(id, 0, "id,na", f.aliceToken).status, 204);
        QVERIFY(QFileInfo::exists(f.partPath(id)));
        const TusReply removal = f.call("DELETE", QStringLiteral("/api/v1/tus/") + id, f.aliceToken,
                                        {{"Tus-Resumable", "1.0.0"}});
        QCOMPARE(removal.status, 204);
        QCOMPARE(removal.header("tus-resumable"), QByteArray("1.0.0"));
        QVERIFY(!QFileInfo::exists(f.partPath(id)));
        QCOMPARE(f.head(id, f.aliceToken).status, 404);
        QCOMPARE(f.patch(id, 5, "me\n1,", f.aliceToken).status, 404);
        QVERIFY(!f.t.store->tusUpload(id, std::nullopt)->has_value());
    }

    void resumeAfterADroppedConnection()
    {
        TusFixture f;
        QVERIFY(f.dispatcher->start().ok());
        const QByteArray csv = csvRows(1, 2000);
        const QString id = f.create(csv.size(), peopleMetadata(), f.aliceToken);
        QVERIFY(!id.isEmpty());

        // Half of the body, then the connection dies.
        const qint64 half = csv.size() / 2;
        QTcpSocket socket;
        socket.connectToHost(QHostAddress::LocalHost, f.port);
        QVERIFY(socket.waitForConnected(10'000));
        socket.write("PATCH /api/v1/tus/" + id.toLatin1() +
                     " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + f.aliceToken +
                     "\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n"
                     "Content-Type: application/offset+octet-stream\r\nContent-Length: " +
                     QByteArray::number(csv.size()) + "\r\n\r\n");
        socket.write(csv.left(half));
        QVERIFY(waitFor([&] { return QFileInfo(f.partPath(id)).size() == half; }));
        // Meanwhile the upload is held: a second writer is told so.
        QCOMPARE(f.patch(id, 0, csv.left(10), f.aliceToken).status, 409);
        socket.abort();

        // The bytes that arrived are kept, and the upload resumes from there.
        QVERIFY(waitFor([&] {
            return f.head(id, f.aliceToken).header("upload-offset") == QByteArray::number(half);
        }));
        QCOMPARE(f.patch(id, 0, csv, f.aliceToken).status, 409);
        const TusReply rest = f.patch(id, half, csv.mid(half), f.aliceToken);
        QCOMPARE(rest.status, 204);
        QCOMPARE(rest.header("upload-offset"), QByteArray::number(csv.size()));
        const qint64 jobId = rest.header("ferry-job-id").toLongLong();
        QVERIFY(jobId > 0);
        QCOMPARE(f.blobContent(QString::fromLatin1(rest.header("ferry-session-id"))), csv);
        QVERIFY(f.finished(jobId));
        QCOMPARE(f.job(jobId).status, JobStatus::Completed);
        QCOMPARE(f.recordCount(f.alice.id, QStringLiteral("people")), 2000);
    }

    void bytesPastTheRecordedOffsetAreDropped()
    {
        // As after a crash between a write and its record: the store's offset is the truth.
        TusFixture f;
        const QString id = f.create(10, peopleMetadata(), f.aliceToken);
        QCOMPARE(f.patch(id, 0, "id,na", f.aliceToken).status, 204);
        {
            QFile part(f.partPath(id));
            QVERIFY(part.open(QIODevice::Append));
            part.write("XXX");
        }
        QCOMPARE(f.head(id, f.aliceToken).header("upload-offset"), QByteArray("5"));
        const TusReply rest = f.patch(id, 5, "me\n1,", f.aliceToken);
        QCOMPARE(rest.status, 204);
        QCOMPARE(f.blobContent(QString::fromLatin1(rest.header("ferry-session-id"))),
                 QByteArray("id,name\n1,"));
    }

    void unimportableContentIsRefusedAndRemoved()
    {
        TusFixture f;
        const QByteArray binary("\x00\x01\x02\x03\xff\xfe binary", 13);
        const QString id =
            f.create(binary.size(), TusFixture::metadata({{"dataset", "x"}}), f.aliceToken);
        const TusReply reply = f.patch(id, 0, binary, f.aliceToken);
        QCOMPARE(reply.status, 400);
        QVERIFY(reply.json.value(u"message").toString().contains(u"format"));
        QCOMPARE(f.head(id, f.aliceToken).status, 404);
        QVERIFY(!QFileInfo::exists(f.partPath(id)));
        QCOMPARE(f.t.store->jobs(JobFilter{})->size(), 0);
    }

    void unfinishedUploadsExpire()
    {
        TusFixture f;
        const QString stale = f.create(10, peopleMetadata(), f.aliceToken);
        QCOMPARE(f.patch(stale, 0, "id,na", f.aliceToken).status, 204);
        f.t.clock.advance(23 * 3'600'000LL);
        const QString fresh = f.create(10, peopleMetadata(), f.aliceToken);
        QCOMPARE(*f.uploads->pruneExpired(), 0);
        f.t.clock.advance(2 * 3'600'000LL); // stale: 25 h untouched; fresh: 2 h
        QCOMPARE(*f.uploads->pruneExpired(), 1);
        QCOMPARE(f.head(stale, f.aliceToken).status, 404);
        QVERIFY(!QFileInfo::exists(f.partPath(stale)));
        QCOMPARE(f.head(fresh, f.aliceToken).status, 200);
        QVERIFY(QFileInfo::exists(f.partPath(fresh)));
    }

    void quotaIsReservedSettledAndReleased()
    {
        CountingQuota quota(100);
        TusFixture f(1 << 20, &quota);
        const QByteArray csv = csvRows(1, 5);
        const QString done = f.create(csv.size(), peopleMetadata(), f.aliceToken);
        QCOMPARE(quota.held.load(), csv.size());
        TusReply refused;
        QVERIFY(f.create(100, peopleMetadata(), f.aliceToken, &refused).isEmpty());
        QCOMPARE(refused.status, 429);
        QCOMPARE(refused.code(), QStringLiteral("quota_exceeded"));
        QVERIFY(refused.header("retry-after").toLongLong() > 0);
        QCOMPARE(f.patch(done, 0, csv, f.aliceToken).status, 204);
        QCOMPARE(quota.held.load(), 0);
        QCOMPARE(quota.settled.load(), csv.size());

        const QString dropped = f.create(30, peopleMetadata(), f.aliceToken);
        QCOMPARE(quota.held.load(), 30);
        QCOMPARE(f.call("DELETE", QStringLiteral("/api/v1/tus/") + dropped, f.aliceToken,
                        {{"Tus-Resumable", "1.0.0"}})
                     .status,
                 204);
        QCOMPARE(quota.held.load(), 0);
        const QString expiring = f.create(40, peopleMetadata(), f.aliceToken);
        QVERIFY(!expiring.isEmpty());
        f.t.clock.advance(25 * 3'600'000LL);
        QVERIFY(*f.uploads->pruneExpired() >= 1);
        QCOMPARE(quota.held.load(), 0);
    }

    // Issue 12 item 5: tus creation passes the checks of a plain upload (UploadGate): the free-
    // disk floor refuses before any file is made.
    void creationObeysTheFreeDiskFloor()
    {
        const qint64 available = QStorageInfo(QDir::tempPath()).bytesAvailable();
        TusFixture f(1 << 20, nullptr, available + (qint64(1) << 30));
        TusReply refused;
        QVERIFY(f.create(100, peopleMetadata(), f.aliceToken, &refused).isEmpty());
        QCOMPARE(refused.status, 507);
        QVERIFY(refused.json.value(u"message").toString().contains(u"free disk space"));
        QVERIFY(QDir(f.tusDir()).isEmpty());
    }

    // ... and an append checks the floor before taking the rest of the body (a PATCH on a disk
    // that filled since the upload was created).
    void appendObeysTheFreeDiskFloor()
    {
        TusFixture f;
        const QByteArray csv = csvRows(1, 50);
        const QString id = f.create(csv.size(), peopleMetadata(), f.aliceToken);
        QVERIFY(!id.isEmpty());
        const qint64 available = QStorageInfo(f.tusDir()).bytesAvailable();
        FileBlobStore full(f.blobs.root(), available + (qint64(1) << 30));
        TusOptions options = f.uploads->options();
        TusUploads tight(*f.t.store, *f.queue, full, f.t.clock, nullptr, options);
        auto append = tight.beginAppend(id, f.alice.id, 0);
        QVERIFY(!append.ok());
        QCOMPARE(append.error().code, ErrorCode::InsufficientStorage);
        QCOMPARE(QFileInfo(f.partPath(id)).size(), 0);
    }

    // The size limit is the one of POST /api/v1/uploads (--max-upload-mb), given as maxSize.
    void creationOverTheSizeLimitIsRefused()
    {
        TusFixture f(4096);
        TusReply refused;
        QVERIFY(f.create(qint64(2) << 30, peopleMetadata(), f.aliceToken, &refused).isEmpty());
        QCOMPARE(refused.status, 413);
        QCOMPARE(refused.code(), QStringLiteral("upload_too_large"));
        // The engine refuses too, whatever the route checked.
        auto created = f.uploads->create(f.alice.id, qint64(2) << 30,
                                         {{QStringLiteral("dataset"), QStringLiteral("people")}});
        QVERIFY(created.ok());
        QVERIFY(created->tooLarge.has_value());
        QVERIFY(!created->upload);
    }

    // Completion takes the .part file into the blob store by a link: no second copy.
    void completionLinksInsteadOfCopying()
    {
        TusFixture f;
        const QByteArray csv = csvRows(1, 100);
        const QString id = f.create(csv.size(), peopleMetadata(), f.aliceToken);
        QCOMPARE(f.patch(id, 0, csv.left(10), f.aliceToken).status, 204);
        const ino_t part = inodeOf(f.partPath(id));
        QVERIFY(part != 0);
        const TusReply last = f.patch(id, 10, csv.mid(10), f.aliceToken);
        QCOMPARE(last.status, 204);
        auto session =
            f.t.store->session(QString::fromLatin1(last.header("ferry-session-id")), std::nullopt);
        QVERIFY(session.ok() && session->has_value());
        QCOMPARE(inodeOf(*f.blobs.localPath((*session)->blobId)), part);
        QCOMPARE(f.blobContent((*session)->id), csv);
    }

    // Item 9: the job and the upload's "complete" mark are one transaction. With the mark made
    // to fail, no job is queued and the data stays; the retried final PATCH queues exactly one
    // job, and every later PATCH or HEAD answers that job.
    void completionIsOneTransactionAndIdempotent()
    {
        TusFixture f;
        QVERIFY(f.dispatcher->start().ok());
        if (onPostgres()) {
            f.sql(QStringLiteral("CREATE FUNCTION ferry_test_refuse() RETURNS trigger AS $$ BEGIN "
                                 "RAISE EXCEPTION 'injected failure'; END $$ LANGUAGE plpgsql"));
            f.sql(QStringLiteral("CREATE TRIGGER refuse_complete BEFORE UPDATE OF job_id ON "
                                 "tus_uploads FOR EACH ROW WHEN (NEW.job_id IS NOT NULL) "
                                 "EXECUTE FUNCTION ferry_test_refuse()"));
        } else {
            f.sql(QStringLiteral("CREATE TRIGGER refuse_complete BEFORE UPDATE OF job_id ON "
                                 "tus_uploads WHEN NEW.job_id IS NOT NULL BEGIN "
                                 "SELECT RAISE(ABORT, 'injected failure'); END"));
        }
        const QByteArray csv = csvRows(1, 30);
        const QString id = f.create(csv.size(), peopleMetadata(), f.aliceToken);
        const TusReply failed = f.patch(id, 0, csv, f.aliceToken);
        QVERIFY2(failed.status >= 500, failed.body.constData());
        QVERIFY(!failed.headers.contains("ferry-job-id"));
        QCOMPARE(f.jobCount(), 0);
        QVERIFY(QFileInfo::exists(f.partPath(id))); // kept for the retry
        TusReply head = f.head(id, f.aliceToken);
        QCOMPARE(head.header("upload-offset"), QByteArray::number(csv.size()));
        QVERIFY(!head.headers.contains("ferry-job-id"));

        f.sql(QStringLiteral("DROP TRIGGER refuse_complete") +
              (onPostgres() ? QStringLiteral(" ON tus_uploads") : QString()));
        const TusReply retried = f.patch(id, csv.size(), {}, f.aliceToken);
        QCOMPARE(retried.status, 204);
        const qint64 jobId = retried.header("ferry-job-id").toLongLong();
        QVERIFY(jobId > 0);
        QCOMPARE(f.jobCount(), 1);
        QVERIFY(!QFileInfo::exists(f.partPath(id)));
        head = f.head(id, f.aliceToken);
        QCOMPARE(head.header("ferry-job-id"), QByteArray::number(jobId));
        const TusReply again = f.patch(id, csv.size(), {}, f.aliceToken);
        QCOMPARE(again.header("ferry-job-id"), QByteArray::number(jobId));
        QCOMPARE(f.jobCount(), 1);
        QVERIFY(f.finished(jobId));
        QCOMPARE(f.job(jobId).status, JobStatus::Completed);
        QCOMPARE(f.recordCount(f.alice.id, QStringLiteral("people")), 30);
    }

    // Item 12: expiry also collects .part files whose upload is gone.
    void orphanedPartFilesAreCollected()
    {
        TusFixture f;
        QDir().mkpath(f.tusDir());
        auto leftBehind = [&](const QString &id, qint64 ageMs) {
            QFile file(f.partPath(id));
            QVERIFY(file.open(QIODevice::WriteOnly));
            file.write("left behind by a crash");
            QVERIFY(file.flush());
            QVERIFY(file.setFileTime(QDateTime::currentDateTimeUtc().addMSecs(-ageMs),
                                     QFileDevice::FileModificationTime));
        };
        const QString orphan = QStringLiteral("0123456789abcdef0123456789abcdef");
        const QString young = QStringLiteral("fedcba9876543210fedcba9876543210");
        leftBehind(orphan, 25 * 3'600'000LL);
        leftBehind(young, 3'600'000LL);
        const QString live = f.create(10, peopleMetadata(), f.aliceToken);
        QFile liveFile(f.partPath(live));
        QVERIFY(liveFile.open(QIODevice::Append));
        QVERIFY(liveFile.setFileTime(QDateTime::currentDateTimeUtc().addDays(-2),
                                     QFileDevice::FileModificationTime));
        liveFile.close();
        QVERIFY(f.uploads->pruneExpired().ok());
        QVERIFY(!QFileInfo::exists(f.partPath(orphan)));
        QVERIFY(QFileInfo::exists(f.partPath(young))); // a crash only an hour ago: not yet
        QVERIFY(QFileInfo::exists(f.partPath(live)));  // its row decides, not its file
        QCOMPARE(f.head(live, f.aliceToken).status, 200);
    }

    // Item 11: tus's store work is not done on the network thread. PostgreSQL: with tus_uploads
    // locked ACCESS EXCLUSIVE (which blocks even reads), a PATCH and a HEAD wait for the store on
    // workers while the one network thread still answers OPTIONS. (SQLite readers never wait.)
    void storeWaitsDoNotHoldTheNetworkThread()
    {
        if (!onPostgres())
            QSKIP("PostgreSQL only: a SQLite reader never waits for a writer (WAL)");
        TusFixture f;
        f.server.reset(); // one network thread: a wait on it would hold every connection
        Http::HttpLimits limits;
        limits.networkThreads = 1;
        f.server = std::make_unique<Http::HttpServer>(*f.handler, limits);
        f.port = *f.server->listen(QHostAddress::LocalHost, 0);
        const QByteArray csv = csvRows(1, 20);
        const QString id = f.create(csv.size(), peopleMetadata(), f.aliceToken);
        QVERIFY(!id.isEmpty());

        const auto config = DatabaseConfig::fromUrl(f.t.location());
        QVERIFY(config.ok());
        QSqlDatabase db =
            QSqlDatabase::addDatabase(QStringLiteral("QPSQL"), QStringLiteral("tst_tus_locker"));
        db.setHostName(config->host);
        db.setPort(config->port);
        db.setUserName(config->user);
        db.setPassword(config->password);
        db.setDatabaseName(config->database);
        QVERIFY2(db.open(), qPrintable(db.lastError().text()));
        QSqlQuery lock(db);
        QVERIFY(lock.exec(QStringLiteral("BEGIN")));
        QVERIFY(lock.exec(QStringLiteral("LOCK TABLE tus_uploads IN ACCESS EXCLUSIVE MODE")));
        auto waiting = [&] {
            QSqlQuery q(db);
            q.exec(QStringLiteral("SELECT count(*) FROM pg_locks WHERE NOT granted"));
            return q.next() ? q.value(0).toInt() : -1;
        };
        auto answered = [&](QTcpSocket &socket) {
            return waitFor([&] { return socket.bytesAvailable() > 0; }, 20'000);
        };
        auto send = [&](QTcpSocket &socket, const QByteArray &request) {
            socket.connectToHost(QHostAddress::LocalHost, f.port);
            QVERIFY(socket.waitForConnected(10'000));
            socket.write(request);
            socket.flush();
        };
        const QByteArray auth = "Authorization: Bearer " + f.aliceToken + "\r\n";
        QTcpSocket patch, head, options1, options2;
        send(patch, "PATCH /api/v1/tus/" + id.toLatin1() + " HTTP/1.1\r\nHost: x\r\n" + auth +
                        "Tus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n"
                        "Content-Type: application/offset+octet-stream\r\nContent-Length: " +
                        QByteArray::number(csv.size()) + "\r\n\r\n" + csv);
        QVERIFY(waitFor([&] { return waiting() >= 1; })); // the PATCH waits for the store
        send(options1, "OPTIONS /api/v1/tus HTTP/1.1\r\nHost: x\r\n\r\n");
        const bool firstAnswered = answered(options1);
        send(head, "HEAD /api/v1/tus/" + id.toLatin1() + " HTTP/1.1\r\nHost: x\r\n" + auth +
                       "Tus-Resumable: 1.0.0\r\n\r\n");
        const bool headWaits = waitFor([&] { return waiting() >= 2; }, 20'000);
        send(options2, "OPTIONS /api/v1/tus HTTP/1.1\r\nHost: x\r\n\r\n");
        const bool secondAnswered = answered(options2);
        QVERIFY(lock.exec(QStringLiteral("ROLLBACK"))); // before any verdict: the server goes on
        QVERIFY2(firstAnswered, "a PATCH waiting for the store held the network thread");
        QVERIFY(headWaits);
        QVERIFY2(secondAnswered, "a HEAD waiting for the store held the network thread");
        QVERIFY(answered(patch));
        QVERIFY(patch.readAll().startsWith("HTTP/1.1 204"));
        QVERIFY(answered(head));
        QVERIFY(head.readAll().startsWith("HTTP/1.1 200"));
        db.close();
    }

    // The body that arrives while its append is still beginning waits in memory, bounded: past
    // TusOptions::maxPendingBytes the PATCH is refused (503, resume from HEAD), nothing is
    // written, and the upload is free again once the store answers.
    void bodyWaitingForItsAppendIsBounded()
    {
        if (!onPostgres())
            QSKIP("PostgreSQL only: a SQLite reader never waits for a writer (WAL)");
        TusFixture f;
        TusOptions options = f.uploads->options();
        options.maxPendingBytes = 1024;
        f.server.reset();
        f.handler.reset();
        f.tus.reset();
        f.uploads = std::make_unique<TusUploads>(*f.t.store, *f.queue, f.blobs, f.t.clock, nullptr,
                                                 options);
        f.tus = std::make_unique<TusRoutes>(*f.uploads);
        f.handler = std::make_unique<ApiHandler>(*f.users, *f.limiter, ClientAddress(), &f.log);
        f.handler->addRoutes(*f.jobs);
        f.handler->addRoutes(*f.tus);
        f.server = std::make_unique<Http::HttpServer>(*f.handler);
        f.port = *f.server->listen(QHostAddress::LocalHost, 0);
        const QByteArray csv = csvRows(1, 2000); // far over 1 KiB
        const QString id = f.create(csv.size(), peopleMetadata(), f.aliceToken);
        QVERIFY(!id.isEmpty());

        const auto config = DatabaseConfig::fromUrl(f.t.location());
        QSqlDatabase db =
            QSqlDatabase::addDatabase(QStringLiteral("QPSQL"), QStringLiteral("tst_tus_bounded"));
        db.setHostName(config->host);
        db.setPort(config->port);
        db.setUserName(config->user);
        db.setPassword(config->password);
        db.setDatabaseName(config->database);
        QVERIFY2(db.open(), qPrintable(db.lastError().text()));
        QSqlQuery lock(db);
        QVERIFY(lock.exec(QStringLiteral("BEGIN")));
        QVERIFY(lock.exec(QStringLiteral("LOCK TABLE tus_uploads IN ACCESS EXCLUSIVE MODE")));
        QTcpSocket patch;
        patch.connectToHost(QHostAddress::LocalHost, f.port);
        QVERIFY(patch.waitForConnected(10'000));
        patch.write("PATCH /api/v1/tus/" + id.toLatin1() +
                    " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + f.aliceToken +
                    "\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n"
                    "Content-Type: application/offset+octet-stream\r\nContent-Length: " +
                    QByteArray::number(csv.size()) + "\r\n\r\n" + csv);
        patch.flush();
        const bool answered = waitFor(
            [&] {
                return patch.bytesAvailable() > 0 || patch.state() != QTcpSocket::ConnectedState;
            },
            20'000);
        const QByteArray reply = patch.readAll();
        QVERIFY(lock.exec(QStringLiteral("ROLLBACK")));
        QVERIFY(answered);
        QVERIFY2(reply.startsWith("HTTP/1.1 503"), reply.constData());
        QVERIFY(reply.contains("Retry-After: 1"));
        // Nothing was written, and the append that began late let go of the upload.
        QVERIFY(waitFor([&] { return f.patch(id, 0, csv.left(10), f.aliceToken).status == 204; }));
        QCOMPARE(f.head(id, f.aliceToken).header("upload-offset"), QByteArray("10"));
        db.close();
    }

    void getRoutesStillAnswerHead()
    {
        TusFixture f;
        // HEAD on a GET-only route is served by it (404: no such job), not refused with 405.
        QCOMPARE(f.call("HEAD", QStringLiteral("/api/v1/jobs/999"), f.aliceToken).status, 404);
        const TusReply get = f.call(
            "GET", QStringLiteral("/api/v1/tus/0123456789abcdef0123456789abcdef"), f.aliceToken);
        QCOMPARE(get.status, 405);
        QVERIFY(get.header("allow").contains("HEAD"));
    }
};

QTEST_GUILESS_MAIN(tst_Tus)
#include "tst_tus.moc"
