#include "migrate/mapping.h"
#include "migrate/recordconverter.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTest>

using namespace Ferry;

class tst_Mapping : public QObject
{
    Q_OBJECT

private:
    static QJsonValue json(const char *text)
    {
        return QJsonDocument::fromJson(QByteArray(text)).object();
    }

private Q_SLOTS:
    void conversions_data()
    {
        QTest::addColumn<QString>("type");
        QTest::addColumn<QByteArray>("input");
        QTest::addColumn<QByteArray>("output"); // empty: rejected
        QTest::addColumn<QString>("reason");
        QTest::newRow("string") << "string" << QByteArray("a \"q\"\\\n\t\x01")
                                << QByteArray("\"a \\\"q\\\"\\\\\\n\\t\\u0001\"") << "";
        QTest::newRow("string utf-8")
            << "string" << QByteArray("Zoë 日本") << QByteArray("\"Zoë 日本\"") << "";
        QTest::newRow("integer") << "integer" << QByteArray(" -42 ") << QByteArray("-42") << "";
        QTest::newRow("integer plus") << "integer" << QByteArray("+7") << QByteArray("7") << "";
        QTest::newRow("integer max") << "integer" << QByteArray("9223372036854775807")
                                     << QByteArray("9223372036854775807") << "";
        QTest::newRow("integer overflow") << "integer" << QByteArray("9223372036854775808")
                                          << QByteArray() << "out of the 64-bit integer range";
        QTest::newRow("integer decimal")
            << "integer" << QByteArray("4.5") << QByteArray() << "is not an integer";
        QTest::newRow("integer text")
            << "integer" << QByteArray("abc") << QByteArray() << "'abc' is not an integer";
        // Found by fuzz_mapping: "+-5" read as -5 (the '+' was dropped, then "-5" parsed).
        QTest::newRow("integer plus minus")
            << "integer" << QByteArray("+-5") << QByteArray() << "'+-5' is not an integer";
        QTest::newRow("number plus minus")
            << "number" << QByteArray("+-5.5") << QByteArray() << "'+-5.5' is not a number";
        QTest::newRow("number") << "number" << QByteArray("3.25") << QByteArray("3.25") << "";
        QTest::newRow("number exp")
            << "number" << QByteArray("-1e-3") << QByteArray("-0.001") << "";
        QTest::newRow("number huge")
            << "number" << QByteArray("1e308") << QByteArray("1e+308") << "";
        QTest::newRow("number inf")
            << "number" << QByteArray("1e999") << QByteArray() << "is not a number";
        QTest::newRow("number nan")
            << "number" << QByteArray("nan") << QByteArray() << "is not a number";
        QTest::newRow("number comma")
            << "number" << QByteArray("1,5") << QByteArray() << "is not a number";
        QTest::newRow("boolean yes") << "boolean" << QByteArray("Yes") << QByteArray("true") << "";
        QTest::newRow("boolean 0") << "boolean" << QByteArray("0") << QByteArray("false") << "";
        QTest::newRow("boolean FALSE")
            << "boolean" << QByteArray("FALSE") << QByteArray("false") << "";
        QTest::newRow("boolean maybe")
            << "boolean" << QByteArray("maybe") << QByteArray() << "is not a boolean";
        QTest::newRow("date") << "date" << QByteArray("2024-02-29") << QByteArray("\"2024-02-29\"")
                              << "";
        QTest::newRow("date not leap")
            << "date" << QByteArray("2023-02-29") << QByteArray() << "is not a date";
        QTest::newRow("date format")
            << "date" << QByteArray("29/02/2024") << QByteArray() << "YYYY-MM-DD";
        QTest::newRow("datetime Z") << "datetime" << QByteArray("2026-11-29T14:05:00Z")
                                    << QByteArray("\"2026-11-29T14:05:00.000Z\"") << "";
        QTest::newRow("datetime offset") << "datetime" << QByteArray("2026-11-29 01:30:15.25+02:00")
                                         << QByteArray("\"2026-11-28T23:30:15.250Z\"") << "";
        QTest::newRow("datetime no seconds") << "datetime" << QByteArray("2026-01-01T00:00-0130")
                                             << QByteArray("\"2026-01-01T01:30:00.000Z\"") << "";
        QTest::newRow("datetime bad hour") << "datetime" << QByteArray("2026-01-01T25:00:00Z")
                                           << QByteArray() << "is not a date-time";
        QTest::newRow("datetime junk") << "datetime" << QByteArray("2026-01-01T10:00:00Zjunk")
                                       << QByteArray() << "is not a date-time";
        QTest::newRow("json object")
            << "json" << QByteArray("{ \"a\" : [1, 2] }") << QByteArray("{\"a\":[1,2]}") << "";
        QTest::newRow("json scalar") << "json" << QByteArray("12") << QByteArray("12") << "";
        QTest::newRow("json bad") << "json" << QByteArray("{a:1}") << QByteArray() << "is not JSON";
    }
    void conversions()
    {
        QFETCH(QString, type);
        QFETCH(QByteArray, input);
        QFETCH(QByteArray, output);
        QFETCH(QString, reason);
        auto mapping = Mapping::fromJson(
            QJsonObject{{QStringLiteral("fields"),
                         QJsonArray{QJsonObject{{QStringLiteral("name"), QStringLiteral("f")},
                                                {QStringLiteral("type"), type}}}}});
        QVERIFY2(mapping.ok(), qPrintable(mapping.error().toString()));
        std::string out, why;
        const bool ok =
            convertText(mapping->fields[0].type,
                        std::string_view(input.constData(), size_t(input.size())), out, why);
        if (output.isEmpty()) {
            QVERIFY(!ok);
            QVERIFY2(QString::fromStdString(why).contains(reason), why.c_str());
        } else {
            QVERIFY2(ok, why.c_str());
            QCOMPARE(QByteArray::fromStdString(out), output);
        }
    }

