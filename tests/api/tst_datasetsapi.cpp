// GET /api/v1/datasets and a dataset's records streamed out (NDJSON and CSV) over real HTTP.
#include "jobsapicases.h"

using namespace Ferry;
using namespace Ferry::Test;

class tst_DatasetsApi : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void datasetList()
    {
        JobsApiFixture api;
        QCOMPARE(api.get(QStringLiteral("/api/v1/datasets"), api.aliceToken)
                     .json.value(u"datasets")
                     .toArray()
                     .size(),
                 0);
        api.migrate(api.alice.id, QStringLiteral("people"), peopleCsv(7), peopleMapping());
        api.migrate(api.alice.id, QStringLiteral("animals"), peopleCsv(2));
        const JobsReply reply = api.get(QStringLiteral("/api/v1/datasets"), api.aliceToken);
        QCOMPARE(reply.status, 200);
        const QJsonArray list = reply.json.value(u"datasets").toArray();
        QCOMPARE(list.size(), 2);
        const QJsonObject animals = list.at(0).toObject(); // by name
        const QJsonObject people = list.at(1).toObject();
        QCOMPARE(animals.value(u"name").toString(), QStringLiteral("animals"));
        QCOMPARE(people.value(u"name").toString(), QStringLiteral("people"));
        QCOMPARE(people.value(u"records").toInteger(), 7);
        QCOMPARE(people.value(u"columns").toArray(),
                 QJsonArray({QStringLiteral("id"), QStringLiteral("name")}));
        QVERIFY(people.value(u"createdAt").toInteger() > 0);
        QVERIFY(people.value(u"updatedAt").toInteger() >= people.value(u"createdAt").toInteger());
    }

    void exportRecords_data()
    {
        QTest::addColumn<int>("rows");
        QTest::newRow("small") << 3;
        QTest::newRow("50k records, streamed in pages") << 50'000;
    }

    void exportRecords()
    {
        QFETCH(int, rows);
        JobsApiFixture api;
        api.migrate(api.alice.id, QStringLiteral("people"), peopleCsv(rows), peopleMapping());

        const JobsReply ndjson =
            api.get(QStringLiteral("/api/v1/datasets/people/records"), api.aliceToken);
        QCOMPARE(ndjson.status, 200);
        QCOMPARE(ndjson.headers.value("content-type"),
                 QByteArray("application/x-ndjson; charset=utf-8"));
        QCOMPARE(ndjson.headers.value("content-disposition"),
                 QByteArray("attachment; filename=\"people.ndjson\""));
        QCOMPARE(ndjson.headers.value("transfer-encoding"), QByteArray("chunked"));
        const QList<QByteArray> docs = bodyLines(ndjson.body, "\n");
        QCOMPARE(docs.size(), rows);
        QSet<qint64> seen;
        for (const QByteArray &line : docs) {
            const QJsonObject doc = QJsonDocument::fromJson(line).object();
            const qint64 id = doc.value(u"id").toInteger();
            QCOMPARE(doc.value(u"name").toString(), QStringLiteral("name %1").arg(id));
            seen.insert(id);
        }
        QCOMPARE(seen.size(), rows);
        QVERIFY(seen.contains(1) && seen.contains(rows));

        const JobsReply csv =
            api.get(QStringLiteral("/api/v1/datasets/people/records?format=csv"), api.aliceToken);
        QCOMPARE(csv.status, 200);
        QCOMPARE(csv.headers.value("content-type"), QByteArray("text/csv; charset=utf-8"));
        QCOMPARE(csv.headers.value("content-disposition"),
                 QByteArray("attachment; filename=\"people.csv\""));
        const QList<QByteArray> rowsOut = bodyLines(csv.body, "\r\n");
        QCOMPARE(rowsOut.size(), rows + 1);
        QCOMPARE(rowsOut.first(), QByteArray("id,name"));
        QSet<qint64> csvSeen;
        for (qsizetype i = 1; i < rowsOut.size(); ++i) {
            const QList<QByteArray> cells = rowsOut.at(i).split(',');
            QCOMPARE(cells.size(), 2);
            QCOMPARE(cells.at(1), "name " + cells.at(0));
            csvSeen.insert(cells.at(0).toLongLong());
        }
        QCOMPARE(csvSeen.size(), rows);

        const JobsReply head =
            api.call("HEAD", QStringLiteral("/api/v1/datasets/people/records"), api.aliceToken);
        QCOMPARE(head.status, 200);
        QVERIFY(head.body.isEmpty());
        QCOMPARE(api.get(QStringLiteral("/api/v1/datasets/nothing/records"), api.aliceToken).status,
                 404);
        QCOMPARE(api.get(QStringLiteral("/api/v1/datasets/..%2Fx/records"), api.aliceToken).status,
                 404);
    }
};

QTEST_GUILESS_MAIN(tst_DatasetsApi)
#include "tst_datasetsapi.moc"
