#include "gzip.h"
#include "migrate/bytesource.h"

#include <QFile>
#include <QRandomGenerator>
#include <QTemporaryDir>
#include <QTest>

using namespace Ferry;
using namespace Ferry::Test;

namespace {

// Compressible but not trivial: lines of text with random numbers.
QByteArray sampleText(int lines)
{
    QByteArray text;
    QRandomGenerator random(42);
    for (int i = 0; i < lines; ++i)
        text += "row " + QByteArray::number(i) + ',' + QByteArray::number(random.generate()) + '\n';
    return text;
}

struct ReadResult
{
    QByteArray bytes;
    std::optional<Error> error;
    qsizetype largestChunk = 0;
};

ReadResult readAll(ByteSource &source, qsizetype chunk = 1 << 20)
{
    ReadResult result;
    for (;;) {
        const std::string_view piece = source.read(chunk);
        if (piece.empty())
            break;
        result.largestChunk = std::max<qsizetype>(result.largestChunk, qsizetype(piece.size()));
        result.bytes.append(piece.data(), qsizetype(piece.size()));
        if (source.offset() != result.bytes.size())
            qFatal("offset does not count the bytes handed out");
    }
    result.error = source.error();
    return result;
}

QString writeFile(const QTemporaryDir &dir, const QString &name, const QByteArray &bytes)
{
    const QString path = dir.filePath(name);
    QFile file(path);
    if (!file.open(QIODevice::WriteOnly) || file.write(bytes) != bytes.size())
        qFatal("cannot write %s", qPrintable(path));
    return path;
}

// Peak resident memory since the last resetPeakRss() (Linux: VmHWM, reset through clear_refs).
bool resetPeakRss()
{
    QFile clear(QStringLiteral("/proc/self/clear_refs"));
    return clear.open(QIODevice::WriteOnly) && clear.write("5") == 1;
}

qint64 peakRssBytes()
{
    QFile status(QStringLiteral("/proc/self/status"));
    if (!status.open(QIODevice::ReadOnly))
        return -1;
    for (const QByteArray &line : status.readAll().split('\n')) {
        if (line.startsWith("VmHWM:"))
            return line.mid(6).trimmed().split(' ').value(0).toLongLong() * 1024;
    }
    return -1;
}

qint64 currentRssBytes()
{
    QFile status(QStringLiteral("/proc/self/status"));
    if (!status.open(QIODevice::ReadOnly))
        return -1;
    for (const QByteArray &line : status.readAll().split('\n')) {
        if (line.startsWith("VmRSS:"))
            return line.mid(6).trimmed().split(' ').value(0).toLongLong() * 1024;
    }
    return -1;
}

} // namespace

