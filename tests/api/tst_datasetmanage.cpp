// Managing datasets over real HTTP (issue 15): a dataset's details (schema, key, records, size,
// the imports that wrote it), paged record reads, and deletes of a dataset or of its records,
// refused while a migration into it could still write or undo rows. Another user's dataset is a
// 404 on every route.
#include "jobsapitestsupport.h"

#include <QSet>

using namespace Ferry;
using namespace Ferry::Test;

namespace {

QByteArray peopleCsv(int first, int last)
{
    QByteArray csv = "id,name\n";
    for (int i = first; i <= last; ++i)
        csv += QByteArray::number(i) + ",name " + QByteArray::number(i) + "\n";
    return csv;
}

QJsonObject keyedMapping()
{
    return QJsonDocument::fromJson("{\"fields\": [{\"name\": \"id\", \"type\": \"integer\", "
                                   "\"required\": true}, {\"name\": \"name\"}], \"key\": \"id\"}")
        .object();
}

QString detailPath(const QString &name)
{
    return QStringLiteral("/api/v1/datasets/") + name;
}

// A "migrate" job into the dataset that no dispatcher runs (the blob need not exist).
qint64 queueMigration(JobsApiFixture &api, qint64 user, const QString &dataset)
{
    NewJob job;
    job.userId = user;
    job.type = QStringLiteral("migrate");
    job.payload = {{QStringLiteral("blob"), QString(64, u'a')},
                   {QStringLiteral("format"), QStringLiteral("csv")},
                   {QStringLiteral("dataset"), dataset}};
    auto queued = api.queue->enqueue(job);
    if (!queued)
        qFatal("enqueue: %s", qPrintable(queued.error().toString()));
    return queued->id;
}

} // namespace

