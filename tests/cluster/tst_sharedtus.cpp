// Uploads reachable from every node: two TusUploads (two nodes, each with its own in-process
// locks) on one store and one shared --blob-dir. A PATCH may land on either node; while one node
// appends to an upload, the other refuses a second append (Conflict, from the lock on the .part
// file, which the in-process lock cannot see), and once the first is done the other node resumes
// at the durable offset and completes the upload.
#include "migrate/migratehandler.h"
#include "queue/builtinhandlers.h"
#include "queue/jobqueue.h"
#include "storage/fileblobstore.h"
#include "testsupport.h"
#include "uploads/tusuploads.h"

#include <QDir>
#include <QTest>

using namespace Ferry;

class tst_SharedTus : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void appendsOnTwoNodesTakeTurns();
};

void tst_SharedTus::appendsOnTwoNodesTakeTurns()
{
    Test::TempStore t;
    const QString blobDir = t.dir.path() + QStringLiteral("/shared-blobs");
    FileBlobStore blobs(blobDir, 0);
    HandlerRegistry handlers;
    registerBuiltinHandlers(handlers);
    handlers.add(
        QStringLiteral("migrate"),
        std::make_shared<MigrateHandler>(t.store->datasets(), blobs, t.clock, MigrateConfig{}));
    JobQueue queue(*t.store, handlers, t.clock, QueueConfig{});
    const qint64 alice = t.addUser(QStringLiteral("alice"));
    TusOptions options;
    options.directory = blobDir + QStringLiteral("/tus");
    TusUploads nodeA(*t.store, queue, blobs, t.clock, nullptr, options);
    TusUploads nodeB(*t.store, queue, blobs, t.clock, nullptr, options);

    const QByteArray csv = "id,name\n1,ada\n2,grace\n";
    const QJsonObject metadata{{QStringLiteral("dataset"), QStringLiteral("people")},
                               {QStringLiteral("format"), QStringLiteral("csv")}};
    auto created = nodeA.create(alice, csv.size(), metadata);
    QVERIFY2(created.ok(), created ? "" : qPrintable(created.error().toString()));
    QVERIFY(created->upload.has_value());
    const QString id = created->upload->id;

    // Node A appends the first half; meanwhile node B cannot start an append.
    auto first = nodeA.beginAppend(id, alice, 0);
    QVERIFY2(first.ok(), first ? "" : qPrintable(first.error().toString()));
    auto concurrent = nodeB.beginAppend(id, alice, 0);
    QVERIFY(!concurrent.ok());
    QCOMPARE(concurrent.error().code, ErrorCode::Conflict);
    QVERIFY((*first)->write(QByteArrayView(csv).first(10)));
    auto afterFirst = (*first)->commit();
    QVERIFY(afterFirst.ok());
    QCOMPARE(afterFirst->offset, 10);
    first->reset(); // the request ends: the file is closed, its lock released

    // The next PATCH reaches node B: it sees the durable offset and finishes the upload.
    QVERIFY(!nodeB.beginAppend(id, alice, 0).ok()); // a stale offset is still refused
    auto second = nodeB.beginAppend(id, alice, 10);
    QVERIFY2(second.ok(), second ? "" : qPrintable(second.error().toString()));
    QVERIFY((*second)->write(QByteArrayView(csv).sliced(10)));
    auto done = (*second)->commit();
    QVERIFY2(done.ok(), done ? "" : qPrintable(done.error().toString()));
    QVERIFY(done->complete());
    QVERIFY(!done->sessionId.isEmpty());
    // The content went into the shared blob store; no partial file is left.
    QVERIFY(QDir(options.directory).entryList(QDir::Files).isEmpty());
    auto session = t.store->session(done->sessionId, alice);
    QVERIFY(session.ok() && session->has_value());
    QVERIFY(blobs.contains((*session)->blobId));
}

QTEST_GUILESS_MAIN(tst_SharedTus)
#include "tst_sharedtus.moc"
