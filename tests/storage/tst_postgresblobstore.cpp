// PostgresBlobStore on the fixture's PostgreSQL server: blobs and tus partials as chunk rows.
#include "core/sha256.h"
#include "pgtestsupport.h"
#include "rssmeaningful.h"
#include "storage/postgresblobstore.h"
#include "store/postgresstore.h"
#include "testsupport.h"

#include <QElapsedTimer>
#include <QFile>
#include <QRandomGenerator>
#include <QTest>
#include <QThread>

using namespace Ferry;

namespace {

Result<BlobInfo> store(BlobStore &blobs, const QByteArray &content, qsizetype piece = 7'000)
{
    auto writer = blobs.create(content.size());
    if (!writer)
        return writer.error();
    // Pieces that do not line up with chunks, as a network delivers them.
    for (qsizetype at = 0; at < content.size(); at += piece) {
        const QByteArrayView part =
            QByteArrayView(content).sliced(at).first(std::min(piece, content.size() - at));
        if (auto written = (*writer)->write(part.data(), part.size()); !written)
            return written.error();
    }
    return (*writer)->commit();
}

QByteArray readAll(BlobStore &blobs, const QString &id)
{
    auto reader = blobs.open(id);
    if (!reader)
        return "<" + reader.error().toString().toUtf8() + ">";
    QByteArray all;
    while (true) {
        auto piece = (*reader)->read(50'000);
        if (!piece)
            return "<" + piece.error().toString().toUtf8() + ">";
        if (piece->isEmpty())
            return all;
        all.append(*piece);
    }
}

QByteArray randomBytes(qsizetype size, quint32 seed)
{
    QByteArray bytes(size, Qt::Uninitialized);
    QRandomGenerator generator(seed);
    generator.fillRange(reinterpret_cast<quint32 *>(bytes.data()), size / 4);
    return bytes;
}

QString hexSha(const QByteArray &content)
{
    return QString::fromLatin1(Sha256::hash(content).toHex());
}

// This process's peak resident memory since resetPeak() (VmHWM), in bytes.
qint64 peakRss()
{
    QFile status(QStringLiteral("/proc/self/status"));
    if (!status.open(QIODevice::ReadOnly))
        return -1;
    for (const QByteArray &line : status.readAll().split('\n')) {
        if (line.startsWith("VmHWM:"))
            return line.mid(6).trimmed().split(' ').first().toLongLong() * 1024;
    }
    return -1;
}

bool resetPeak()
{
    QFile clear(QStringLiteral("/proc/self/clear_refs"));
    return clear.open(QIODevice::WriteOnly) && clear.write("5") == 1;
}

} // namespace

class tst_PostgresBlobStore : public QObject
{
    Q_OBJECT

private:
    std::unique_ptr<PostgresBlobStore> blobStore(PostgresBlobStore::Options options = {})
    {
        return std::make_unique<PostgresBlobStore>(m_config, options);
    }
    qint64 count(const char *sql)
    {
        QString error;
        const auto rows = Test::readRows(m_url, QString::fromLatin1(sql), &error);
        if (!error.isEmpty() || rows.isEmpty())
            qWarning() << error;
        return rows.isEmpty() ? -1 : rows.first().first().toLongLong();
    }
    void write(const QString &sql)
    {
        QString error;
        Test::writeRows(m_url, sql, &error);
        QVERIFY2(error.isEmpty(), qPrintable(error));
    }
    // A tus upload row of a user (the store's own insert), with room for its bytes.
    QString newUpload(PostgresBlobStore &blobs, qint64 length)
    {
        static int sequence = 0;
        TusUploadRecord upload;
        upload.id = QStringLiteral("%1").arg(++sequence, 32, 10, QLatin1Char('0'));
        upload.userId = m_userId;
        upload.length = length;
        upload.createdAt = upload.updatedAt = 1000;
        if (auto inserted = m_store->insertTusUpload(upload); !inserted)
            qWarning() << inserted.error().toString();
        if (auto made = blobs.createPart(upload.id); !made)
            qWarning() << made.error().toString();
        return upload.id;
    }

    qint64 offsetOf(const QString &id)
    {
        auto upload = m_store->tusUpload(id, std::nullopt);
        return upload && upload->has_value() ? (*upload)->offset : -1;
    }

    QString m_url;
    DatabaseConfig m_config;
    std::unique_ptr<PostgresStore> m_store;
    qint64 m_userId = 0;

private Q_SLOTS:
    void init()
    {
        if (Test::postgresTestUrl().isEmpty())
            QSKIP("no PostgreSQL test server (run through ctest, or set FERRY_TEST_PG_URL)");
        QString error;
        m_url = Test::createPostgresTestDatabase(QStringLiteral("blobs"), &error);
        QVERIFY2(!m_url.isEmpty(), qPrintable(error));
        auto config = DatabaseConfig::fromUrl(m_url);
        QVERIFY(config.ok());
        m_config = *config;
        auto opened = PostgresStore::open(m_config); // migrates: the blob tables are 0016
        QVERIFY2(opened.ok(), opened ? "" : qPrintable(opened.error().toString()));
        m_store = std::move(*opened);
        auto user = m_store->createUser(QStringLiteral("alice"), QStringLiteral("standard"),
                                        Sha256::hash("token"), 1000);
        QVERIFY2(user.ok(), user ? "" : qPrintable(user.error().toString()));
        m_userId = user->id;
    }

    void cleanup() { m_store.reset(); }

    void storesAndReadsBackAcrossChunks()
    {
        PostgresBlobStore::Options options;
        options.chunkBytes = 64 * 1024; // many chunks from a small blob
        auto blobs = blobStore(options);
        const QByteArray content = randomBytes(1'000'003, 1);
        auto blob = store(*blobs, content);
        QVERIFY2(blob.ok(), blob ? "" : qPrintable(blob.error().toString()));
        QCOMPARE(blob->id, hexSha(content));
        QCOMPARE(blob->size, content.size());
        QVERIFY(blobs->contains(blob->id));
        QCOMPARE(count("SELECT count(*) FROM blob_chunks"), (content.size() + 65535) / 65536);
        QVERIFY(readAll(*blobs, blob->id) == content);

        // Skipping lands inside a chunk, and reading goes on across the next ones.
        auto reader = blobs->open(blob->id);
        QVERIFY(reader.ok());
        QCOMPARE((*reader)->size(), content.size());
        QCOMPARE(*(*reader)->skip(100'000), 100'000);
        auto piece = (*reader)->read(200'000);
        QVERIFY(piece.ok());
        QVERIFY(!piece->isEmpty());
        QVERIFY(*piece == QByteArrayView(content).sliced(100'000, piece->size()));
        QCOMPARE(*(*reader)->skip(10'000'000), content.size() - 100'000 - piece->size());
        QVERIFY((*reader)->read(10)->isEmpty());

        QCOMPARE(blobs->open(hexSha("absent")).error().code, ErrorCode::NotFound);
        QCOMPARE(blobs->open(QStringLiteral("../x")).error().code, ErrorCode::NotFound);
    }

    void deduplicatesEqualContent()
    {
        auto blobs = blobStore();
        const QByteArray content = randomBytes(3 << 20, 2);
        auto first = store(*blobs, content);
        auto second = store(*blobs, content);
        QVERIFY(first.ok() && second.ok());
        QCOMPARE(second->id, first->id);
        // Taken within the lease period: the second commit's lease deletes nothing.
        QCOMPARE(second->lease, PostgresBlobStore::SharedLease);
        QCOMPARE(count("SELECT count(*) FROM blobs"), 1);
        QCOMPARE(count("SELECT count(*) FROM blob_data"), 1); // the copy went
        QCOMPARE(count("SELECT count(*) FROM blob_chunks"), 3);
    }

    void removeKeepsWhatAnotherUploadTook()
    {
        auto blobs = blobStore();
        auto mine = store(*blobs, "one,two\n1,2\n");
        QVERIFY(mine.ok());
        QVERIFY(mine->lease > 0);
        // Without a lease (retention) a blob taken within the lease period stays.
        QVERIFY(blobs->remove(mine->id, 0).ok());
        QVERIFY(blobs->contains(mine->id));
        // Another upload commits the same content: my refusal's removal must leave it.
        auto theirs = store(*blobs, "one,two\n1,2\n");
        QVERIFY(theirs.ok());
        QVERIFY(blobs->remove(mine->id, mine->lease).ok());
        QVERIFY(blobs->contains(mine->id));
        QVERIFY(blobs->remove(mine->id, theirs->lease).ok()); // SharedLease: never
        QVERIFY(blobs->contains(mine->id));

        // Alone, my own lease removes it, data and all.
        auto alone = store(*blobs, "a\n1\n");
        QVERIFY(alone.ok());
        QVERIFY(blobs->remove(alone->id, alone->lease).ok());
        QVERIFY(!blobs->contains(alone->id));
        QCOMPARE(count("SELECT count(*) FROM blob_data"), 1);
    }

    void collectRemovesUnreferencedAndAbandoned()
    {
        PostgresBlobStore::Options options;
        options.leaseMs = 3000; // long enough for the early pass, on a busy machine too
        auto blobs = blobStore(options);
        auto used = store(*blobs, "used\n");
        auto orphan = store(*blobs, "orphan\n");
        QVERIFY(used.ok() && orphan.ok());
        // A writer that died (its node killed): data rows no blob owns.
        write(QStringLiteral("INSERT INTO blob_data (touched_at) VALUES (0)"));
        // A live upload's data is untouched: it was written just now.
        auto writer = blobs->create(-1);
        QVERIFY(writer.ok());
        const QByteArray chunk = randomBytes(1 << 20, 3);
        QVERIFY((*writer)->write(chunk.constData(), chunk.size()).ok());
        QVERIFY(Test::waitFor([&] { return count("SELECT count(*) FROM blob_chunks") == 3; }));

        auto early = blobs->collect([](const QString &) { return Result<bool>(false); });
        QVERIFY(early.ok());
        QCOMPARE(early->blobs, 0); // within the lease period
        QCOMPARE(early->temporaryFiles, 1);

        QThread::msleep(options.leaseMs + 200);
        auto touched = (*writer)->write(chunk.constData(), chunk.size()); // renews its data
        QVERIFY(touched.ok());
        QVERIFY(Test::waitFor([&] { return count("SELECT count(*) FROM blob_chunks") == 4; }));
        auto collected =
            blobs->collect([&](const QString &id) { return Result<bool>(id == used->id); });
        QVERIFY2(collected.ok(), collected ? "" : qPrintable(collected.error().toString()));
        QCOMPARE(collected->blobs, 1);
        QCOMPARE(collected->temporaryFiles, 0);
        QVERIFY(blobs->contains(used->id));
        QVERIFY(!blobs->contains(orphan->id));
        auto committed = (*writer)->commit();
        QVERIFY2(committed.ok(), committed ? "" : qPrintable(committed.error().toString()));
        QVERIFY(readAll(*blobs, committed->id) == chunk + chunk);
    }

    void droppedWriterRemovesItsChunks()
    {
        auto blobs = blobStore();
        {
            auto writer = blobs->create(-1);
            QVERIFY(writer.ok());
            const QByteArray data = randomBytes(3 << 20, 4);
            QVERIFY((*writer)->write(data.constData(), data.size()).ok());
        } // a client that went away
        QVERIFY(Test::waitFor([&] { return count("SELECT count(*) FROM blob_data") == 0; }));
        QCOMPARE(count("SELECT count(*) FROM blob_chunks"), 0);
    }

    // 256 MiB through the store and back: memory stays at a few chunks.
    void largeBlobInBoundedMemory()
    {
        if (!resetPeak())
            QSKIP("/proc/self/clear_refs is not writable here: the peak cannot be measured");
        auto blobs = blobStore();
        const qint64 total = qint64(256) << 20;
        QByteArray piece = randomBytes(64 * 1024, 5);
        const qint64 before = peakRss();
        QElapsedTimer clock; // reported for docs/architecture.md, not asserted
        clock.start();
        auto writer = blobs->create(total);
        QVERIFY(writer.ok());
        Sha256 hash;
        for (qint64 at = 0; at < total; at += piece.size()) {
            piece[0] = char(at >> 16); // not all the same piece
            hash.addData(piece);
            QVERIFY((*writer)->write(piece.constData(), piece.size()).ok());
        }
        auto blob = (*writer)->commit();
        QVERIFY2(blob.ok(), blob ? "" : qPrintable(blob.error().toString()));
        QCOMPARE(blob->id, QString::fromLatin1(hash.result().toHex()));
        const qint64 writeMs = clock.restart();
        auto reader = blobs->open(blob->id);
        QVERIFY(reader.ok());
        Sha256 readBack;
        qint64 read = 0;
        while (true) {
            auto got = (*reader)->read(1 << 20);
            QVERIFY(got.ok());
            if (got->isEmpty())
                break;
            readBack.addData(*got);
            read += got->size();
        }
        QCOMPARE(read, total);
        QCOMPARE(readBack.result(), hash.result());
        const qint64 readMs = clock.elapsed();
        qInfo("256 MiB: written in %lld ms (%lld MiB/s), read in %lld ms (%lld MiB/s)", writeMs,
              256'000 / std::max<qint64>(1, writeMs), readMs,
              256'000 / std::max<qint64>(1, readMs));
        const qint64 growth = peakRss() - before;
        qInfo() << "peak RSS growth writing and reading 256 MiB:" << (growth >> 20) << "MiB";
        if (FERRY_RSS_MEANINGFUL)
            QVERIFY2(growth < (qint64(48) << 20), qPrintable(QString::number(growth >> 20)));
    }

    void tusPartsAppendUnderOneHold()
    {
        PostgresBlobStore::Options options;
        options.chunkBytes = 100'000;
        auto blobs = blobStore(options);
        const QByteArray content = randomBytes(1'234'567, 6);
        const QString id = newUpload(*blobs, content.size());

        auto first = blobs->beginPartAppend(id, 0, 2000);
        QVERIFY2(first.ok(), first ? "" : qPrintable(first.error().toString()));
        // One PATCH at a time, whichever node the other comes to.
        QCOMPARE(blobs->beginPartAppend(id, 0, 2000).error().code, ErrorCode::Conflict);
        QVERIFY((*first)->write(QByteArrayView(content).first(700'000)).ok());
        auto kept = (*first)->finish(2000);
        QVERIFY2(kept.ok(), kept ? "" : qPrintable(kept.error().toString()));
        QCOMPARE(*kept, 700'000);
        QCOMPARE(offsetOf(id), 700'000);
        first->reset();

        // The offset is the committed one.
        QCOMPARE(blobs->beginPartAppend(id, 0, 3000).error().code, ErrorCode::Conflict);
        auto second = blobs->beginPartAppend(id, 700'000, 3000);
        QVERIFY(second.ok());
        QVERIFY((*second)->write(QByteArrayView(content).sliced(700'000)).ok());
        QCOMPARE(*(*second)->finish(3000), content.size());
        second->reset();

        auto blob = blobs->completePart(id);
        QVERIFY2(blob.ok(), blob ? "" : qPrintable(blob.error().toString()));
        QCOMPARE(blob->id, hexSha(content));
        QVERIFY(readAll(*blobs, blob->id) == content);
        // The upload's rows became the blob: no second copy.
        QCOMPARE(count("SELECT count(*) FROM blob_data"), 1);
        // Completing again (a repeated last PATCH) finds the same blob.
        auto again = blobs->completePart(id);
        QVERIFY(again.ok());
        QCOMPARE(again->id, blob->id);
        QCOMPARE(count("SELECT count(*) FROM blob_data"), 1);
    }

    void tusHoldOfADeadNodeRunsOut()
    {
        PostgresBlobStore::Options options;
        options.chunkBytes = 100'000;
        options.appendLeaseMs = 2000; // long enough to see it held, on a busy machine too
        auto blobs = blobStore(options);
        const QByteArray content = randomBytes(500'000, 7);
        const QString id = newUpload(*blobs, content.size());

        // A PATCH whose node stops answering: it committed 200,000 bytes, then nothing.
        auto stalled = blobs->beginPartAppend(id, 0, 1000);
        QVERIFY(stalled.ok());
        QVERIFY((*stalled)->write(QByteArrayView(content).first(200'000)).ok());
        QVERIFY(Test::waitFor([&] { return offsetOf(id) == 200'000; }));
        QCOMPARE(blobs->beginPartAppend(id, 200'000, 1000).error().code, ErrorCode::Conflict);
        QThread::msleep(options.appendLeaseMs + 200);
        // Its hold ran out: another PATCH resumes at what was committed.
        auto resumed = blobs->beginPartAppend(id, 200'000, 2000);
        QVERIFY2(resumed.ok(), resumed ? "" : qPrintable(resumed.error().toString()));
        // The stalled one comes back: fenced out, it writes nothing.
        QVERIFY((*stalled)->write(QByteArrayView(content).sliced(200'000, 100'000)).ok());
        auto late = (*stalled)->finish(2000);
        QVERIFY(!late.ok());
        QCOMPARE(late.error().code, ErrorCode::Conflict);
        QCOMPARE(offsetOf(id), 200'000);

        QVERIFY((*resumed)->write(QByteArrayView(content).sliced(200'000)).ok());
        QCOMPARE(*(*resumed)->finish(2000), content.size());
        auto blob = blobs->completePart(id);
        QVERIFY(blob.ok());
        QVERIFY(readAll(*blobs, blob->id) == content);
    }

    void tusPartOfEqualContentSharesTheStoredBlob()
    {
        auto blobs = blobStore();
        const QByteArray content = "a,b\n1,2\n";
        auto plain = store(*blobs, content);
        QVERIFY(plain.ok());
        const QString id = newUpload(*blobs, content.size());
        auto append = blobs->beginPartAppend(id, 0, 1000);
        QVERIFY(append.ok());
        QVERIFY((*append)->write(content).ok());
        QCOMPARE(*(*append)->finish(1000), content.size());
        auto blob = blobs->completePart(id);
        QVERIFY(blob.ok());
        QCOMPARE(blob->id, plain->id);
        QCOMPARE(count("SELECT count(*) FROM blob_data"), 1);
        // The upload now names the stored copy: completing again still works.
        QCOMPARE(blobs->completePart(id)->id, plain->id);
    }
};

QTEST_GUILESS_MAIN(tst_PostgresBlobStore)
#include "tst_postgresblobstore.moc"
