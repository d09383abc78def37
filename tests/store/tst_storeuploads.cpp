// The store's upload side as a contract, run on SQLite and on PostgreSQL: tus upload records
// (create, read per user, offsets, completion, stale listing, a duplicate id as a conflict) and an
// upload session's job. Idempotency keys are in tst_idempotencykeys.
#include "testsupport.h"

#include <QJsonObject>
#include <QTest>

using namespace Ferry;
using namespace Ferry::Test;

namespace {

constexpr qint64 Now = 1'700'000'000'000;

TusUploadRecord tusRecord(const QString &id, qint64 userId, qint64 updatedAt)
{
    TusUploadRecord upload;
    upload.id = id;
    upload.userId = userId;
    upload.length = 1000;
    upload.offset = 0;
    upload.metadata = QJsonObject{{QStringLiteral("dataset"), QStringLiteral("people")},
                                  {QStringLiteral("filename"), QStringLiteral("p.csv")}};
    upload.quota = QJsonObject{{QStringLiteral("reservation"), 7}};
    upload.createdAt = updatedAt;
    upload.updatedAt = updatedAt;
    return upload;
}

} // namespace

class tst_StoreUploads : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void tusUploadLifecycle()
    {
        TempStore t;
        const qint64 alice = t.addUser(QStringLiteral("alice"));
        const qint64 bob = t.addUser(QStringLiteral("bob"));
        const QString id = QStringLiteral("0123456789abcdef0123456789abcdef");
        auto inserted = t.store->insertTusUpload(tusRecord(id, alice, Now));
        QVERIFY2(inserted.ok(), qPrintable(inserted.error().message));

        auto read = t.store->tusUpload(id, alice);
        QVERIFY2(read.ok(), qPrintable(read.error().message));
        QVERIFY(read->has_value());
        QCOMPARE((*read)->length, 1000);
        QCOMPARE((*read)->offset, 0);
        QCOMPARE((*read)->metadata.value(u"filename").toString(), QStringLiteral("p.csv"));
        QCOMPARE((*read)->quota.value(u"reservation").toInt(), 7);
        QVERIFY(!(*read)->complete());
        // Another user's upload is not found; without a user scope it is.
        QVERIFY(!t.store->tusUpload(id, bob)->has_value());
        QVERIFY(t.store->tusUpload(id, std::nullopt)->has_value());
        QVERIFY(!t.store->tusUpload(QStringLiteral("missing"), std::nullopt)->has_value());

        QVERIFY(t.store->setTusOffset(id, 400, Now + 5).ok());
        read = t.store->tusUpload(id, alice);
        QCOMPARE((*read)->offset, 400);
        QCOMPARE((*read)->updatedAt, Now + 5);

        // Completing sets the offset to the length and drops the quota reservation.
        QVERIFY(t.store->completeTusUpload(id, QStringLiteral("sess-1"), 42, Now + 9).ok());
        read = t.store->tusUpload(id, alice);
        QCOMPARE((*read)->offset, 1000);
        QCOMPARE((*read)->sessionId, QStringLiteral("sess-1"));
        QCOMPARE((*read)->jobId, 42);
        QVERIFY((*read)->quota.isEmpty());
        QVERIFY((*read)->complete());

        QVERIFY(t.store->deleteTusUpload(id).ok());
        QVERIFY(!t.store->tusUpload(id, std::nullopt)->has_value());
    }

    void tusDuplicateIdIsAConflictAndStaleUploadsAreListedOldestFirst()
    {
        TempStore t;
        const qint64 alice = t.addUser(QStringLiteral("alice"));
        QVERIFY(t.store->insertTusUpload(tusRecord(QStringLiteral("b"), alice, Now + 2)).ok());
        QVERIFY(t.store->insertTusUpload(tusRecord(QStringLiteral("a"), alice, Now + 1)).ok());
        QVERIFY(t.store->insertTusUpload(tusRecord(QStringLiteral("c"), alice, Now + 9)).ok());
        // The unique id decides (a unique violation on either backend): a Conflict.
        auto duplicate = t.store->insertTusUpload(tusRecord(QStringLiteral("a"), alice, Now));
        QVERIFY(!duplicate.ok());
        QCOMPARE(duplicate.error().code, ErrorCode::Conflict);
        QVERIFY(duplicate.error().message.contains(u"creating upload a"));
        // An unknown user violates the foreign key: a storage error.
        auto orphan = t.store->insertTusUpload(tusRecord(QStringLiteral("d"), 9999, Now));
        QVERIFY(!orphan.ok());
        QCOMPARE(orphan.error().code, ErrorCode::Storage);

        auto stale = t.store->staleTusUploads(Now + 5, 10);
        QVERIFY2(stale.ok(), qPrintable(stale.error().message));
        QCOMPARE(stale->size(), 2);
        QCOMPARE(stale->at(0).id, QStringLiteral("a"));
        QCOMPARE(stale->at(1).id, QStringLiteral("b"));
        QCOMPARE(t.store->staleTusUploads(Now + 100, 1)->size(), 1);
    }

    void sessionJobIsTheNewestJobOfTheSession()
    {
        TempStore t;
        const qint64 alice = t.addUser(QStringLiteral("alice"));
        QVERIFY(!t.store->sessionJob(QStringLiteral("sess"))->has_value());
        NewJob job;
        job.userId = alice;
        job.type = QStringLiteral("noop");
        job.maxAttempts = 3;
        job.session = UploadSession{
            QStringLiteral("sess"), alice, QStringLiteral("f.csv"), QStringLiteral("text/csv"), 10,
            QStringLiteral("00"),   Now};
        auto first = t.store->enqueue({job}, Now);
        QVERIFY2(first.ok(), qPrintable(first.error().message));
        auto found = t.store->sessionJob(QStringLiteral("sess"));
        QVERIFY2(found.ok(), qPrintable(found.error().message));
        QVERIFY(found->has_value());
        QCOMPARE((*found)->jobId, first->at(0).id);
        QCOMPARE((*found)->status, JobStatus::Pending);
        QCOMPARE(*t.store->cancelJob(first->at(0).id, alice, Now + 1), JobStatus::Cancelled);
        found = t.store->sessionJob(QStringLiteral("sess"));
        QCOMPARE((*found)->status, JobStatus::Cancelled);
    }
};

QTEST_GUILESS_MAIN(tst_StoreUploads)
#include "tst_storeuploads.moc"
