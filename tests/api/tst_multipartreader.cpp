#include "api/multipartreader.h"

#include <QTest>

using namespace Ferry;

namespace {

// Records what the reader hands on, part by part.
struct Recorder final : MultipartReader::Sink
{
    struct Got
    {
        MultipartReader::Part part;
        QByteArray data;
    };
    QList<Got> parts;
    bool open = false;
    int refuseAtPart = -1; // partBegin of this part returns false

    bool partBegin(const MultipartReader::Part &part) override
    {
        if (open || parts.size() == refuseAtPart)
            return false;
        parts.append({part, {}});
        open = true;
        return true;
    }
    bool partData(QByteArrayView data) override
    {
        if (!open)
            return false;
        parts.last().data.append(data);
        return true;
    }
    bool partEnd() override
    {
        const bool wasOpen = open;
        open = false;
        return wasOpen;
    }
};

// What curl -F sends: dataset before the file, mapping after it.
QByteArray curlForm(const QByteArray &boundary, const QByteArray &file)
{
    return "--" + boundary + "\r\n" +
           "Content-Disposition: form-data; name=\"dataset\"\r\n\r\n"
           "people\r\n"
           "--" +
           boundary + "\r\n" +
           "Content-Disposition: form-data; name=\"file\"; filename=\"people.csv\"\r\n"
           "Content-Type: application/octet-stream\r\n\r\n" +
           file + "\r\n" + "--" + boundary + "\r\n" +
           "Content-Disposition: form-data; name=\"mapping\"\r\n\r\n"
           "{\"fields\":[{\"name\":\"id\"}]}\r\n"
           "--" +
           boundary + "--\r\n";
}

// Feeds the body in pieces of chunk bytes (0: whole); returns whether feed and finish passed.
bool run(MultipartReader &reader, const QByteArray &body, qsizetype chunk)
{
    if (chunk <= 0)
        chunk = body.size();
    for (qsizetype at = 0; at < body.size(); at += chunk) {
        if (!reader.feed(QByteArrayView(body).sliced(at, std::min(chunk, body.size() - at))))
            return false;
    }
    return reader.finish();
}

} // namespace