class tst_DatasetManage : public QObject
{
    Q_OBJECT

private:
    // Every record of the dataset, paged with this limit (0: the default): the "id" of each, in
    // the order read, and the number of pages.
    static std::pair<QList<qint64>, int> readAll(JobsApiFixture &api,
                                                 const QString &dataset,
                                                 int limit,
                                                 const QByteArray &token,
                                                 const std::function<void(int page)> &between = {})
    {
        QList<qint64> ids;
        QString cursor;
        int pages = 0;
        while (true) {
            QString path = QStringLiteral("/api/v1/datasets/%1/records?format=json").arg(dataset);
            if (limit)
                path += QStringLiteral("&limit=%1").arg(limit);
            if (!cursor.isEmpty())
                path += QStringLiteral("&after=") + cursor;
            const JobsReply reply = api.get(path, token);
            if (reply.status != 200) {
                qWarning("%s: %d %s", qPrintable(path), reply.status, reply.body.constData());
                return {{}, -1};
            }
            ++pages;
            const QJsonArray records = reply.json.value(u"records").toArray();
            if (records.size() > (limit ? limit : 100)) {
                qWarning("a page of %lld records, more than the limit", qlonglong(records.size()));
                return {{}, -1};
            }
            for (const QJsonValue &record : records) {
                // A number with a mapping, the CSV text without one.
                const QJsonValue id = record.toObject().value(u"id");
                ids.append(id.isString() ? id.toString().toLongLong() : id.toInteger());
            }
            const QJsonValue next = reply.json.value(u"next");
            if (next.isNull())
                return {ids, pages};
            if (!next.isString() || records.isEmpty()) {
                qWarning("next is %s after %lld records", reply.body.constData(),
                         qlonglong(records.size()));
                return {{}, -1};
            }
            cursor = next.toString();
            if (between)
                between(pages);
        }
    }

private Q_SLOTS:
    void detailShowsSchemaKeySizeAndImports()
    {
        JobsApiFixture api;
        const SubmittedMigration first =
            api.migrate(api.alice.id, QStringLiteral("people"), peopleCsv(1, 3), keyedMapping());
        const SubmittedMigration second = api.migrate(api.alice.id, QStringLiteral("people"),
                                                      peopleCsv(4, 5) + "x,bad\n", keyedMapping());
        const JobsReply reply = api.get(detailPath(QStringLiteral("people")), api.aliceToken);
        QVERIFY2(reply.status == 200, reply.body.constData());
        QCOMPARE(reply.json.value(u"success").toBool(), true);
        const QJsonObject dataset = reply.json.value(u"dataset").toObject();
        QCOMPARE(dataset.value(u"name").toString(), QStringLiteral("people"));
        QCOMPARE(dataset.value(u"key").toString(), QStringLiteral("id"));
        QCOMPARE(dataset.value(u"columns").toArray(),
                 QJsonArray({QStringLiteral("id"), QStringLiteral("name")}));
        QCOMPARE(dataset.value(u"records").toInteger(), 5);
        QVERIFY(dataset.value(u"createdAt").toInteger() > 0);
        QVERIFY(dataset.value(u"updatedAt").toInteger() >= dataset.value(u"createdAt").toInteger());
        // sizeBytes: the stored documents' bytes, which the NDJSON export writes one per line.
        const JobsReply ndjson = api.get(
            QStringLiteral("/api/v1/datasets/people/records?format=ndjson"), api.aliceToken);
        QCOMPARE(ndjson.status, 200);
        QCOMPARE(dataset.value(u"sizeBytes").toInteger(), ndjson.body.size() - 5);

        const QJsonArray imports = dataset.value(u"imports").toArray();
        QCOMPARE(imports.size(), 2);
        const QJsonObject newest = imports.at(0).toObject();
        const QJsonObject oldest = imports.at(1).toObject();
        QCOMPARE(newest.value(u"jobId"), QJsonValue(QString::number(second.jobId)));
        QCOMPARE(oldest.value(u"jobId"), QJsonValue(QString::number(first.jobId)));
        QCOMPARE(newest.value(u"sessionId").toString(), second.sessionId);
        QCOMPARE(oldest.value(u"sessionId").toString(), first.sessionId);
        for (const QJsonObject &i : {newest, oldest}) {
            QCOMPARE(i.value(u"status").toString(), QStringLiteral("completed"));
            QVERIFY(i.value(u"createdAt").toInteger() > 0);
            QVERIFY(i.value(u"finishedAt").toInteger() >= i.value(u"createdAt").toInteger());
        }
        QCOMPARE(oldest.value(u"rowsImported").toInteger(), 3);
        QCOMPARE(oldest.value(u"rowsRejected").toInteger(), 0);
        QCOMPARE(newest.value(u"rowsImported").toInteger(), 2);
        QCOMPARE(newest.value(u"rowsRejected").toInteger(), 1);

        // A dataset without a key says null; its imports without a session (none here) too.
        api.migrate(api.alice.id, QStringLiteral("plain"), peopleCsv(1, 2));
        const QJsonObject plain = api.get(detailPath(QStringLiteral("plain")), api.aliceToken)
                                      .json.value(u"dataset")
                                      .toObject();
        QVERIFY(plain.value(u"key").isNull());
        QCOMPARE(plain.value(u"records").toInteger(), 2);
    }

    // At most 50 imports, newest first; a pending one has no finishedAt yet.
    void importsAreBoundedNewestFirst()
    {
        JobsApiFixture api;
        const SubmittedMigration first =
            api.migrate(api.alice.id, QStringLiteral("people"), peopleCsv(1, 2));
        QVERIFY(api.queue->setPaused(true).ok());
        QList<qint64> queued;
        for (int i = 0; i < MaxDatasetImports + 5; ++i)
            queued.append(queueMigration(api, api.alice.id, QStringLiteral("people")));
        queueMigration(api, api.alice.id, QStringLiteral("other")); // not this dataset's
        const JobsReply reply = api.get(detailPath(QStringLiteral("people")), api.aliceToken);
        QCOMPARE(reply.status, 200);
        const QJsonArray imports =
            reply.json.value(u"dataset").toObject().value(u"imports").toArray();
        QCOMPARE(imports.size(), MaxDatasetImports);
        for (int i = 0; i < imports.size(); ++i) {
            const QJsonObject entry = imports.at(i).toObject();
            QCOMPARE(entry.value(u"jobId").toString().toLongLong(),
                     queued.at(queued.size() - 1 - i));
            QCOMPARE(entry.value(u"status").toString(), QStringLiteral("pending"));
            QVERIFY(entry.value(u"finishedAt").isNull());
            QVERIFY(entry.value(u"sessionId").isNull());
        }
        QVERIFY(!reply.body.contains(QByteArray("\"" + QByteArray::number(first.jobId) + "\"")));
    }

