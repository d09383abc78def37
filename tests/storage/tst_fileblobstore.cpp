#include "storage/fileblobstore.h"

#include <QDirIterator>
#include <QFileInfo>
#include <QThread>

#include <atomic>
#include <fcntl.h>
#include <sys/stat.h>

#include <QCryptographicHash>
#include <QDir>
#include <QFile>
#include <QStorageInfo>
#include <QTemporaryDir>
#include <QTest>

using namespace Ferry;

namespace {

Result<BlobInfo> store(BlobStore &blobs, const QByteArray &content)
{
    auto writer = blobs.create(content.size());
    if (!writer)
        return writer.error();
    if (auto written = (*writer)->write(content.constData(), content.size()); !written)
        return written.error();
    return (*writer)->commit();
}

// Moves a file's modification time (a blob's lease stamp) back by `ms`.
void age(const QString &path, qint64 ms)
{
    struct stat info
    {};
    QVERIFY(::stat(QFile::encodeName(path).constData(), &info) == 0);
    timespec times[2];
    times[0].tv_sec = 0;
    times[0].tv_nsec = UTIME_OMIT;
    times[1] = info.st_mtim;
    times[1].tv_sec -= time_t(ms / 1000 + 1);
    QVERIFY(::utimensat(AT_FDCWD, QFile::encodeName(path).constData(), times, 0) == 0);
}

ino_t inodeOf(const QString &path)
{
    struct stat info
    {};
    return ::stat(QFile::encodeName(path).constData(), &info) == 0 ? info.st_ino : 0;
}

} // namespace

