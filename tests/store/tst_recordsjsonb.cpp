// Dataset documents on PostgreSQL are jsonb (0017_records_jsonb.sql, issue 17), read back compact
// (store/jsonbtext.h); on SQLite they are the text Ferry wrote. Run on both backends: what a
// document keeps whatever the backend, what jsonb changes (and SQLite does not), what jsonb
// refuses, and docs/deployment.md's example queries on an import.

#include "migrate/migratehandler.h"
#include "migrate/migrationrequest.h"
#include "queue/builtinhandlers.h"
#include "queue/dispatcher.h"
#include "storage/fileblobstore.h"
#include "store/jsonbtext.h"
#include "store/postgresnative.h"
#include "testbackend.h"
#include "testsupport.h"

#include <QBuffer>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>
#include <QTest>

using namespace Ferry;

namespace {

constexpr qint64 Now = 1'700'000'000'000;

// The fenced code blocks of one section ("## title") of a Markdown file, as (language, text).
QList<std::pair<QString, QString>> sectionBlocks(const QString &path, const QString &title)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        qFatal("cannot read %s", qPrintable(path));
    const QString text = QString::fromUtf8(file.readAll());
    const qsizetype start = text.indexOf(QStringLiteral("\n## ") + title + u'\n');
    if (start < 0)
        qFatal("no section \"%s\" in %s", qPrintable(title), qPrintable(path));
    qsizetype end = text.indexOf(QStringLiteral("\n## "), start + 4);
    const QString section = text.mid(start, end < 0 ? -1 : end - start);
    static const QRegularExpression fence(QStringLiteral("```(\\w+)\\n(.*?)```"),
                                          QRegularExpression::DotMatchesEverythingOption);
    QList<std::pair<QString, QString>> blocks;
    for (auto it = fence.globalMatch(section); it.hasNext();) {
        const auto match = it.next();
        blocks.append({match.captured(1), match.captured(2)});
    }
    return blocks;
}

} // namespace