    void detailOfWhatIsNotTheCallers_data()
    {
        QTest::addColumn<QString>("path");
        QTest::addColumn<bool>("asBob");
        QTest::newRow("no such dataset") << detailPath(QStringLiteral("nothing")) << false;
        QTest::newRow("another user's") << detailPath(QStringLiteral("people")) << true;
        QTest::newRow("a name no dataset can have") << detailPath(QStringLiteral("a%20b")) << false;
        QTest::newRow("a name too long") << detailPath(QString(65, u'a')) << false;
    }
    void detailOfWhatIsNotTheCallers()
    {
        QFETCH(QString, path);
        QFETCH(bool, asBob);
        JobsApiFixture api;
        api.migrate(api.alice.id, QStringLiteral("people"), peopleCsv(1, 2));
        const JobsReply reply = api.get(path, asBob ? api.bobToken : api.aliceToken);
        QCOMPARE(reply.status, 404);
        QCOMPARE(reply.json.value(u"success").toBool(true), false);
        QCOMPARE(reply.json.value(u"code").toString(), QStringLiteral("not_found"));
        QVERIFY(!reply.json.value(u"message").toString().isEmpty());
    }

    // More than 1000 records paged with several limits: each record exactly once, in insertion
    // order, the last page's next null.
    void pagingSeesEachRecordOnce_data()
    {
        QTest::addColumn<int>("limit");
        QTest::newRow("default (100)") << 0;
        QTest::newRow("1000") << 1000;
        QTest::newRow("333") << 333;
        QTest::newRow("7") << 7;
    }
    void pagingSeesEachRecordOnce()
    {
        QFETCH(int, limit);
        constexpr int Records = 2'500;
        JobsApiFixture api;
        api.migrate(api.alice.id, QStringLiteral("people"), peopleCsv(1, Records), keyedMapping());
        const auto [ids, pages] = readAll(api, QStringLiteral("people"), limit, api.aliceToken);
        QCOMPARE(ids.size(), Records);
        for (int i = 0; i < Records; ++i)
            QCOMPARE(ids.at(i), qint64(i + 1));
        const int pageSize = limit ? limit : 100;
        QCOMPARE(pages, (Records + pageSize - 1) / pageSize);
    }