class tst_FileBlobStore : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void storesContentAddressed()
    {
        QTemporaryDir dir;
        FileBlobStore store(dir.path(), 0);
        auto writer = store.create(-1);
        QVERIFY(writer.ok());
        const QByteArray content = QByteArray("id,name\n1,Ann\n").repeated(1000);
        for (qsizetype i = 0; i < content.size(); i += 777)
            QVERIFY((*writer)
                        ->write(content.constData() + i, qMin<qsizetype>(777, content.size() - i))
                        .ok());
        auto blob = (*writer)->commit();
        QVERIFY(blob.ok());
        QCOMPARE(blob->id,
                 QString::fromLatin1(
                     QCryptographicHash::hash(content, QCryptographicHash::Sha256).toHex()));
        QCOMPARE(blob->size, content.size());
        auto path = store.localPath(blob->id);
        QVERIFY(path.ok());
        QFile file(*path);
        QVERIFY(file.open(QIODevice::ReadOnly));
        QCOMPARE(file.readAll(), content);
        QVERIFY(QDir(dir.path() + QStringLiteral("/tmp")).isEmpty()); // nothing left behind

        // The same content again: one blob.
        auto again = store.create(-1);
        QVERIFY((*again)->write(content.constData(), content.size()).ok());
        QCOMPARE((*again)->commit()->id, blob->id);
        QVERIFY(QDir(dir.path() + QStringLiteral("/tmp")).isEmpty());

        // Without a lease a fresh blob stays (another upload may be about to refer to it); the
        // last commit's own lease removes it.
        QVERIFY(store.remove(blob->id).ok());
        QVERIFY(store.contains(blob->id));
        auto last = store.create(-1);
        QVERIFY((*last)->write(content.constData(), content.size()).ok());
        auto lastBlob = (*last)->commit();
        // Others took it moments ago: the last commit's lease is shared and keeps the blob.
        QCOMPARE(lastBlob->lease, FileBlobStore::SharedLease);
        QVERIFY(store.remove(blob->id, lastBlob->lease).ok());
        QVERIFY(store.contains(blob->id));
        // A blob only one upload took goes with that upload's own lease.
        QTemporaryDir otherDir;
        FileBlobStore single(otherDir.path(), 0);
        auto only = single.create(-1);
        QVERIFY((*only)->write(content.constData(), content.size()).ok());
        auto onlyBlob = (*only)->commit();
        QVERIFY(onlyBlob.ok());
        QVERIFY(single.remove(onlyBlob->id, onlyBlob->lease).ok());
        QVERIFY(!single.contains(onlyBlob->id));
        QCOMPARE(single.localPath(onlyBlob->id).error().code, ErrorCode::NotFound);
    }

    void abandonedWriteLeavesNothing()
    {
        QTemporaryDir dir;
        FileBlobStore store(dir.path(), 0);
        {
            auto writer = store.create(-1);
            QVERIFY((*writer)->write("partial", 7).ok());
        } // a client that went away
        QVERIFY(QDir(dir.path() + QStringLiteral("/tmp")).isEmpty());
    }

    void refusesBelowTheFreeDiskFloor()
    {
        QTemporaryDir dir;
        const qint64 available = QStorageInfo(dir.path()).bytesAvailable();
        FileBlobStore store(dir.path(), available + (qint64(1) << 30)); // more than there is
        auto writer = store.create(10);
        QVERIFY(!writer.ok());
        QCOMPARE(writer.error().code, ErrorCode::InsufficientStorage);
        QVERIFY(writer.error().message.contains(u"free disk space"));
        // An upload that would cross the floor is refused before it starts.
        FileBlobStore roomy(dir.path(), 0);
        auto big = roomy.create(available + (qint64(1) << 30));
        QVERIFY(!big.ok());
    }

    // Issue 12 item 8: upload B commits content X, upload A commits the same content (its 202 is
    // on the way, its session not written yet), then B is refused and removes "its" blob: A's
    // file must stay. Each step is one call, so the interleaving is exact.
    void aRefusedUploadCannotDeleteAnAcknowledgedOnesBlob()
    {
        QTemporaryDir dir;
        FileBlobStore blobs(dir.path(), 0);
        const QByteArray content = "id,name\n1,Ann\n";
        auto b = store(blobs, content);
        QVERIFY(b.ok());
        auto a = store(blobs, content); // de-duplicated: the same file
        QVERIFY(a.ok());
        QCOMPARE(a->id, b->id);
        QVERIFY(a->lease != b->lease);
        // B's cleanup: the store says no session refers to the blob (A's is not written yet).
        QVERIFY(blobs.remove(b->id, b->lease).ok());
        QVERIFY2(blobs.contains(a->id), "the acknowledged upload lost its file");
        // Retention without a lease does not take it either, while A's lease runs.
        QVERIFY(blobs.remove(a->id).ok());
        QVERIFY(blobs.contains(a->id));
        // A took it while B's lease ran: A's lease is shared, so even A's own cleanup keeps it
        // (neither knows whether the other was acknowledged); collection removes it later.
        QCOMPARE(a->lease, FileBlobStore::SharedLease);
        QVERIFY(blobs.remove(a->id, a->lease).ok());
        QVERIFY(blobs.contains(a->id));
    }

    // The same race run concurrently: a committer that takes the blob and then checks its file
    // is there, against a remover that deletes with its own (older) lease. Bounded iterations.
    void concurrentCommitsAndRemovalsNeverLoseATakenBlob()
    {
        QTemporaryDir dir;
        FileBlobStore blobs(dir.path(), 0);
        const QByteArray content = "id\n1\n";
        std::atomic<bool> lost = false;
        std::atomic<int> rounds = 0;
        QThread *remover = QThread::create([&] {
            for (int i = 0; i < 300; ++i) {
                auto mine = store(blobs, content);
                if (mine)
                    (void)blobs.remove(mine->id, mine->lease);
            }
        });
        remover->start();
        while (!remover->isFinished() || rounds < 300) {
            auto taken = store(blobs, content);
            QVERIFY(taken.ok());
            if (!blobs.contains(taken->id))
                lost = true;
            (void)blobs.remove(taken->id, taken->lease); // as if refused too
            ++rounds;
        }
        remover->wait();
        delete remover;
        QVERIFY(!lost);
    }

    // Item 5: a finished file is taken into the store by a link, not a copy.
    void adoptLinksInsteadOfCopying()
    {
        QTemporaryDir dir;
        FileBlobStore blobs(dir.path(), 0);
        QDir().mkpath(dir.path() + QStringLiteral("/tus"));
        const QString part = dir.path() + QStringLiteral("/tus/x.part");
        QFile file(part);
        QVERIFY(file.open(QIODevice::WriteOnly));
        file.write(QByteArray("a,b\n1,2\n").repeated(1000));
        file.close();
        auto blob = blobs.adopt(part);
        QVERIFY2(blob.ok(), qPrintable(blob.error().toString()));
        QCOMPARE(blob->size, 8000);
        QCOMPARE(inodeOf(*blobs.localPath(blob->id)), inodeOf(part));
        QVERIFY(QFile::exists(part)); // the caller's file stays until the caller is done
    }

    // Item 12: abandoned temporary files and orphaned blobs are collected once older than the
    // lease; a live writer's file, a referenced blob and a young blob are not.
    void collectRemovesWhatNobodyUses()
    {
        QTemporaryDir dir;
        FileBlobStore::Options options;
        options.leaseMs = 60'000;
        FileBlobStore blobs(dir.path(), 0, options);
        auto orphan = store(blobs, "orphan\n");
        auto used = store(blobs, "used\n");
        auto young = store(blobs, "young\n");
        age(*blobs.localPath(orphan->id), 120'000);
        age(*blobs.localPath(used->id), 120'000);
        auto live = blobs.create(-1); // an upload still being written
        QVERIFY((*live)->write("x", 1).ok());
        // A crash mid-upload leaves its temporary file behind.
        QFile crashed(dir.path() + QStringLiteral("/tmp/upload-crashed"));
        QVERIFY(crashed.open(QIODevice::WriteOnly));
        crashed.write("z");
        crashed.close();
        age(crashed.fileName(), 120'000);
        QDirIterator it(dir.path() + QStringLiteral("/tmp"), QDir::Files);
        while (it.hasNext())
            age(it.next(), 120'000); // the live writer's too: its lock protects it

        int queries = 0;
        auto collected = blobs.collect([&](const QString &id) -> Result<bool> {
            ++queries;
            return id == used->id;
        });
        QVERIFY2(collected.ok(), qPrintable(collected.error().toString()));
        QCOMPARE(collected->blobs, 1);
        QCOMPARE(collected->temporaryFiles, 1);
        QCOMPARE(queries, 2); // the young blob is not even asked about
        QVERIFY(!blobs.contains(orphan->id));
        QVERIFY(blobs.contains(used->id));
        QVERIFY(blobs.contains(young->id));
        QVERIFY(!crashed.exists());
        QVERIFY((*live)->write("x", 1).ok());
        QVERIFY((*live)->commit().ok());
    }

    // A commit that takes an old blob renews it: collection right after keeps it.
    void collectKeepsABlobTakenAfterTheQuery()
    {
        QTemporaryDir dir;
        FileBlobStore::Options options;
        options.leaseMs = 60'000;
        FileBlobStore blobs(dir.path(), 0, options);
        auto old = store(blobs, "old\n");
        age(*blobs.localPath(old->id), 120'000);
        auto collected = blobs.collect([&](const QString &) -> Result<bool> {
            // Between the store's answer and the removal another upload takes the blob.
            auto taken = store(blobs, "old\n");
            if (!taken)
                return taken.error();
            return false;
        });
        QVERIFY(collected.ok());
        QCOMPARE(collected->blobs, 0);
        QVERIFY(blobs.contains(old->id));
    }

    void rejectsForeignIds()
    {
        QTemporaryDir dir;
        FileBlobStore store(dir.path(), 0);
        QVERIFY(!store.contains(QStringLiteral("../../etc/passwd")));
        QCOMPARE(store.localPath(QStringLiteral("../x")).error().code, ErrorCode::NotFound);
        QCOMPARE(store.remove(QStringLiteral("../x")).error().code, ErrorCode::InvalidArgument);
    }
};

QTEST_GUILESS_MAIN(tst_FileBlobStore)
#include "tst_fileblobstore.moc"
