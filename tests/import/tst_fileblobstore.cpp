#include "storage/fileblobstore.h"

#include <QCryptographicHash>
#include <QDir>
#include <QFile>
#include <QStorageInfo>
#include <QTemporaryDir>
#include <QTest>

using namespace Ferry;

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

        QVERIFY(store.remove(blob->id).ok());
        QVERIFY(!store.contains(blob->id));
        QCOMPARE(store.localPath(blob->id).error().code, ErrorCode::NotFound);
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
