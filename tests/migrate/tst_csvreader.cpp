#include "migrate/csvreader.h"

#include <QRandomGenerator>
#include <QTest>

using namespace Ferry;

namespace {

using Rows = QList<QByteArrayList>;

struct ReadRow
{
    QByteArrayList fields;
    qint64 line = 0;
    qint64 endOffset = 0;
    qint64 endLine = 0;
    QByteArray problem;
};

struct ReadAll
{
    QList<ReadRow> rows;
    CsvReader::Status last = CsvReader::Status::End;
    QString error;
};

CsvReader::Options csvOptions(int delimiter, int quote)
{
    CsvReader::Options options;
    options.delimiter = char(delimiter);
    options.quote = char(quote);
    return options;
}

ReadAll readAll(CsvReader &reader)
{
    ReadAll result;
    CsvReader::Row row;
    for (;;) {
        result.last = reader.next(row);
        if (result.last != CsvReader::Status::Row)
            break;
        ReadRow copy;
        for (const std::string_view field : row.fields)
            copy.fields.append(QByteArray(field.data(), qsizetype(field.size())));
        copy.line = row.line;
        copy.endOffset = row.endOffset;
        copy.endLine = row.endLine;
        copy.problem = QByteArray::fromStdString(row.problem);
        result.rows.append(copy);
    }
    if (result.last == CsvReader::Status::Error)
        result.error = reader.errorText();
    // The end is sticky.
    if (reader.next(row) != result.last)
        qFatal("next() after the end changed its answer");
    return result;
}

ReadAll readBytes(const QByteArray &input,
                  CsvReader::Options options,
                  qsizetype bufferBytes,
                  qint64 resumeOffset = -1,
                  qint64 resumeLine = 1)
{
    ByteSource::Options sourceOptions;
    sourceOptions.bufferBytes = bufferBytes;
    auto source = ByteSource::fromBytes(input, sourceOptions);
    CsvReader reader(*source, options);
    if (resumeOffset >= 0 && !reader.resumeAt(resumeOffset, resumeLine).ok())
        qFatal("resumeAt failed");
    return readAll(reader);
}

// Chunk sizes that put every construct across a chunk edge somewhere, and a normal one.
const qsizetype kBufferSizes[] = {1, 2, 3, 7, 1 << 20};

} // namespace