    void badMappings_data()
    {
        QTest::addColumn<QByteArray>("mapping");
        QTest::addColumn<QString>("mentions");
        QTest::newRow("not object") << QByteArray("[1]") << "JSON object";
        QTest::newRow("no fields") << QByteArray("{\"fields\": []}") << "non-empty array";
        QTest::newRow("unknown type")
            << QByteArray("{\"fields\": [{\"name\": \"a\", \"type\": \"money\"}]}")
            << "unknown type \"money\"";
        QTest::newRow("duplicate")
            << QByteArray("{\"fields\": [{\"name\": \"a\"}, {\"name\": \"a\"}]}")
            << "appears twice";
        QTest::newRow("bad key") << QByteArray("{\"fields\": [{\"name\": \"a\"}], \"key\": \"b\"}")
                                 << "\"key\"";
        QTest::newRow("bad default")
            << QByteArray(
                   "{\"fields\": [{\"name\": \"a\", \"type\": \"integer\", \"default\": \"x\"}]}")
            << "default";
        QTest::newRow("unknown member")
            << QByteArray("{\"fields\": [{\"name\": \"a\", \"typ\": \"integer\"}]}") << "\"typ\"";
        QTest::newRow("required not bool")
            << QByteArray("{\"fields\": [{\"name\": \"a\", \"required\": \"yes\"}]}") << "required";
    }
    void badMappings()
    {
        QFETCH(QByteArray, mapping);
        QFETCH(QString, mentions);
        const QJsonDocument doc = QJsonDocument::fromJson(mapping);
        auto parsed =
            Mapping::fromJson(doc.isArray() ? QJsonValue(doc.array()) : QJsonValue(doc.object()));
        QVERIFY(!parsed.ok());
        QCOMPARE(parsed.error().code, ErrorCode::InvalidArgument);
        QVERIFY2(parsed.error().message.contains(mentions), qPrintable(parsed.error().message));
    }