class tst_ByteSource : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void plainBytesComeBackInBoundedChunks()
    {
        const QByteArray data = sampleText(1000);
        ByteSource::Options options;
        options.bufferBytes = 7;
        auto source = ByteSource::fromBytes(data, options);
        const ReadResult result = readAll(*source, 100);
        QVERIFY(!result.error);
        QCOMPARE(result.bytes, data);
        QCOMPARE(result.largestChunk, qsizetype(7));
        // The caller's maxBytes bounds a chunk too.
        auto again = ByteSource::fromBytes(data, {});
        QCOMPARE(readAll(*again, 3).largestChunk, qsizetype(3));
        // At the end: empty, and no error.
        QVERIFY(source->read(10).empty());
        QVERIFY(!source->error());
    }

    void plainFileIsReadAsIs()
    {
        QTemporaryDir dir;
        const QByteArray data = sampleText(100'000); // a few MB: several buffers
        auto source = ByteSource::openFile(writeFile(dir, QStringLiteral("a.csv"), data), {});
        QVERIFY2(source.ok(), qPrintable(source.ok() ? QString() : source.error().toString()));
        const ReadResult result = readAll(**source);
        QVERIFY(!result.error);
        QCOMPARE(result.bytes.size(), data.size());
        QVERIFY(result.bytes == data);
        QCOMPARE((*source)->offset(), data.size());
    }

    void emptyFileIsEmpty()
    {
        QTemporaryDir dir;
        auto source = ByteSource::openFile(writeFile(dir, QStringLiteral("e"), {}), {});
        QVERIFY(source.ok());
        const ReadResult result = readAll(**source);
        QVERIFY(!result.error);
        QVERIFY(result.bytes.isEmpty());
        // One byte that happens to be half of the gzip magic is plain data.
        auto one = ByteSource::openFile(writeFile(dir, QStringLiteral("one"), "\x1f"), {});
        QVERIFY(one.ok());
        QCOMPARE(readAll(**one).bytes, QByteArray("\x1f"));
    }

    void missingFileIsAnError()
    {
        auto source = ByteSource::openFile(QStringLiteral("/nonexistent/ferry/x.csv"), {});
        QVERIFY(!source.ok());
        QCOMPARE(source.error().code, ErrorCode::NotFound);
        QVERIFY(source.error().message.contains(QStringLiteral("/nonexistent/ferry/x.csv")));
    }

    void gzipIsDetectedByMagicAndInflated_data()
    {
        QTest::addColumn<qsizetype>("bufferBytes");
        QTest::newRow("default buffer") << qsizetype(1 << 20);
        QTest::newRow("7-byte buffer") << qsizetype(7);
    }
    void gzipIsDetectedByMagicAndInflated()
    {
        QFETCH(qsizetype, bufferBytes);
        QTemporaryDir dir;
        const QByteArray data = sampleText(bufferBytes < 100 ? 2000 : 100'000);
        const QByteArray compressed = gzip(data);
        QVERIFY(compressed.size() < data.size());
        ByteSource::Options options;
        options.bufferBytes = bufferBytes;
        // The name says nothing about gzip: the magic bytes decide.
        auto source =
            ByteSource::openFile(writeFile(dir, QStringLiteral("upload.bin"), compressed), options);
        QVERIFY(source.ok());
        const ReadResult result = readAll(**source);
        QVERIFY2(!result.error, qPrintable(result.error ? result.error->toString() : QString()));
        QVERIFY(result.bytes == data);
        QVERIFY(result.largestChunk <= bufferBytes);

        auto memory = ByteSource::fromBytes(compressed, options);
        const ReadResult fromMemory = readAll(*memory);
        QVERIFY(!fromMemory.error);
        QVERIFY(fromMemory.bytes == data);
    }

    void emptyGzipIsEmpty()
    {
        auto source = ByteSource::fromBytes(gzip({}), {});
        const ReadResult result = readAll(*source);
        QVERIFY(!result.error);
        QVERIFY(result.bytes.isEmpty());
    }

    void multiMemberGzipIsOneStream()
    {
        // `cat a.gz b.gz > c.gz` is a valid gzip file holding a then b (RFC 1952).
        const QByteArray a = sampleText(500), b = "second member\n", c = sampleText(3);
        const QByteArray compressed = gzip(a) + gzip(b) + gzip({}) + gzip(c);
        for (const qsizetype bufferBytes : {qsizetype(5), qsizetype(1 << 20)}) {
            ByteSource::Options options;
            options.bufferBytes = bufferBytes;
            auto source = ByteSource::fromBytes(compressed, options);
            const ReadResult result = readAll(*source);
            QVERIFY(!result.error);
            QCOMPARE(result.bytes, a + b + c);
        }
        QTemporaryDir dir;
        auto file = ByteSource::openFile(writeFile(dir, QStringLiteral("m.gz"), compressed), {});
        QVERIFY(file.ok());
        QCOMPARE(readAll(**file).bytes, a + b + c);
    }

    void skipToGoesForwardOnly_data()
    {
        QTest::addColumn<bool>("compressed");
        QTest::addColumn<bool>("fromFile");
        QTest::newRow("plain bytes") << false << false;
        QTest::newRow("plain file") << false << true;
        QTest::newRow("gzip bytes") << true << false;
        QTest::newRow("gzip file") << true << true;
    }
    void skipToGoesForwardOnly()
    {
        QFETCH(bool, compressed);
        QFETCH(bool, fromFile);
        const QByteArray data = sampleText(20'000);
        const QByteArray stored = compressed ? gzip(data) : data;
        QTemporaryDir dir;
        ByteSource::Options options;
        options.bufferBytes = 4096;
        std::unique_ptr<ByteSource> source;
        if (fromFile) {
            auto opened =
                ByteSource::openFile(writeFile(dir, QStringLiteral("s"), stored), options);
            QVERIFY(opened.ok());
            source = std::move(*opened);
        } else {
            source = ByteSource::fromBytes(stored, options);
        }
        QVERIFY(!source->read(10).empty());
        QVERIFY(source->skipTo(10).ok()); // where it already is
        QVERIFY(source->skipTo(12'345).ok());
        QCOMPARE(source->offset(), qint64(12'345));
        const std::string_view next = source->read(5);
        QCOMPARE(QByteArray(next.data(), qsizetype(next.size())), data.mid(12'345, 5));

        const Result<void> back = source->skipTo(100);
        QVERIFY(!back.ok());
        QVERIFY(back.error().message.contains(QStringLiteral("forward")));

        QVERIFY(source->skipTo(data.size()).ok()); // exactly the end is fine
        QVERIFY(source->read(10).empty());
        const Result<void> past = source->skipTo(data.size() + 1);
        QVERIFY(!past.ok());
        QVERIFY(past.error().message.contains(QString::number(data.size())));
    }

    void corruptGzipNamesTheCompressedOffset()
    {
        const QByteArray data = sampleText(5000);
        QByteArray compressed = gzip(data);
        // Damage the deflate data in the middle; the CRC check catches whatever inflate does not.
        for (qsizetype i = compressed.size() / 2; i < compressed.size() / 2 + 16; ++i)
            compressed[i] = char(compressed[i] ^ 0x5a);
        auto source = ByteSource::fromBytes(compressed, {});
        const ReadResult result = readAll(*source);
        QVERIFY(result.error);
        QCOMPARE(result.error->code, ErrorCode::InvalidArgument);
        QVERIFY2(result.error->message.contains(QStringLiteral("corrupt at compressed offset")),
                 qPrintable(result.error->message));
        QVERIFY(result.bytes.size() < data.size());
        // After an error the source stays at its end.
        QVERIFY(source->read(10).empty());

        // A damaged header: an unknown compression method right after the magic.
        QByteArray badHeader = gzip(data);
        badHeader[2] = 9;
        auto header = ByteSource::fromBytes(badHeader, {});
        const ReadResult headerResult = readAll(*header);
        QVERIFY(headerResult.error);
        QVERIFY2(headerResult.error->message.contains(QStringLiteral("compressed offset")),
                 qPrintable(headerResult.error->message));
    }

    // Found by fuzz_bytesource: the bytes inflated by the read that met the damage were dropped,
    // so how much of a corrupt file came out, and whether skipTo() could reach an offset the
    // rows had been read past, depended on the sizes asked for.
    void bytesBeforeDamageDoNotDependOnReadSizes()
    {
        QByteArray compressed = gzip(sampleText(5000));
        for (qsizetype i = compressed.size() / 2; i < compressed.size() / 2 + 16; ++i)
            compressed[i] = char(compressed[i] ^ 0x5a);
        auto whole = ByteSource::fromBytes(compressed, {});
        const ReadResult reference = readAll(*whole);
        QVERIFY(reference.error);
        QVERIFY(reference.bytes.size() > 0);
        for (const qsizetype chunk : {qsizetype(1), qsizetype(7), qsizetype(4096)}) {
            auto source = ByteSource::fromBytes(compressed, {});
            const ReadResult result = readAll(*source, chunk);
            QCOMPARE(result.bytes, reference.bytes);
            QVERIFY(result.error);
            QCOMPARE(result.error->message, reference.error->message);
        }
        auto skipping = ByteSource::fromBytes(compressed, {});
        QVERIFY(skipping->skipTo(reference.bytes.size() - 1).ok());
        const std::string_view last = skipping->read(1 << 20);
        QCOMPARE(QByteArray(last.data(), qsizetype(last.size())), reference.bytes.right(1));
        QVERIFY(skipping->read(10).empty());
        QVERIFY(skipping->error());
    }

    void truncatedGzipIsAnError()
    {
        const QByteArray data = sampleText(5000);
        const QByteArray compressed = gzip(data);
        for (const qsizetype cut :
             {qsizetype(2), qsizetype(10), compressed.size() / 2, compressed.size() - 4}) {
            auto source = ByteSource::fromBytes(compressed.left(cut), {});
            const ReadResult result = readAll(*source);
            QVERIFY2(result.error, qPrintable(QString::number(cut)));
            QVERIFY2(result.error->message.contains(QStringLiteral("truncated")),
                     qPrintable(result.error->message));
            QVERIFY(result.error->message.contains(QString::number(cut)));
        }
    }

    void trailingGarbageAfterGzipIsAnError()
    {
        auto source = ByteSource::fromBytes(gzip("abc") + "not gzip", {});
        const ReadResult result = readAll(*source);
        QVERIFY(result.error);
        QVERIFY(result.error->message.contains(QStringLiteral("corrupt")));
    }

    // Found by fuzz_bytesource: how many bytes came out before a gzip bomb was refused depended
    // on the sizes asked for (the read that crossed the cap handed out nothing).
    void bytesUpToTheCapComeOutWhateverTheReadSizes()
    {
        const QByteArray data(1000, 'x');
        ByteSource::Options options;
        options.maxDecompressedBytes = 100;
        for (const qsizetype chunk : {qsizetype(1), qsizetype(7), qsizetype(64), qsizetype(4096)}) {
            auto source = ByteSource::fromBytes(gzip(data), options);
            const ReadResult result = readAll(*source, chunk);
            QCOMPARE(result.bytes, data.left(100));
            QVERIFY(result.error);
            QVERIFY(result.error->message.contains(QStringLiteral("gzip bomb")));
        }
    }

    void decompressedSizeLimitIsExact()
    {
        const QByteArray data(1000, 'x');
        ByteSource::Options options;
        options.maxDecompressedBytes = 1000;
        auto atLimit = ByteSource::fromBytes(gzip(data), options);
        const ReadResult ok = readAll(*atLimit);
        QVERIFY(!ok.error);
        QCOMPARE(ok.bytes.size(), 1000);

        options.maxDecompressedBytes = 999;
        auto over = ByteSource::fromBytes(gzip(data), options);
        const ReadResult refused = readAll(*over);
        QVERIFY(refused.error);
        QCOMPARE(refused.error->message,
                 QStringLiteral("The file expands past 999 bytes when decompressed; a gzip bomb "
                                "is refused."));
    }

    void gzipBombIsRefusedWithoutExpanding()
    {
        // 200 MB of zeros deflate to about 200 KB; compressed a megabyte at a time.
        const qint64 total = qint64(200) << 20;
        qint64 produced = 0;
        const QByteArray zeros(1 << 20, '\0');
        const QByteArray bomb = gzipStream(
            [&] {
                if (produced >= total)
                    return QByteArray();
                produced += zeros.size();
                return zeros;
            },
            9);
        QVERIFY(bomb.size() < 1 << 20);

        QTemporaryDir dir;
        const QString path = writeFile(dir, QStringLiteral("bomb.csv.gz"), bomb);
        QVERIFY(resetPeakRss());
        const qint64 rssBefore = currentRssBytes();
        QVERIFY(rssBefore > 0);
        ByteSource::Options options;
        options.maxDecompressedBytes = qint64(10) << 20;
        auto source = ByteSource::openFile(path, options);
        QVERIFY(source.ok());
        qint64 handedOut = 0;
        for (;;) {
            const std::string_view chunk = (*source)->read(1 << 20);
            if (chunk.empty())
                break;
            handedOut += qint64(chunk.size());
        }
        const auto &error = (*source)->error();
        QVERIFY(error);
        QCOMPARE(error->message,
                 QStringLiteral("The file expands past 10485760 bytes when decompressed; a gzip "
                                "bomb is refused."));
        QVERIFY(handedOut <= options.maxDecompressedBytes);
        QCOMPARE((*source)->offset(), handedOut);
        // Nothing near 200 MB (nor even the 10 MB limit) was held at once.
        QVERIFY2(peakRssBytes() - rssBefore < qint64(8) << 20,
                 qPrintable(QString::number(peakRssBytes() - rssBefore)));

        // skipTo() is held to the same limit.
        auto skipping = ByteSource::fromBytes(bomb, options);
        const Result<void> skipped = skipping->skipTo(qint64(100) << 20);
        QVERIFY(!skipped.ok());
        QVERIFY(skipped.error().message.contains(QStringLiteral("gzip bomb")));
    }
};

QTEST_GUILESS_MAIN(tst_ByteSource)
#include "tst_bytesource.moc"