class tst_RecordsJsonb : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init()
    {
        m_temp = std::make_unique<Test::TempStore>();
        m_data = &m_temp->store->datasets();
        m_user = m_temp->addUser(QStringLiteral("alice"));
        m_dataset = *m_data->ensureDataset(m_user, QStringLiteral("people"), Now);
    }
    void cleanup()
    {
        m_data = nullptr;
        m_temp.reset();
    }

    void compactingDropsOnlyTheSpacesOutsideStrings_data()
    {
        QTest::addColumn<QString>("printed");
        QTest::addColumn<QString>("compact");
        QTest::newRow("object") << QStringLiteral(
                                       "{\"a\": 1, \"bb\": [1, 2, {}], \"c\": {\"d\": null}}")
                                << QStringLiteral("{\"a\":1,\"bb\":[1,2,{}],\"c\":{\"d\":null}}");
        QTest::newRow("separators inside strings") << QStringLiteral("{\"a, b\": \"x: y, z \"}")
                                                   << QStringLiteral("{\"a, b\":\"x: y, z \"}");
        QTest::newRow("escaped quote, then a space")
            << QStringLiteral("[\"say \\\" hi\", \"back\\\\\", \" \"]")
            << QStringLiteral("[\"say \\\" hi\",\"back\\\\\",\" \"]");
        QTest::newRow("scalar string") << QStringLiteral("\" a \"") << QStringLiteral("\" a \"");
        QTest::newRow("number") << QStringLiteral("12.50") << QStringLiteral("12.50");
    }
    void compactingDropsOnlyTheSpacesOutsideStrings()
    {
        QFETCH(QString, printed);
        QFETCH(QString, compact);
        const std::string in = printed.toStdString();
        std::string out = "prefix";
        appendCompactJsonb(out, in);
        QCOMPARE(QString::fromStdString(out), QStringLiteral("prefix") + compact);
        QCOMPARE(compactJsonbSize(in), size_t(compact.toUtf8().size()));
    }

    // A document whose keys are in jsonb's order comes back byte for byte on both backends:
    // escapes, UTF-8, nesting, strings with ": " and ", ", and numbers past a double's precision.
    void documentsComeBackAsWritten()
    {
        const std::vector<std::string> docs = {
            "{\"n\":1,\"tag\":\"with \\\" and \\\\ and é\",\"text\":\"a: b, c\"}",
            "{\"id\":9223372036854775807,\"big\":123456789012345678901234567890,\"dec\":0."
            "10000000000000000000001}",
            "{\"a\":[1,2.5,-3e-7,{\"b\":null,\"c\":true}],\"d\":{},\"e\":[]}",
            "{\"s\":\"\\u00e9\\n\\t\"}",
        };
        const auto job = claimJob();
        QVERIFY(commit(job, docs).ok());
        const QStringList back = exportAll();
        QCOMPARE(back.size(), 4);
        QCOMPARE(back.at(0), QString::fromStdString(docs[0]));
        QCOMPARE(back.at(1), QString::fromStdString(docs[1]));
        // jsonb keeps the value of each number, written as a decimal without an exponent, and
        // a string's characters, with its own escapes.
        QCOMPARE(back.at(2),
                 Test::onPostgres()
                     ? QStringLiteral(
                           "{\"a\":[1,2.5,-0.0000003,{\"b\":null,\"c\":true}],\"d\":{},\"e\":[]}")
                     : QString::fromStdString(docs[2]));
        QCOMPARE(back.at(3), Test::onPostgres() ? QStringLiteral("{\"s\":\"é\\n\\t\"}")
                                                : QString::fromStdString(docs[3]));
        // sizeBytes counts what reads return.
        qint64 bytes = 0;
        for (const QString &doc : back)
            bytes += doc.toUtf8().size();
        QCOMPARE(*m_data->datasetBytes(m_dataset), bytes);
        // The records API's pages read the same documents.
        auto page = m_data->recordPage(m_dataset, 0, 10);
        QVERIFY(page.ok());
        QCOMPARE(QString::fromStdString(page->docs.at(0)), back.at(0));
        QCOMPARE(QString::fromStdString(page->docs.at(2)), back.at(2));
    }

    // What jsonb normalizes, and SQLite keeps as written: key order (shorter first, then bytes),
    // duplicate keys (the last stays), whitespace.
    void jsonbReordersKeysAndDropsDuplicates()
    {
        const std::string doc = "{\"zeta\": 1, \"a\":2,\"mid\":3,\"a\":4}";
        QVERIFY(commit(claimJob(), {doc}).ok());
        QCOMPARE(exportAll(),
                 QStringList({Test::onPostgres() ? QStringLiteral("{\"a\":4,\"mid\":3,\"zeta\":1}")
                                                 : QString::fromStdString(doc)}));
    }

    void documentsAreJsonbOnPostgres()
    {
        if (!Test::onPostgres())
            QSKIP("PostgreSQL only: SQLite stores the text");
        QVERIFY(commit(claimJob(), {"{\"country\":\"FR\",\"n\":1}"}).ok());
        QString error;
        const auto rows = Test::readRows(m_temp->location(),
                                         QStringLiteral("SELECT pg_typeof(doc)::text, "
                                                        "doc->>'country', (doc->'n')::int + 1 "
                                                        "FROM records"),
                                         &error);
        QVERIFY2(error.isEmpty(), qPrintable(error));
        QCOMPARE(rows.size(), 1);
        QCOMPARE(rows.first().value(0).toString(), QStringLiteral("jsonb"));
        QCOMPARE(rows.first().value(1).toString(), QStringLiteral("FR"));
        QCOMPARE(rows.first().value(2).toInt(), 2);
    }

    // A document jsonb cannot hold fails its batch for good (InvalidArgument: sending it again
    // fails again), naming why; nothing of the batch is written. SQLite stores it.
    void whatJsonbRefusesFailsTheBatchForGood_data()
    {
        QTest::addColumn<QString>("doc");
        QTest::newRow("U+0000") << QStringLiteral("{\"s\":\"a\\u0000b\"}");
        QTest::newRow("a number past numeric") << QStringLiteral("{\"n\":1e200000}");
    }
    void whatJsonbRefusesFailsTheBatchForGood()
    {
        QFETCH(QString, doc);
        for (const bool keyed : {false, true}) {
            const std::string key = keyed ? "k" : "";
            auto written = m_data->commitBatch(
                makeBatch(claimJob(), {{key, "{\"ok\":1}"}, {key + "2", doc.toStdString()}}));
            if (!Test::onPostgres()) {
                QVERIFY(written.ok());
                continue;
            }
            QVERIFY(!written.ok());
            QCOMPARE(written.error().code, ErrorCode::InvalidArgument);
            QVERIFY2(written.error().hint.contains(u"jsonb"), qPrintable(written.error().hint));
            QVERIFY(exportAll().isEmpty());
        }
    }

    // A batch's COPY is streamed in chunks (PgCopyIn::ChunkBytes) as its rows are encoded. A
    // document refused after several chunks went out still fails the whole batch, and nothing
    // of it is kept; the batch without it lands whole, every row once and in order, across the
    // chunks' boundaries.
    void aStreamedBatchLandsWholeOrNotAtAll()
    {
        constexpr int Rows = 20'000;
        std::vector<std::string> docs;
        docs.reserve(Rows);
        for (int i = 0; i < Rows; ++i)
            docs.push_back("{\"n\":" + std::to_string(i) + ",\"text\":\"" + std::string(80, 'x') +
                           "\"}");
        qsizetype bytes = 0;
        for (const std::string &doc : docs)
            bytes += qsizetype(doc.size());
        QVERIFY(bytes > 5 * PgCopyIn::ChunkBytes); // several chunks before the bad row
        if (Test::onPostgres()) {
            std::vector<std::string> withBad = docs;
            withBad[15'000] = "{\"s\":\"a\\u0000b\"}";
            auto refused = commit(claimJob(), withBad);
            QVERIFY(!refused.ok());
            QCOMPARE(refused.error().code, ErrorCode::InvalidArgument);
            QVERIFY(exportAll().isEmpty());
        }
        QVERIFY(commit(claimJob(), docs).ok());
        const QStringList back = exportAll();
        QCOMPARE(back.size(), Rows);
        for (int i = 0; i < Rows; ++i) {
            const QJsonObject doc = QJsonDocument::fromJson(back[i].toUtf8()).object();
            QCOMPARE(doc.value(u"n").toInt(-1), i);
        }
    }

    // docs/deployment.md, "Querying imported datasets": its CSV imported with its mapping as
    // alice's "people", then each SQL block run; the last statement's rows are the block's
    // "-->" lines.
    void deploymentQueriesAnswerAsDocumented()
    {
        if (!Test::onPostgres())
            QSKIP("PostgreSQL only: the queries are PostgreSQL's");
        const auto blocks = sectionBlocks(QStringLiteral(FERRY_SOURCE_DIR "/docs/deployment.md"),
                                          QStringLiteral("Querying imported datasets"));
        QByteArray csv;
        QJsonObject mapping;
        QStringList queries;
        for (const auto &[language, text] : blocks) {
            if (language == u"csv")
                csv = text.toUtf8();
            else if (language == u"json")
                mapping = QJsonDocument::fromJson(text.toUtf8()).object();
            else if (language == u"sql")
                queries.append(text);
        }
        QVERIFY(!csv.isEmpty() && !mapping.isEmpty());
        QCOMPARE(queries.size(), 2);
        importCsv(csv, mapping);

        for (const QString &block : std::as_const(queries)) {
            QStringList expected;
            QString sql;
            for (const QString &line : block.split(u'\n')) {
                if (line.startsWith(u"--> "))
                    expected.append(line.mid(4));
                else
                    sql += line + u'\n';
            }
            QStringList statements = sql.split(u';', Qt::SkipEmptyParts);
            while (!statements.isEmpty() && statements.last().trimmed().isEmpty())
                statements.removeLast();
            QString error;
            for (qsizetype i = 0; i + 1 < statements.size(); ++i) {
                Test::writeRows(m_temp->location(), statements.at(i), &error);
                QVERIFY2(error.isEmpty(), qPrintable(statements.at(i) + u' ' + error));
            }
            QStringList got;
            for (const QVariantList &row :
                 Test::readRows(m_temp->location(), statements.last(), &error)) {
                QStringList cells;
                for (const QVariant &cell : row)
                    cells.append(cell.toString());
                got.append(cells.join(QStringLiteral(" | ")));
            }
            QVERIFY2(error.isEmpty(), qPrintable(error));
            QCOMPARE(got, expected);
        }
    }

private:
    void importCsv(const QByteArray &csv, const QJsonObject &mapping)
    {
        Store &store = *m_temp->store;
        FileBlobStore blobs(m_temp->dir.path() + QStringLiteral("/blobs"), 0);
        SystemClock clock;
        HandlerRegistry handlers;
        registerBuiltinHandlers(handlers);
        handlers.add(QStringLiteral("migrate"),
                     std::make_shared<MigrateHandler>(store.datasets(), blobs, clock));
        QueueConfig config;
        config.pollIntervalMs = 20;
        JobQueue queue(store, handlers, clock, config);
        Dispatcher dispatcher(queue, handlers, clock, QStringLiteral("test"));
        QVERIFY(dispatcher.start().ok());
        MigrationRequest request;
        request.userId = m_user;
        request.dataset = QStringLiteral("people");
        request.fileName = QStringLiteral("people.csv");
        request.mapping = mapping;
        QBuffer buffer;
        buffer.setData(csv);
        buffer.open(QIODevice::ReadOnly);
        auto submitted = submitMigration(queue, blobs, clock, request, buffer, csv.size());
        QVERIFY2(submitted.ok(), submitted ? "" : qPrintable(submitted.error().toString()));
        Job job;
        QVERIFY(Test::waitFor([&] {
            job = **store.job(submitted->jobId, std::nullopt);
            return isTerminal(job.status);
        }));
        dispatcher.stop();
        QCOMPARE(job.status, JobStatus::Completed);
        QCOMPARE(job.result.value(u"rowsImported").toInt(), csv.count('\n') - 1);
    }

    ClaimedJob claimJob()
    {
        NewJob job;
        job.userId = m_user;
        job.type = QStringLiteral("migrate");
        job.payload = QJsonObject{{QStringLiteral("dataset"), QStringLiteral("people")}};
        job.maxAttempts = 3;
        job.timeoutMs = 60'000;
        Store &store = *m_temp->store;
        if (!store.enqueue({job}, Now))
            qFatal("enqueue failed");
        auto claimed = store.settleAndClaim(
            {}, ClaimRequest{QStringLiteral("node-a"), 1, Now + 10, 30'000, 0});
        if (!claimed || claimed->size() != 1)
            qFatal("claim failed");
        return claimed->first();
    }

    ImportBatch makeBatch(const ClaimedJob &job, std::vector<RecordWrite> records) const
    {
        ImportBatch batch;
        batch.jobId = job.id;
        batch.leaseToken = job.leaseToken;
        batch.records = std::move(records);
        batch.checkpoint.datasetId = m_dataset;
        batch.checkpoint.state = QByteArrayLiteral("{}");
        return batch;
    }

    Result<void> commit(const ClaimedJob &job, const std::vector<std::string> &docs)
    {
        std::vector<RecordWrite> records;
        for (const std::string &doc : docs)
            records.push_back({{}, doc});
        return m_data->commitBatch(makeBatch(job, std::move(records)));
    }

    QStringList exportAll()
    {
        QStringList docs;
        auto read = m_data->forEachRecord(m_dataset, [&](std::string_view d) {
            docs.append(QString::fromUtf8(d.data(), qsizetype(d.size())));
            return true;
        });
        if (!read)
            qFatal("forEachRecord: %s", qPrintable(read.error().message));
        return docs;
    }

    std::unique_ptr<Test::TempStore> m_temp;
    DatasetStore *m_data = nullptr;
    qint64 m_user = 0;
    qint64 m_dataset = 0;
};

QTEST_GUILESS_MAIN(tst_RecordsJsonb)
#include "tst_recordsjsonb.moc"