    // Records written between pages come later; none is read twice or skipped.
    void pagingIsStableUnderInserts()
    {
        JobsApiFixture api;
        api.migrate(api.alice.id, QStringLiteral("people"), peopleCsv(1, 1'200), keyedMapping());
        const auto [ids, pages] =
            readAll(api, QStringLiteral("people"), 500, api.aliceToken, [&](int page) {
                if (page == 1) // new keys, and existing ones overwritten in place
                    api.migrate(api.alice.id, QStringLiteral("people"), peopleCsv(1'100, 1'300),
                                keyedMapping());
            });
        QCOMPARE(ids.size(), 1'300);
        QCOMPARE(QSet<qint64>(ids.cbegin(), ids.cend()).size(), 1'300);
        QCOMPARE(pages, 3);
    }

    void badPageParameters_data()
    {
        QTest::addColumn<QString>("query");
        QTest::addColumn<QString>("code");
        const QString limit = QStringLiteral("invalid_limit");
        const QString cursor = QStringLiteral("invalid_cursor");
        const QString parameter = QStringLiteral("invalid_parameter");
        QTest::newRow("limit 0") << QStringLiteral("format=json&limit=0") << limit;
        QTest::newRow("limit 1001") << QStringLiteral("format=json&limit=1001") << limit;
        QTest::newRow("limit -1") << QStringLiteral("format=json&limit=-1") << limit;
        QTest::newRow("limit 1.5") << QStringLiteral("format=json&limit=1.5") << limit;
        QTest::newRow("limit text") << QStringLiteral("format=json&limit=ten") << limit;
        QTest::newRow("limit empty") << QStringLiteral("format=json&limit=") << limit;
        QTest::newRow("limit huge")
            << QStringLiteral("format=json&limit=99999999999999999999") << limit;
        QTest::newRow("cursor text") << QStringLiteral("format=json&after=abc") << cursor;
        QTest::newRow("cursor 0") << QStringLiteral("format=json&after=0") << cursor;
        QTest::newRow("cursor negative") << QStringLiteral("format=json&after=-5") << cursor;
        QTest::newRow("cursor empty") << QStringLiteral("format=json&after=") << cursor;
        QTest::newRow("cursor huge")
            << QStringLiteral("format=json&after=99999999999999999999") << cursor;
        QTest::newRow("cursor of another dataset") << QStringLiteral("OTHER") << cursor;
        QTest::newRow("limit without format=json") << QStringLiteral("limit=10") << parameter;
        QTest::newRow("after with format=csv") << QStringLiteral("format=csv&after=1") << parameter;
        QTest::newRow("another format") << QStringLiteral("format=xml") << parameter;
        QTest::newRow("unknown parameter")
            << QStringLiteral("format=json&offset=10") << QStringLiteral("unknown_parameter");
    }
    void badPageParameters()
    {
        QFETCH(QString, query);
        QFETCH(QString, code);
        JobsApiFixture api;
        api.migrate(api.alice.id, QStringLiteral("people"), peopleCsv(1, 3));
        if (query == u"OTHER") {
            // A real cursor, of Bob's dataset of the same name: not one of Alice's.
            api.migrate(api.bob.id, QStringLiteral("people"), peopleCsv(1, 3));
            const JobsReply bobs =
                api.get(QStringLiteral("/api/v1/datasets/people/records?format=json&limit=1"),
                        api.bobToken);
            QCOMPARE(bobs.status, 200);
            query = QStringLiteral("format=json&after=") + bobs.json.value(u"next").toString();
        }
        const JobsReply reply =
            api.get(QStringLiteral("/api/v1/datasets/people/records?") + query, api.aliceToken);
        QCOMPARE(reply.status, 400);
        QCOMPARE(reply.json.value(u"success").toBool(true), false);
        QCOMPARE(reply.json.value(u"code").toString(), code);
        QVERIFY(!reply.json.value(u"message").toString().isEmpty());
    }

    // The ndjson and csv exports are unchanged by the paged reads.
    void exportsStayWhole()
    {
        JobsApiFixture api;
        api.migrate(api.alice.id, QStringLiteral("people"), peopleCsv(1, 150), keyedMapping());
        const JobsReply ndjson =
            api.get(QStringLiteral("/api/v1/datasets/people/records"), api.aliceToken);
        QCOMPARE(ndjson.status, 200);
        QCOMPARE(ndjson.headers.value("content-type"),
                 QByteArray("application/x-ndjson; charset=utf-8"));
        QCOMPARE(ndjson.body.count('\n'), 150);
        const JobsReply page =
            api.get(QStringLiteral("/api/v1/datasets/people/records?format=json"), api.aliceToken);
        QCOMPARE(page.headers.value("content-type").left(16), QByteArray("application/json"));
        QCOMPARE(page.json.value(u"records").toArray().size(), 100);
        // Documents as stored: the first line of the export is the first record of the page.
        QVERIFY(page.body.contains(ndjson.body.left(ndjson.body.indexOf('\n'))));
    }

    void deleteDataset()
    {
        JobsApiFixture api;
        const SubmittedMigration old =
            api.migrate(api.alice.id, QStringLiteral("people"), peopleCsv(1, 40), keyedMapping());
        api.migrate(api.alice.id, QStringLiteral("kept"), peopleCsv(1, 3));
        const JobsReply deleted =
            api.call("DELETE", detailPath(QStringLiteral("people")), api.aliceToken);
        QVERIFY2(deleted.status == 200, deleted.body.constData());
        QCOMPARE(deleted.json.value(u"success").toBool(), true);
        QCOMPARE(deleted.json.value(u"name").toString(), QStringLiteral("people"));
        QCOMPARE(deleted.json.value(u"recordsDeleted").toInteger(), 40);
        QCOMPARE(deleted.json.value(u"datasetDeleted").toBool(), true);
        // Gone everywhere; the other dataset untouched.
        QCOMPARE(api.get(detailPath(QStringLiteral("people")), api.aliceToken).status, 404);
        QCOMPARE(api.get(QStringLiteral("/api/v1/datasets/people/records"), api.aliceToken).status,
                 404);
        const QJsonArray list = api.get(QStringLiteral("/api/v1/datasets"), api.aliceToken)
                                    .json.value(u"datasets")
                                    .toArray();
        QCOMPARE(list.size(), 1);
        QCOMPARE(list.at(0).toObject().value(u"name").toString(), QStringLiteral("kept"));
        QCOMPARE(list.at(0).toObject().value(u"records").toInteger(), 3);
        QCOMPARE(api.call("DELETE", detailPath(QStringLiteral("people")), api.aliceToken).status,
                 404);
        // Nothing of it is left in the store, the completed import's checkpoint included.
        QCOMPARE(api.t.store->datasets().checkpoint(old.jobId)->has_value(), false);

        // A migration after the delete makes a new dataset: its own records, no key (this import
        // names none), and only its own import.
        const SubmittedMigration fresh =
            api.migrate(api.alice.id, QStringLiteral("people"), peopleCsv(100, 101));
        const QJsonObject dataset = api.get(detailPath(QStringLiteral("people")), api.aliceToken)
                                        .json.value(u"dataset")
                                        .toObject();
        QCOMPARE(dataset.value(u"records").toInteger(), 2);
        QVERIFY(dataset.value(u"key").isNull());
        const QJsonArray imports = dataset.value(u"imports").toArray();
        QCOMPARE(imports.size(), 1);
        QCOMPARE(imports.at(0).toObject().value(u"jobId").toString(), QString::number(fresh.jobId));
        const auto [ids, pages] = readAll(api, QStringLiteral("people"), 10, api.aliceToken);
        QCOMPARE(ids, QList<qint64>({100, 101}));
    }

    void deleteRecordsKeepsNameAndKey()
    {
        JobsApiFixture api;
        const SubmittedMigration first =
            api.migrate(api.alice.id, QStringLiteral("people"), peopleCsv(1, 30), keyedMapping());
        const QJsonObject before = api.get(detailPath(QStringLiteral("people")), api.aliceToken)
                                       .json.value(u"dataset")
                                       .toObject();
        const JobsReply emptied =
            api.call("DELETE", QStringLiteral("/api/v1/datasets/people/records"), api.aliceToken);
        QVERIFY2(emptied.status == 200, emptied.body.constData());
        QCOMPARE(emptied.json.value(u"recordsDeleted").toInteger(), 30);
        QCOMPARE(emptied.json.value(u"datasetDeleted").toBool(), false);
        const QJsonObject after = api.get(detailPath(QStringLiteral("people")), api.aliceToken)
                                      .json.value(u"dataset")
                                      .toObject();
        QCOMPARE(after.value(u"records").toInteger(), 0);
        QCOMPARE(after.value(u"sizeBytes").toInteger(), 0);
        QCOMPARE(after.value(u"key").toString(), QStringLiteral("id"));
        QCOMPARE(after.value(u"columns").toArray(), QJsonArray());
        QCOMPARE(after.value(u"schema").toArray(), QJsonArray()); // its types go with its columns
        QCOMPARE(after.value(u"createdAt"), before.value(u"createdAt"));
        QVERIFY(after.value(u"updatedAt").toInteger() >= before.value(u"updatedAt").toInteger());
        // The imports that wrote it stay listed.
        QCOMPARE(after.value(u"imports").toArray().at(0).toObject().value(u"jobId").toString(),
                 QString::number(first.jobId));
        const JobsReply page =
            api.get(QStringLiteral("/api/v1/datasets/people/records?format=json"), api.aliceToken);
        QCOMPARE(page.json.value(u"records").toArray().size(), 0);
        QVERIFY(page.json.value(u"next").isNull());
        // The next import writes into it and upserts by its key.
        api.migrate(api.alice.id, QStringLiteral("people"), peopleCsv(1, 5));
        api.migrate(api.alice.id, QStringLiteral("people"), peopleCsv(4, 6));
        const QJsonObject refilled = api.get(detailPath(QStringLiteral("people")), api.aliceToken)
                                         .json.value(u"dataset")
                                         .toObject();
        QCOMPARE(refilled.value(u"records").toInteger(), 6);
        QCOMPARE(refilled.value(u"columns").toArray(),
                 QJsonArray({QStringLiteral("id"), QStringLiteral("name")}));
        // Imported without a mapping since: no types.
        QCOMPARE(refilled.value(u"schema").toArray(),
                 QJsonArray({QJsonObject{{QStringLiteral("name"), QStringLiteral("id")}},
                             QJsonObject{{QStringLiteral("name"), QStringLiteral("name")}}}));
    }

    // The schema: the union of the imports' columns in first-seen order, each with the type its
    // mapping gave. An untyped import adds untyped columns and keeps the types there are; a
    // column that mappings gave different types is "mixed" and lists them, first-seen first; a
    // type given again is not listed twice.
    void schemaKeepsEachColumnsTypes()
    {
        JobsApiFixture api;
        const QString people = QStringLiteral("people");
        auto mapping = [](const char *json) { return QJsonDocument::fromJson(json).object(); };
        api.migrate(api.alice.id, people, "id,name\n1,Ada\n",
                    mapping("{\"fields\": [{\"name\": \"id\", \"type\": \"integer\"}, "
                            "{\"name\": \"name\", \"type\": \"string\"}]}"));
        api.migrate(api.alice.id, people, "id,name,email\n2,Bob,bob@example.com\n");
        const QJsonObject ageMapping =
            mapping("{\"fields\": [{\"name\": \"id\", \"type\": \"string\"}, "
                    "{\"name\": \"age\", \"source\": \"years\", \"type\": \"integer\"}]}");
        api.migrate(api.alice.id, people, "id,years\n3,40\n", ageMapping);
        api.migrate(api.alice.id, people, "id,years\n4,41\n", ageMapping);

        auto field = [](const char *name, const char *type = nullptr) {
            QJsonObject f{{QStringLiteral("name"), QString::fromLatin1(name)}};
            if (type)
                f.insert(QStringLiteral("type"), QString::fromLatin1(type));
            return f;
        };
        QJsonObject mixedId = field("id", "mixed");
        mixedId.insert(QStringLiteral("types"),
                       QJsonArray({QStringLiteral("integer"), QStringLiteral("string")}));
        const QJsonArray schema{mixedId, field("name", "string"), field("email"),
                                field("age", "integer")};
        const QJsonArray columns{QStringLiteral("id"), QStringLiteral("name"),
                                 QStringLiteral("email"), QStringLiteral("age")};

        const JobsReply detail = api.get(detailPath(people), api.aliceToken);
        QVERIFY2(detail.status == 200, detail.body.constData());
        const QJsonObject dataset = detail.json.value(u"dataset").toObject();
        QCOMPARE(dataset.value(u"records").toInteger(), 4);
        QCOMPARE(dataset.value(u"columns").toArray(), columns); // unchanged for old clients
        QCOMPARE(dataset.value(u"schema").toArray(), schema);

        const JobsReply list = api.get(QStringLiteral("/api/v1/datasets"), api.aliceToken);
        QVERIFY2(list.status == 200, list.body.constData());
        const QJsonObject entry = list.json.value(u"datasets").toArray().at(0).toObject();
        QCOMPARE(entry.value(u"columns").toArray(), columns);
        QCOMPARE(entry.value(u"schema").toArray(), schema);
    }

    // A pending migration into the dataset keeps both deletes away (409 dataset_busy naming it);
    // once it is cancelled the delete goes through.
    void deleteRefusedWhileMigrationPending()
    {
        JobsApiFixture api;
        api.migrate(api.alice.id, QStringLiteral("people"), peopleCsv(1, 10), keyedMapping());
        QVERIFY(api.queue->setPaused(true).ok());
        const qint64 pending = queueMigration(api, api.alice.id, QStringLiteral("people"));
        for (const QString &path : {detailPath(QStringLiteral("people")),
                                    QStringLiteral("/api/v1/datasets/people/records")}) {
            const JobsReply refused = api.call("DELETE", path, api.aliceToken);
            QCOMPARE(refused.status, 409);
            QCOMPARE(refused.json.value(u"success").toBool(true), false);
            QCOMPARE(refused.json.value(u"code").toString(), QStringLiteral("dataset_busy"));
            QCOMPARE(refused.json.value(u"jobId"), QJsonValue(QString::number(pending)));
            QCOMPARE(refused.json.value(u"jobStatus").toString(), QStringLiteral("pending"));
            QVERIFY(refused.json.value(u"message").toString().contains(QString::number(pending)));
            // Bob learns nothing: his delete of a name he does not have is a 404.
            QCOMPARE(api.call("DELETE", path, api.bobToken).status, 404);
        }
        QCOMPARE(api.get(detailPath(QStringLiteral("people")), api.aliceToken)
                     .json.value(u"dataset")
                     .toObject()
                     .value(u"records")
                     .toInteger(),
                 10);
        // A migration into another dataset does not keep this one.
        QCOMPARE(
            api.call("POST", QStringLiteral("/api/v1/jobs/%1/cancel").arg(pending), api.aliceToken)
                .status,
            200);
        queueMigration(api, api.alice.id, QStringLiteral("other"));
        const JobsReply deleted =
            api.call("DELETE", detailPath(QStringLiteral("people")), api.aliceToken);
        QVERIFY2(deleted.status == 200, deleted.body.constData());
        QCOMPARE(deleted.json.value(u"recordsDeleted").toInteger(), 10);
    }

    // A migration that wrote into the dataset keeps it while it runs and, once it failed, until
    // its undo ran: the undo must find the rows it wrote, and delete nothing else.
    void deleteRefusedUntilUndoRan()
    {
        JobsApiFixture api; // no dispatcher: the test runs the job's steps itself
        const qint64 datasetId = *api.t.store->datasets().ensureDataset(
            api.alice.id, QStringLiteral("people"), api.clock.nowMs());
        const qint64 jobId = queueMigration(api, api.alice.id, QStringLiteral("people"));
        ClaimRequest claim;
        claim.node = QStringLiteral("test");
        claim.limit = 1;
        claim.now = api.clock.nowMs();
        claim.leaseMs = 600'000;
        auto claimed = api.t.store->settleAndClaim({}, claim);
        QVERIFY(claimed && claimed->size() == 1);
        const ClaimedJob &job = claimed->first();
        QCOMPARE(job.id, jobId);
        ImportBatch batch;
        batch.jobId = jobId;
        batch.leaseToken = job.leaseToken;
        batch.records = {{{}, "{\"id\":1}"}, {{}, "{\"id\":2}"}};
        batch.checkpoint.datasetId = datasetId;
        batch.checkpoint.rowsImported = 2;
        QVERIFY(api.t.store->datasets().commitBatch(batch).ok());

        auto refusedWith = [&](const QString &status) {
            const JobsReply refused =
                api.call("DELETE", detailPath(QStringLiteral("people")), api.aliceToken);
            return refused.status == 409 &&
                   refused.json.value(u"code").toString() == u"dataset_busy" &&
                   refused.json.value(u"jobId").toString() == QString::number(jobId) &&
                   refused.json.value(u"jobStatus").toString() == status;
        };
        QVERIFY(refusedWith(QStringLiteral("running")));

        SettledAttempt failed;
        failed.jobId = jobId;
        failed.userId = api.alice.id;
        failed.leaseToken = job.leaseToken;
        failed.attempt = job.attempt;
        failed.startedAt = job.startedAt;
        failed.finishedAt = api.clock.nowMs();
        failed.newStatus = JobStatus::Failed;
        failed.outcome = QStringLiteral("failed");
        failed.error = QStringLiteral("the test failed it without its undo");
        ClaimRequest none;
        none.node = QStringLiteral("test");
        none.now = api.clock.nowMs();
        QVERIFY(api.t.store->settleAndClaim({failed}, none).ok());
        QCOMPARE((*api.t.store->job(jobId, std::nullopt))->status, JobStatus::Failed);
        QVERIFY(refusedWith(QStringLiteral("failed")));
        QCOMPARE(
            api.call("DELETE", QStringLiteral("/api/v1/datasets/people/records"), api.aliceToken)
                .status,
            409);
        QCOMPARE(api.get(detailPath(QStringLiteral("people")), api.aliceToken)
                     .json.value(u"dataset")
                     .toObject()
                     .value(u"records")
                     .toInteger(),
                 2);

        // The sweep undoes it (its two records); then the delete goes through.
        QCOMPARE(*api.t.store->datasets().undoEndedMigrations(), 1);
        const JobsReply deleted =
            api.call("DELETE", detailPath(QStringLiteral("people")), api.aliceToken);
        QVERIFY2(deleted.status == 200, deleted.body.constData());
        QCOMPARE(deleted.json.value(u"recordsDeleted").toInteger(), 0);
    }

    // Bob reaches none of Alice's datasets, and deleting his own of the same name leaves hers.
    void isolationBetweenUsers()
    {
        JobsApiFixture api;
        api.migrate(api.alice.id, QStringLiteral("people"), peopleCsv(1, 20), keyedMapping());
        api.migrate(api.bob.id, QStringLiteral("people"), peopleCsv(1, 3));
        api.migrate(api.alice.id, QStringLiteral("alices"), peopleCsv(1, 4));
        for (const QByteArray &method : {QByteArray("GET"), QByteArray("DELETE")}) {
            for (const QString &path : {detailPath(QStringLiteral("alices")),
                                        QStringLiteral("/api/v1/datasets/alices/records")}) {
                const JobsReply asBob = api.call(method, path, api.bobToken);
                QCOMPARE(asBob.status, 404);
                QCOMPARE(asBob.json.value(u"code").toString(), QStringLiteral("not_found"));
            }
        }
        QCOMPARE(
            api.get(QStringLiteral("/api/v1/datasets/alices/records?format=json"), api.bobToken)
                .status,
            404);
        // Bob's "people" is his: 3 records, his import only.
        const QJsonObject bobs = api.get(detailPath(QStringLiteral("people")), api.bobToken)
                                     .json.value(u"dataset")
                                     .toObject();
        QCOMPARE(bobs.value(u"records").toInteger(), 3);
        QCOMPARE(bobs.value(u"imports").toArray().size(), 1);
        const JobsReply bobDeletes =
            api.call("DELETE", detailPath(QStringLiteral("people")), api.bobToken);
        QCOMPARE(bobDeletes.status, 200);
        QCOMPARE(bobDeletes.json.value(u"recordsDeleted").toInteger(), 3);
        // Alice's are whole.
        const auto [ids, pages] = readAll(api, QStringLiteral("people"), 1000, api.aliceToken);
        QCOMPARE(ids.size(), 20);
        QCOMPARE(api.get(detailPath(QStringLiteral("alices")), api.aliceToken)
                     .json.value(u"dataset")
                     .toObject()
                     .value(u"records")
                     .toInteger(),
                 4);
    }
};

QTEST_GUILESS_MAIN(tst_DatasetManage)
#include "tst_datasetmanage.moc"