    void tableRowsWithMapping()
    {
        auto mapping =
            Mapping::fromJson(json("{\"fields\": [\n"
                                   "            {\"name\": \"id\", \"source\": \"ID\", \"type\": "
                                   "\"integer\", \"required\": true},\n"
                                   "            {\"name\": \"name\", \"source\": \"Name\"},\n"
                                   "            {\"name\": \"active\", \"source\": \"Active\", "
                                   "\"type\": \"boolean\", \"default\": false}],\n"
                                   "            \"key\": \"id\"}"));
        QVERIFY(mapping.ok());
        auto converter = RecordConverter::forTable(*mapping, {}, {"Name", "ID", "Active", "Extra"});
        QVERIFY2(converter.ok(), qPrintable(converter.error().toString()));
        RecordWrite out;
        QList<RowError> errors;
        QVERIFY(converter->convertRow({"Ann", "7", "", "x"}, out, errors));
        QCOMPARE(QByteArray::fromStdString(out.doc),
                 QByteArray("{\"id\":7,\"name\":\"Ann\",\"active\":false}"));
        QCOMPARE(QByteArray::fromStdString(out.key), QByteArray("7"));
        QVERIFY(!converter->convertRow({"Bob", "", "yes", "x"}, out, errors));
        QCOMPARE(errors.first().field, QStringLiteral("id"));
        QVERIFY(errors.first().reason.contains(u"required"));
        QVERIFY(!converter->convertRow({"Bob", "x7", "yes", "x"}, out, errors));
        QVERIFY(errors.first().reason.contains(u"'x7' is not an integer"));
        QVERIFY(!converter->convertRow({"ragged", "1"}, out, errors));
        QVERIFY(errors.first().reason.contains(u"expected 4 fields, found 2"));
        QCOMPARE(converter->columns(), (QJsonArray{QStringLiteral("id"), QStringLiteral("name"),
                                                   QStringLiteral("active")}));
    }

    // A rejected row lists every field that fails, not only the first; a very wide row is
    // capped at MaxRowErrors entries and one that says how many more there were.
    void rowErrorsListEveryField()
    {
        auto mapping = Mapping::fromJson(
            json("{\"fields\": [{\"name\": \"id\", \"type\": \"integer\", \"required\": true},"
                 " {\"name\": \"score\", \"type\": \"number\"},"
                 " {\"name\": \"active\", \"type\": \"boolean\"}]}"));
        QVERIFY(mapping.ok());
        auto converter = RecordConverter::forTable(*mapping, {}, {"id", "score", "active"});
        QVERIFY(converter.ok());
        RecordWrite out;
        QList<RowError> errors;
        QVERIFY(!converter->convertRow({"", "high", "maybe"}, out, errors));
        QCOMPARE(errors.size(), 3);
        QCOMPARE(errors.at(0).field, QStringLiteral("id"));
        QVERIFY(errors.at(0).reason.contains(u"required"));
        QCOMPARE(errors.at(1).field, QStringLiteral("score"));
        QCOMPARE(errors.at(2).field, QStringLiteral("active"));
        // The next row is judged afresh: no errors carried over.
        QVERIFY(converter->convertRow({"1", "2.5", "true"}, out, errors));
        QVERIFY(errors.isEmpty());

        QJsonArray fields;
        std::vector<std::string> header;
        std::vector<std::string_view> bad;
        for (int i = 0; i < 50; ++i) {
            fields.append(QJsonObject{{QStringLiteral("name"), QStringLiteral("f%1").arg(i)},
                                      {QStringLiteral("type"), QStringLiteral("integer")}});
            header.push_back(QStringLiteral("f%1").arg(i).toStdString());
        }
        for (int i = 0; i < 50; ++i)
            bad.push_back("x");
        auto wide = Mapping::fromJson(QJsonObject{{QStringLiteral("fields"), fields}});
        QVERIFY(wide.ok());
        auto wideConverter = RecordConverter::forTable(*wide, {}, header);
        QVERIFY(wideConverter.ok());
        QVERIFY(!wideConverter->convertRow(bad, out, errors));
        QCOMPARE(errors.size(), RecordConverter::MaxRowErrors + 1);
        QVERIFY2(errors.last().reason.contains(u"30 more"), qPrintable(errors.last().reason));
    }