class tst_CsvReader : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void readsRfc4180_data()
    {
        QTest::addColumn<QByteArray>("input");
        QTest::addColumn<int>("delimiter");
        QTest::addColumn<int>("quote");
        QTest::addColumn<Rows>("rows");
        QTest::addColumn<QList<qint64>>("lines");
        QTest::addColumn<QByteArrayList>("problems"); // per row, a substring; "" for none
        QTest::addColumn<QString>("error");           // a substring; "" for a clean end

        const auto row = [](const char *name, const QByteArray &input, const Rows &rows,
                            const QList<qint64> &lines, const QByteArrayList &problems = {},
                            const QString &error = {}, int delimiter = ',', int quote = '"') {
            QByteArrayList allProblems = problems;
            while (allProblems.size() < rows.size())
                allProblems.append(QByteArray());
            QTest::newRow(name) << input << delimiter << quote << rows << lines << allProblems
                                << error;
        };

        row("simple", "a,b,c\n1,2,3\n", {{"a", "b", "c"}, {"1", "2", "3"}}, {1, 2});
        row("no trailing newline", "a,b\n1,2", {{"a", "b"}, {"1", "2"}}, {1, 2});
        row("crlf", "a,b\r\n1,2\r\n", {{"a", "b"}, {"1", "2"}}, {1, 2});
        row("lone cr ends records", "a,b\r1,2\r", {{"a", "b"}, {"1", "2"}}, {1, 2});
        row("mixed line ends", "a\r\nb\nc\rd", {{"a"}, {"b"}, {"c"}, {"d"}}, {1, 2, 3, 4});
        row("quoted fields", "\"a\",\"b c\"\n", {{"a", "b c"}}, {1});
        row("doubled quotes", "\"he said \"\"hi\"\"\",x\n", {{"he said \"hi\"", "x"}}, {1});
        row("only a doubled quote", "\"\"\"\"\n", {{"\""}}, {1});
        row("doubled quotes at the edges", "\"\"\"a\"\"\",\"\"\"\"\"\"\n", {{"\"a\"", "\"\""}},
            {1});
        row("embedded delimiter", "\"a,b\",c\n", {{"a,b", "c"}}, {1});
        row("embedded lf", "\"line1\nline2\",x\nnext,y\n", {{"line1\nline2", "x"}, {"next", "y"}},
            {1, 3});
        row("embedded crlf", "\"a\r\nb\",c\r\nd,e\r\n", {{"a\r\nb", "c"}, {"d", "e"}}, {1, 3});
        row("embedded cr", "\"a\rb\"\rc\r", {{"a\rb"}, {"c"}}, {1, 3});
        row("embedded blank lines", "\"a\n\n\nb\"\nc", {{"a\n\n\nb"}, {"c"}}, {1, 5});
        row("bom skipped",
            "\xEF\xBB\xBF"
            "a,b\n1,2\n",
            {{"a", "b"}, {"1", "2"}}, {1, 2});
        row("bom before a quote", "\xEF\xBB\xBF\"a\"\n", {{"a"}}, {1});
        row("bom elsewhere kept", "a,\xEF\xBB\xBF\n", {{"a", "\xEF\xBB\xBF"}}, {1});
        row("empty file", "", {}, {});
        row("only a bom", "\xEF\xBB\xBF", {}, {});
        row("header only", "id,name\n", {{"id", "name"}}, {1});
        row("header only without newline", "id,name", {{"id", "name"}}, {1});
        row("empty fields", ",,\na,,c\n\"\",x\n", {{"", "", ""}, {"a", "", "c"}, {"", "x"}},
            {1, 2, 3});
        row("trailing delimiter at eof", "a,", {{"a", ""}}, {1});
        row("quoted empty at eof", "a,\"\"", {{"a", ""}}, {1});
        row("closing quote then cr at eof", "\"a\"\r", {{"a"}}, {1});
        // RFC 4180: an empty line is a record of one empty field (the importer skips those).
        row("empty line", "a\n\nb\n", {{"a"}, {""}, {"b"}}, {1, 2, 3});
        row("only a newline", "\n", {{""}}, {1});
        row("empty crlf lines", "\r\n\r\n", {{""}, {""}}, {1, 2});
        row("ragged rows", "a,b,c\n1\n1,2,3,4\n", {{"a", "b", "c"}, {"1"}, {"1", "2", "3", "4"}},
            {1, 2, 3});
        row("spaces kept", " a , b \n", {{" a ", " b "}}, {1});
        row("quote inside unquoted field", "ab\"c,5\" tall\n", {{"ab\"c", "5\" tall"}}, {1});
        row("text after closing quote", "\"a\"b,c\nd,e\n", {{"ab", "c"}, {"d", "e"}}, {1, 2},
            {"unexpected text after the closing quote of field 1", ""});
        row("space after closing quote in field 2", "x,\"a\" ,c\n", {{"x", "a ", "c"}}, {1},
            {"closing quote of field 2"});
        row("text after a closing quote with a doubled quote", "\"a\"\"b\"c\"d\n", {{"a\"bc\"d"}},
            {1}, {"closing quote of field 1"});
        row("unterminated quote at eof", "a,b\n\"unterminated,\nmore\n", {{"a", "b"}}, {1}, {},
            QStringLiteral("unterminated quoted field starting at line 2"));
        row("unterminated quote after a multi-line record", "\"x\ny\",1\nz,\"open\n",
            {{"x\ny", "1"}}, {1}, {},
            QStringLiteral("unterminated quoted field starting at line 3"));
        row("unterminated empty quote", "\"", {}, {}, {},
            QStringLiteral("unterminated quoted field starting at line 1"));
        row("invalid utf-8", "ok,\xff\xfe,x\nfine,row\n",
            {{"ok", "\xff\xfe", "x"}, {"fine", "row"}}, {1, 2}, {"invalid UTF-8 in field 2", ""});
        row("overlong utf-8", "\xc0\xaf\n", {{"\xc0\xaf"}}, {1}, {"invalid UTF-8 in field 1"});
        row("surrogate utf-8 in quotes", "a,\"\xed\xa0\x80\"\n", {{"a", "\xed\xa0\x80"}}, {1},
            {"invalid UTF-8 in field 2"});
        row("valid utf-8", "é,日本,😀\n", {{"é", "日本", "😀"}}, {1});
        row("tsv", "a\tb\n\"q\"\tx\n", {{"a", "b"}, {"\"q\"", "x"}}, {1, 2}, {}, {}, '\t', 0);
        row("tsv keeps commas and quotes", "a,b\t\"c\n", {{"a,b", "\"c"}}, {1}, {}, {}, '\t', 0);
        row("semicolon and apostrophe", "'a;b';'it''s'\nc;\"d\"\n",
            {{"a;b", "it's"}, {"c", "\"d\""}}, {1, 2}, {}, {}, ';', '\'');
        row("no quoting with commas", "\"a\",b\n", {{"\"a\"", "b"}}, {1}, {}, {}, ',', 0);
    }
    void readsRfc4180()
    {
        QFETCH(QByteArray, input);
        QFETCH(int, delimiter);
        QFETCH(int, quote);
        QFETCH(Rows, rows);
        QFETCH(QList<qint64>, lines);
        QFETCH(QByteArrayList, problems);
        QFETCH(QString, error);
        for (const qsizetype bufferBytes : kBufferSizes) {
            const ReadAll result = readBytes(input, csvOptions(delimiter, quote), bufferBytes);
            const QByteArray context = "buffer " + QByteArray::number(bufferBytes);
            QVERIFY2(result.rows.size() == rows.size(), context);
            for (qsizetype i = 0; i < rows.size(); ++i) {
                QCOMPARE(result.rows[i].fields, rows[i]);
                QCOMPARE(result.rows[i].line, lines[i]);
                if (problems[i].isEmpty())
                    QVERIFY2(result.rows[i].problem.isEmpty(), result.rows[i].problem);
                else
                    QVERIFY2(result.rows[i].problem.contains(problems[i]), result.rows[i].problem);
                if (i > 0)
                    QVERIFY(result.rows[i].endOffset > result.rows[i - 1].endOffset);
            }
            if (error.isEmpty()) {
                QVERIFY2(result.last == CsvReader::Status::End, qPrintable(result.error));
                if (!rows.isEmpty())
                    QCOMPARE(result.rows.last().endOffset, input.size());
            } else {
                QCOMPARE(result.last, CsvReader::Status::Error);
                QVERIFY2(result.error.contains(error), qPrintable(result.error));
            }
        }
    }

    void resumesFromEveryRow_data() { readsRfc4180_data(); }
    void resumesFromEveryRow()
    {
        QFETCH(QByteArray, input);
        QFETCH(int, delimiter);
        QFETCH(int, quote);
        const CsvReader::Options options = csvOptions(delimiter, quote);
        const ReadAll whole = readBytes(input, options, 1 << 20);
        for (const qsizetype bufferBytes : {qsizetype(1), qsizetype(7), qsizetype(1 << 20)}) {
            for (qsizetype i = 0; i < whole.rows.size(); ++i) {
                const ReadRow &at = whole.rows[i];
                const ReadAll rest =
                    readBytes(input, options, bufferBytes, at.endOffset, at.endLine);
                QCOMPARE(rest.rows.size(), whole.rows.size() - i - 1);
                for (qsizetype j = 0; j < rest.rows.size(); ++j) {
                    const ReadRow &expected = whole.rows[i + 1 + j];
                    QCOMPARE(rest.rows[j].fields, expected.fields);
                    QCOMPARE(rest.rows[j].line, expected.line);
                    QCOMPARE(rest.rows[j].endOffset, expected.endOffset);
                    QCOMPARE(rest.rows[j].endLine, expected.endLine);
                    QCOMPARE(rest.rows[j].problem, expected.problem);
                }
                QCOMPARE(rest.last, whole.last);
                QCOMPARE(rest.error, whole.error);
            }
        }
    }

    void endOffsetsAndLinesAreResumePoints()
    {
        const QByteArray input = "a,b\r\n\"x\ny\",z\r\nlast";
        const ReadAll result = readBytes(input, {}, 3);
        QCOMPARE(result.rows.size(), 3);
        QCOMPARE(result.rows[0].endOffset, qint64(5)); // past the CRLF
        QCOMPARE(result.rows[0].endLine, qint64(2));
        QCOMPARE(result.rows[1].line, qint64(2));
        QCOMPARE(result.rows[1].endOffset, qint64(14));
        QCOMPARE(result.rows[1].endLine, qint64(4)); // the quoted newline counts
        QCOMPARE(result.rows[2].line, qint64(4));
        QCOMPARE(result.rows[2].endOffset, input.size());
    }

    void resumeAfterABomKeepsOffsets()
    {
        const QByteArray input = "\xEF\xBB\xBF"
                                 "a\nb\n";
        const ReadAll whole = readBytes(input, {}, 1 << 20);
        QCOMPARE(whole.rows[0].endOffset, qint64(5)); // offsets count the BOM
        const ReadAll rest = readBytes(input, {}, 1 << 20, 5, 2);
        QCOMPARE(rest.rows.size(), 1);
        QCOMPARE(rest.rows[0].fields, QByteArrayList{"b"});
        QCOMPARE(rest.rows[0].line, qint64(2));
    }

    void resumeAtIsRefusedOnceReading()
    {
        auto source = ByteSource::fromBytes("a\nb\n", {});
        CsvReader reader(*source, {});
        CsvReader::Row row;
        QCOMPARE(reader.next(row), CsvReader::Status::Row);
        QVERIFY(!reader.resumeAt(2, 2).ok());
    }

    void resumePastTheEndIsAnError()
    {
        auto source = ByteSource::fromBytes("a\nb\n", {});
        CsvReader reader(*source, {});
        QVERIFY(!reader.resumeAt(100, 1).ok());
    }

    void tenThousandColumns()
    {
        QByteArrayList expected;
        QByteArray line;
        for (int i = 0; i < 10'000; ++i) {
            expected.append("c" + QByteArray::number(i));
            if (i > 0)
                line += ',';
            line += i % 2 ? "\"c" + QByteArray::number(i) + '"' : expected.last();
        }
        const QByteArray input = line + "\n1,2\n";
        for (const qsizetype bufferBytes : {qsizetype(7), qsizetype(1 << 20)}) {
            const ReadAll result = readBytes(input, {}, bufferBytes);
            QCOMPARE(result.last, CsvReader::Status::End);
            QCOMPARE(result.rows.size(), 2);
            QCOMPARE(result.rows[0].fields.size(), 10'000);
            QCOMPARE(result.rows[0].fields, expected);
            QCOMPARE(result.rows[1].fields, (QByteArrayList{"1", "2"}));
        }
    }

    void tenMegabyteField()
    {
        QByteArray big(10 << 20, 'x');
        for (qsizetype i = 0; i < big.size(); i += 4099)
            big[i] = i % 3 ? '\n' : ','; // delimiters and newlines inside the quotes
        QByteArray quoted = big;
        quoted.replace("x,", "x\"\"");
        QByteArray unescaped = big;
        unescaped.replace("x,", "x\"");
        const QByteArray input = "a,\"" + quoted + "\",b\r\nnext\r\n";
        for (const qsizetype bufferBytes : {qsizetype(7), qsizetype(1 << 20)}) {
            const ReadAll result = readBytes(input, {}, bufferBytes);
            QCOMPARE(result.last, CsvReader::Status::End);
            QCOMPARE(result.rows.size(), 2);
            QCOMPARE(result.rows[0].fields.size(), 3);
            QVERIFY(result.rows[0].fields[1] == unescaped);
            QCOMPARE(result.rows[0].fields[2], QByteArray("b"));
            QCOMPARE(result.rows[1].line, 1 + qint64(unescaped.count('\n')) + 1);
            QCOMPARE(result.rows[1].fields, QByteArrayList{"next"});
        }
        // Unquoted too.
        const QByteArray plain(10 << 20, 'y');
        const ReadAll result = readBytes(plain + "\n", {}, 1 << 20);
        QCOMPARE(result.rows.size(), 1);
        QVERIFY(result.rows[0].fields[0] == plain);
    }

    void manyRecordsAcrossRefills()
    {
        // Megabytes of mixed records, so that the reader's window fills, moves the record in
        // progress to its front and grows, with chunk edges falling everywhere.
        QRandomGenerator random(4180);
        const auto pick = [&](int n) { return int(random.bounded(n)); };
        Rows expected;
        QList<qint64> lines;
        QByteArray input;
        qint64 line = 1;
        while (input.size() < 3 << 20) {
            QByteArrayList fields;
            const int count = 1 + pick(8);
            lines.append(line);
            for (int f = 0; f < count; ++f) {
                QByteArray field;
                // Unquoted, quoted without escapes, quoted with everything, long quoted.
                const int kind = pick(4);
                const int length = pick(kind == 3 ? 2000 : kind == 0 ? 400 : 24);
                for (int i = 0; i < length; ++i)
                    field +=
                        kind == 0 ? char('a' + pick(26)) : ",\nab c\""[pick(kind == 1 ? 6 : 7)];
                fields.append(field);
                if (f > 0)
                    input += ',';
                if (kind == 0 && pick(2) == 0) {
                    input += field;
                } else {
                    input += '"' + QByteArray(field).replace("\"", "\"\"") + '"';
                    line += field.count('\n');
                }
            }
            expected.append(fields);
            input += pick(2) ? "\r\n" : "\n";
            ++line;
        }
        for (const qsizetype bufferBytes : {qsizetype(7), qsizetype(4093), qsizetype(1 << 20)}) {
            const ReadAll result = readBytes(input, {}, bufferBytes);
            QCOMPARE(result.last, CsvReader::Status::End);
            QCOMPARE(result.rows.size(), expected.size());
            for (qsizetype i = 0; i < expected.size(); ++i) {
                QCOMPARE(result.rows[i].fields, expected[i]);
                QCOMPARE(result.rows[i].line, lines[i]);
            }
        }
    }

    void recordLongerThanTheLimitIsAnError()
    {
        CsvReader::Options options;
        options.maxRecordBytes = 100;
        const QByteArray ok(90, 'a');
        const QByteArray input = ok + "\n" + ok + "\n\"" + QByteArray(500, 'b') + "\"\n";
        for (const qsizetype bufferBytes : {qsizetype(7), qsizetype(1 << 20)}) {
            const ReadAll result = readBytes(input, options, bufferBytes);
            QCOMPARE(result.rows.size(), 2);
            QCOMPARE(result.last, CsvReader::Status::Error);
            QVERIFY2(result.error.contains(QStringLiteral("line 3 is longer than 100 bytes")),
                     qPrintable(result.error));
        }
        // A huge field against the default-sized window: refused before it is all buffered.
        options.maxRecordBytes = 1 << 20;
        const ReadAll huge = readBytes(QByteArray(8 << 20, 'z'), options, 1 << 16);
        QCOMPARE(huge.last, CsvReader::Status::Error);
        QVERIFY(huge.error.contains(QStringLiteral("line 1")));
    }

    // Found by fuzz_csvreader: a record past both caps was refused for its fields when read
    // whole and for its length when read in pieces. The cap it passes first wins, always.
    void recordPastBothCapsGetsOneErrorWhateverTheChunks()
    {
        CsvReader::Options options;
        options.delimiter = '?';
        options.maxRecordBytes = 1;
        options.maxFields = 1;
        for (const qsizetype bufferBytes : kBufferSizes) {
            const ReadAll result = readBytes("N~N??~", options, bufferBytes);
            QCOMPARE(result.last, CsvReader::Status::Error);
            QVERIFY2(result.error.contains(QStringLiteral("line 1 is longer than 1 bytes")),
                     qPrintable(result.error));
        }
        // Within the length cap, the field cap speaks.
        options.maxRecordBytes = 100;
        for (const qsizetype bufferBytes : kBufferSizes) {
            const ReadAll result = readBytes("a?b?c\n", options, bufferBytes);
            QCOMPARE(result.last, CsvReader::Status::Error);
            QVERIFY2(result.error.contains(QStringLiteral("more than 1 fields")),
                     qPrintable(result.error));
        }
    }

    void sourceErrorsEndTheRead()
    {
        // A gzip file cut in half: the rows before the cut come, then the source's error.
        QByteArray csv;
        for (int i = 0; i < 20'000; ++i)
            csv += QByteArray::number(i) + ",row\n";
        // qCompress gives a 4-byte length and a zlib stream: 2 header bytes, raw deflate data,
        // 4 check bytes. A gzip header in front of half the deflate data is a truncated gzip.
        const QByteArray zlib = qCompress(csv);
        const QByteArray deflate = zlib.mid(6, zlib.size() - 10);
        const QByteArray gzipHeader("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03", 10);
        auto source = ByteSource::fromBytes(gzipHeader + deflate.left(deflate.size() / 2), {});
        CsvReader reader(*source, {});
        const ReadAll result = readAll(reader);
        QVERIFY(result.rows.size() > 0);
        QVERIFY(result.rows.size() < 20'000);
        QCOMPARE(result.rows[0].fields, (QByteArrayList{"0", "row"}));
        QCOMPARE(result.last, CsvReader::Status::Error);
        QVERIFY2(result.error.contains(QStringLiteral("truncated")), qPrintable(result.error));
    }

    void tsvOptionsAreTabAndNoQuote()
    {
        const CsvReader::Options options = tsvOptions();
        QCOMPARE(options.delimiter, '\t');
        QCOMPARE(options.quote, '\0');
    }
};

QTEST_GUILESS_MAIN(tst_CsvReader)
#include "tst_csvreader.moc"