class tst_MultipartReader : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void curlFormInAnyChunking_data()
    {
        QTest::addColumn<qsizetype>("chunk");
        for (const qsizetype chunk : {qsizetype(1), qsizetype(2), qsizetype(3), qsizetype(7),
                                      qsizetype(41), qsizetype(4096), qsizetype(0)})
            QTest::addRow("chunk %lld", qlonglong(chunk)) << chunk;
    }

    void curlFormInAnyChunking()
    {
        QFETCH(qsizetype, chunk);
        const QByteArray boundary = "------------------------d74496d66958873e";
        // Content that looks like a delimiter but is not one, CRLFs, dashes.
        const QByteArray file =
            "id,name\r\n1,a\r\n--\r\n-" + boundary.left(20) + "\r\n2,\"b\r\n\"\r\n";
        Recorder sink;
        MultipartReader reader(boundary, sink);
        QVERIFY2(run(reader, curlForm(boundary, file), chunk), qPrintable(reader.error()));
        QCOMPARE(sink.parts.size(), 3);
        QCOMPARE(sink.parts[0].part.name, QByteArray("dataset"));
        QVERIFY(!sink.parts[0].part.hasFileName);
        QCOMPARE(sink.parts[0].data, QByteArray("people"));
        QCOMPARE(sink.parts[1].part.name, QByteArray("file"));
        QVERIFY(sink.parts[1].part.hasFileName);
        QCOMPARE(sink.parts[1].part.fileName, QStringLiteral("people.csv"));
        QCOMPARE(sink.parts[1].part.contentType, QByteArray("application/octet-stream"));
        QCOMPARE(sink.parts[1].data, file);
        QCOMPARE(sink.parts[2].data, QByteArray("{\"fields\":[{\"name\":\"id\"}]}"));
    }

    void preambleEpilogueAndEmptyParts()
    {
        Recorder sink;
        MultipartReader reader("b", sink);
        const QByteArray body =
            "ignored preamble\r\n--b\r\n"
            "Content-Disposition: form-data; name=\"empty\"\r\n\r\n"
            "\r\n--b  \r\n" // transport padding after the boundary
            "content-disposition: FORM-DATA; name=x; filename=\"a \\\"q\\\".csv\"\r\n"
            "\r\nv\r\n--b--\r\nepilogue --b\r\n";
        QVERIFY2(run(reader, body, 3), qPrintable(reader.error()));
        QCOMPARE(sink.parts.size(), 2);
        QCOMPARE(sink.parts[0].data, QByteArray());
        QCOMPARE(sink.parts[1].part.name, QByteArray("x"));
        QCOMPARE(sink.parts[1].part.fileName, QStringLiteral("a \"q\".csv"));
        QCOMPARE(sink.parts[1].data, QByteArray("v"));
    }

    void extendedFileName()
    {
        Recorder sink;
        MultipartReader reader("b", sink);
        const QByteArray body = "--b\r\nContent-Disposition: form-data; name=\"file\"; "
                                "filename=\"x.csv\"; filename*=UTF-8''caf%C3%A9.csv\r\n\r\n"
                                "1\r\n--b--";
        QVERIFY2(run(reader, body, 0), qPrintable(reader.error()));
        QCOMPARE(sink.parts[0].part.fileName, QStringLiteral("café.csv"));
    }

    void malformed_data()
    {
        QTest::addColumn<QByteArray>("body");
        QTest::addColumn<QString>("says");
        QTest::newRow("no closing boundary")
            << QByteArray("--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1")
            << QStringLiteral("closing boundary");
        QTest::newRow("never a boundary") << QByteArray("just text") << QStringLiteral("no parts");
        QTest::newRow("no disposition")
            << QByteArray("--b\r\nContent-Type: text/plain\r\n\r\n1\r\n--b--")
            << QStringLiteral("Content-Disposition");
        QTest::newRow("not form-data")
            << QByteArray("--b\r\nContent-Disposition: attachment; name=\"a\"\r\n\r\n1\r\n--b--")
            << QStringLiteral("form-data");
        QTest::newRow("garbage after the boundary")
            << QByteArray("--bx\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--b--")
            << QStringLiteral("boundary line");
        QTest::newRow("header without colon")
            << QByteArray("--b\r\nnonsense\r\n\r\n1\r\n--b--") << QStringLiteral("header line");
        QTest::newRow("headers too large")
            << QByteArray("--b\r\nContent-Disposition: form-data; name=\"a\"\r\nX: " +
                          QByteArray(20'000, 'x') + "\r\n\r\n1\r\n--b--")
            << QStringLiteral("exceed");
    }

    void malformed()
    {
        QFETCH(QByteArray, body);
        QFETCH(QString, says);
        for (const qsizetype chunk : {qsizetype(1), qsizetype(0)}) {
            Recorder sink;
            MultipartReader reader("b", sink);
            QVERIFY(!run(reader, body, chunk));
            QVERIFY2(reader.error().contains(says), qPrintable(reader.error()));
            QVERIFY(!reader.refusedBySink());
            QVERIFY(!reader.feed("more")); // stays failed
        }
    }

    void tooManyParts()
    {
        Recorder sink;
        MultipartReader::Limits limits;
        limits.maxParts = 2;
        MultipartReader reader("b", sink, limits);
        QByteArray body;
        for (int i = 0; i < 3; ++i)
            body += "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n";
        QVERIFY(!run(reader, body + "--b--", 0));
        QVERIFY(reader.error().contains(u"more than 2 parts"));
    }

    void sinkRefusalStops()
    {
        Recorder sink;
        sink.refuseAtPart = 1;
        MultipartReader reader("b", sink);
        const QByteArray body = "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n"
                                "--b\r\nContent-Disposition: form-data; name=\"b\"\r\n\r\n2\r\n"
                                "--b--";
        QVERIFY(!run(reader, body, 0));
        QVERIFY(reader.refusedBySink());
        QCOMPARE(sink.parts.size(), 1);
    }

    void boundaryOfContentType_data()
    {
        QTest::addColumn<QByteArray>("contentType");
        QTest::addColumn<QByteArray>("boundary");
        QTest::newRow("plain") << QByteArray("multipart/form-data; boundary=abc")
                               << QByteArray("abc");
        QTest::newRow("quoted") << QByteArray("multipart/form-data; boundary=\"a b;c\"")
                                << QByteArray("a b;c");
        QTest::newRow("case and more parameters")
            << QByteArray("Multipart/Form-Data; charset=utf-8; BOUNDARY=xyz") << QByteArray("xyz");
        QTest::newRow("missing") << QByteArray("multipart/form-data") << QByteArray();
        QTest::newRow("too long") << QByteArray("multipart/form-data; boundary=" +
                                                QByteArray(71, 'a'))
                                  << QByteArray();
        QTest::newRow("not multipart") << QByteArray("text/csv; boundary=abc") << QByteArray();
    }

    void boundaryOfContentType()
    {
        QFETCH(QByteArray, contentType);
        QFETCH(QByteArray, boundary);
        QCOMPARE(MultipartReader::boundaryOf(contentType), boundary);
    }

    void largePartStreamsAsItArrives()
    {
        // A large file part is handed on as it arrives: the reader keeps at most one chunk.
        struct Counter final : MultipartReader::Sink
        {
            qint64 bytes = 0;
            bool partBegin(const MultipartReader::Part &) override { return true; }
            bool partData(QByteArrayView data) override
            {
                bytes += data.size();
                return true;
            }
            bool partEnd() override { return true; }
        } sink;
        MultipartReader reader("b", sink);
        QVERIFY(reader.feed("--b\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n"));
        const QByteArray chunk(64 * 1024, 'x');
        for (int i = 0; i < 160; ++i) // 10 MiB
            QVERIFY(reader.feed(chunk));
        QVERIFY(sink.bytes > 10 * 1024 * 1024 - 64);
        QVERIFY(reader.feed("\r\n--b--"));
        QVERIFY(reader.finish());
        QCOMPARE(sink.bytes, qint64(10 * 1024 * 1024));
    }
};

QTEST_GUILESS_MAIN(tst_MultipartReader)
#include "tst_multipartreader.moc"
