#include "api/accesslog.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QStringDecoder>
#include <QTest>

#include <cstdio>

using namespace Ferry;

class tst_AccessLog : public QObject
{
    Q_OBJECT

private:
    static QByteArray written(std::FILE *file)
    {
        std::fflush(file);
        std::rewind(file);
        QByteArray all;
        char buffer[4096];
        size_t n;
        while ((n = std::fread(buffer, 1, sizeof buffer, file)) > 0)
            all.append(buffer, qsizetype(n));
        return all;
    }

private Q_SLOTS:
    void textLines()
    {
        std::FILE *file = std::tmpfile();
        {
            AccessLog log(AccessLog::Format::Text, file);
            log.record("GET", "/api/v1/jobs/7", 200, 247, 1234, "10.0.0.5");
            log.record("GET", "/a\"b\nforged 200", 404, 10, 5, "10.0.0.5");
            QCOMPARE(written(file), QByteArray()); // buffered until a flush
            log.flush();
            const QList<QByteArray> lines = written(file).trimmed().split('\n');
            QCOMPARE(lines.size(), 2);
            QVERIFY2(lines[0].endsWith(" 10.0.0.5 \"GET /api/v1/jobs/7\" 200 247 1.234ms"),
                     lines[0].constData());
            QVERIFY2(lines[1].contains("\"GET /a?b?forged 200\" 404"),
                     lines[1].constData()); // no forged line
        }
        std::fclose(file);
    }

    void jsonLines()
    {
        std::FILE *file = std::tmpfile();
        {
            AccessLog log(AccessLog::Format::Json, file);
            log.record("POST", "/api/v1/uploads?x=\"1\"", 202, 99, 2500, "::1");
        } // flushed on destruction
        const QJsonObject line = QJsonDocument::fromJson(written(file).trimmed()).object();
        QCOMPARE(line.value(u"method").toString(), QStringLiteral("POST"));
        QCOMPARE(line.value(u"path").toString(), QStringLiteral("/api/v1/uploads?x=\"1\""));
        QCOMPARE(line.value(u"status").toInt(), 202);
        QCOMPARE(line.value(u"bytes").toInt(), 99);
        QCOMPARE(line.value(u"ms").toDouble(), 2.5);
        QCOMPARE(line.value(u"client").toString(), QStringLiteral("::1"));
        QVERIFY(line.value(u"ts").toDouble() > 1.7e12);
        std::fclose(file);
    }

    // A client picks the path's bytes: invalid UTF-8 (lone continuation bytes, overlongs,
    // surrogates, past U+10FFFF, cut short) becomes U+FFFD, so every line is valid UTF-8 and
    // JSON; valid multi-byte text passes unchanged.
    void jsonLinesAreValidUtf8_data()
    {
        QTest::addColumn<QByteArray>("path");
        QTest::addColumn<QString>("expected");
        const QString bad(QChar(0xfffd));
        QTest::newRow("lone continuation") << QByteArray("/a\x80z") << (u"/a" + bad + u"z");
        QTest::newRow("invalid lead") << QByteArray("/\xff\xfe") << (u"/" + bad + bad);
        QTest::newRow("overlong slash") << QByteArray("/\xc0\xaf") << (u"/" + bad + bad);
        QTest::newRow("surrogate") << QByteArray("/\xed\xa0\x80") << (u"/" + bad + bad + bad);
        QTest::newRow("past U+10FFFF")
            << QByteArray("/\xf4\x90\x80\x80") << (u"/" + bad + bad + bad + bad);
        QTest::newRow("cut short") << QByteArray("/x\xe2\x82") << (u"/x" + bad + bad);
        QTest::newRow("valid") << QByteArray("/caf\xc3\xa9/\xe2\x82\xac/\xf0\x9f\x98\x80")
                               << QString::fromUtf8("/caf\xc3\xa9/\xe2\x82\xac/\xf0\x9f\x98\x80");
    }
    void jsonLinesAreValidUtf8()
    {
        QFETCH(QByteArray, path);
        QFETCH(QString, expected);
        std::FILE *file = std::tmpfile();
        {
            AccessLog log(AccessLog::Format::Json, file);
            log.record("GET", path, 400, 0, 0, "192.0.2.1");
        }
        const QByteArray line = written(file).trimmed();
        QStringDecoder decoder(QStringDecoder::Utf8, QStringDecoder::Flag::Stateless);
        const QString text = decoder(line);
        QVERIFY2(!decoder.hasError(), line.toHex().constData());
        QJsonParseError error;
        const QJsonObject object = QJsonDocument::fromJson(line, &error).object();
        QCOMPARE(error.error, QJsonParseError::NoError);
        QCOMPARE(object.value(u"path").toString(), expected);
        std::fclose(file);
    }

    void offWritesNothing()
    {
        std::FILE *file = std::tmpfile();
        {
            AccessLog log(AccessLog::Format::Off, file);
            log.record("GET", "/", 200, 1, 1, "127.0.0.1");
        }
        QCOMPARE(written(file), QByteArray());
        std::fclose(file);
    }
};

QTEST_GUILESS_MAIN(tst_AccessLog)
#include "tst_accesslog.moc"