    void mappingNamesMissingColumn()
    {
        auto mapping =
            Mapping::fromJson(json("{\"fields\": [{\"name\": \"id\", \"source\": \"ID\"}]}"));
        auto converter = RecordConverter::forTable(*mapping, {}, {"id", "name"});
        QVERIFY(!converter.ok());
        QVERIFY(converter.error().message.contains(u"\"ID\""));
        QVERIFY(converter.error().hint.contains(u"id, name"));
    }

    void tableRowsWithoutMapping()
    {
        auto converter =
            RecordConverter::forTable(std::nullopt, QStringLiteral("sku"), {"sku", "note"});
        QVERIFY(converter.ok());
        RecordWrite out;
        QList<RowError> errors;
        QVERIFY(converter->convertRow({"A-1", "say \"hi\""}, out, errors));
        QCOMPARE(QByteArray::fromStdString(out.doc),
                 QByteArray("{\"sku\":\"A-1\",\"note\":\"say \\\"hi\\\"\"}"));
        QCOMPARE(QByteArray::fromStdString(out.key), QByteArray("A-1")); // a string key by its text
        QVERIFY(!converter->convertRow({"", "no key"}, out, errors));
        QVERIFY(errors.first().reason.contains(u"key"));
        QVERIFY(!RecordConverter::forTable(std::nullopt, {}, {"a", "a"}).ok()); // ambiguous
        QVERIFY(!RecordConverter::forTable(std::nullopt, QStringLiteral("nope"), {"a"}).ok());
    }

    void documents()
    {
        auto asIs = RecordConverter::forDocuments(std::nullopt, {});
        RecordWrite out;
        QList<RowError> errors;
        QVERIFY(asIs->convertDocument("[1, {\"a\": 2}]", out, errors));
        QCOMPARE(QByteArray::fromStdString(out.doc), QByteArray("[1, {\"a\": 2}]"));

        auto keyed = RecordConverter::forDocuments(std::nullopt, QStringLiteral("user.id"));
        QVERIFY(keyed->convertDocument("{\"user\": {\"id\": \"u1\"}, \"x\": 1}", out, errors));
        QCOMPARE(QByteArray::fromStdString(out.key), QByteArray("u1"));
        QVERIFY(!keyed->convertDocument("{\"x\": 1}", out, errors));

        auto mapping =
            Mapping::fromJson(json("{\"fields\": [\n"
                                   "            {\"name\": \"id\", \"type\": \"integer\"}, "
                                   "{\"name\": \"city\", \"source\": \"addr.city\"},\n"
                                   "            {\"name\": \"tags\", \"type\": \"json\"}, "
                                   "{\"name\": \"when\", \"type\": \"datetime\"}]}"));
        auto mapped = RecordConverter::forDocuments(*mapping, {});
        QVERIFY(mapped->convertDocument("{\"id\": 3, \"addr\": {\"city\": \"Oslo\"}, \"tags\": "
                                        "[\"a\"], \"when\": \"2026-01-01T00:00:00+01:00\"}",
                                        out, errors));
        QCOMPARE(QByteArray::fromStdString(out.doc),
                 QByteArray("{\"id\":3,\"city\":\"Oslo\",\"tags\":[\"a\"],\"when\":\"2025-12-31T23:"
                            "00:00.000Z\"}"));
        QVERIFY(!mapped->convertDocument("{\"id\": 3.5}", out, errors));
        QCOMPARE(errors.first().field, QStringLiteral("id"));
        QVERIFY(!mapped->convertDocument("[1]", out, errors));
        QVERIFY(errors.first().reason.contains(u"object"));
    }
};

QTEST_GUILESS_MAIN(tst_Mapping)
#include "tst_mapping.moc"
