#include "datasets/datasetexport.h"
#include "gzip.h"
#include "migrate/migratehandler.h"
#include "migrate/migrationrequest.h"
#include "queue/builtinhandlers.h"
#include "queue/dispatcher.h"
#include "storage/fileblobstore.h"
#include "testsupport.h"

#include <QBuffer>
#include <QDir>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSet>
#include <QTest>

using namespace Ferry;
using namespace Ferry::Test;

namespace {

QByteArray csvRows(int from, int to)
{
    QByteArray csv;
    for (int i = from; i <= to; ++i)
        csv += QByteArray::number(i) + ",name " + QByteArray::number(i) + "," +
               QByteArray::number(i % 2) + "\n";
    return csv;
}

const char *s_mapping = "{\"fields\": [\n"
                        "    {\"name\": \"id\", \"type\": \"integer\", \"required\": true},\n"
                        "    {\"name\": \"name\"},\n"
                        "    {\"name\": \"active\", \"type\": \"boolean\"}], \"key\": \"id\"}";

// The engine as app/ wires it, with small batches so files span many transactions.
struct Engine
{
    explicit Engine(MigrateConfig migrate = smallBatches())
        : blobs(t.dir.path() + QStringLiteral("/blobs"), 0)
    {
        registerBuiltinHandlers(handlers);
        handlers.add(QStringLiteral("migrate"),
                     std::make_shared<MigrateHandler>(t.store->datasets(), blobs, clock, migrate));
        QueueConfig config;
        config.pollIntervalMs = 20;
        config.backoffBaseMs = 10;
        config.maxConcurrency = 2;
        queue = std::make_unique<JobQueue>(*t.store, handlers, clock, config);
        dispatcher = std::make_unique<Dispatcher>(*queue, handlers, clock, QStringLiteral("test"));
        user = t.addUser(QStringLiteral("alice"));
    }
    static MigrateConfig smallBatches()
    {
        MigrateConfig c;
        c.batchRows = 10;
        return c;
    }
    Result<SubmittedMigration> submit(const QByteArray &content,
                                      const QString &dataset,
                                      const char *mapping = nullptr,
                                      const QString &format = {},
                                      const QString &fileName = QStringLiteral("data.csv"),
                                      const QString &key = {})
    {
        MigrationRequest request;
        request.userId = user;
        request.key = key;
        request.dataset = dataset;
        request.format = format;
        request.fileName = fileName;
        if (mapping)
            request.mapping = QJsonDocument::fromJson(mapping).object();
        QBuffer buffer;
        buffer.setData(content);
        buffer.open(QIODevice::ReadOnly);
        return submitMigration(*queue, blobs, clock, request, buffer, content.size());
    }
    Job job(qint64 id) { return **t.store->job(id, std::nullopt); }
    // Imports and waits: the job as it ended.
    Job import(const QByteArray &csv,
               const char *mapping = nullptr,
               const QString &key = {},
               const QString &dataset = QStringLiteral("people"))
    {
        auto submitted = submit(csv, dataset, mapping, {}, QStringLiteral("data.csv"), key);
        if (!submitted || !finished(submitted->jobId))
            return Job{};
        return job(submitted->jobId);
    }
    DatasetInfo dataset(const QString &name)
    {
        auto info = t.store->datasets().dataset(user, name);
        return info && info->has_value() ? **info : DatasetInfo{};
    }
    // From now on, every checkpoint write (one per batch) is logged, in order, by a trigger on
    // the real table: what the store was asked to commit, batch by batch.
    void logBatches()
    {
        const QStringList sql =
            onPostgres()
                ? QStringList{QStringLiteral("CREATE TABLE batch_log (seq BIGSERIAL PRIMARY KEY, "
                                             "rows_read BIGINT)"),
                              QStringLiteral(
                                  "CREATE FUNCTION batch_log_row() RETURNS trigger LANGUAGE "
                                  "plpgsql AS $$BEGIN INSERT INTO batch_log (rows_read) VALUES "
                                  "(NEW.rows_read); RETURN NEW; END$$"),
                              QStringLiteral("CREATE TRIGGER batch_log AFTER INSERT OR UPDATE ON "
                                             "migration_checkpoints FOR EACH ROW EXECUTE "
                                             "FUNCTION batch_log_row()")}
                : QStringList{QStringLiteral("CREATE TABLE batch_log (seq INTEGER PRIMARY KEY "
                                             "AUTOINCREMENT, rows_read INTEGER)"),
                              QStringLiteral("CREATE TRIGGER batch_log_insert AFTER INSERT ON "
                                             "migration_checkpoints BEGIN INSERT INTO batch_log "
                                             "(rows_read) VALUES (new.rows_read); END"),
                              QStringLiteral("CREATE TRIGGER batch_log_update AFTER UPDATE ON "
                                             "migration_checkpoints BEGIN INSERT INTO batch_log "
                                             "(rows_read) VALUES (new.rows_read); END")};
        for (const QString &statement : sql) {
            QString error;
            writeRows(t.location(), statement, &error);
            if (!error.isEmpty())
                qFatal("logBatches: %s", qPrintable(error));
        }
    }
    // The rows each logged batch added.
    QList<qint64> loggedBatchRows()
    {
        QString error;
        const auto rows = readRows(
            t.location(), QStringLiteral("SELECT rows_read FROM batch_log ORDER BY seq"), &error);
        if (!error.isEmpty())
            qFatal("loggedBatchRows: %s", qPrintable(error));
        QList<qint64> batches;
        qint64 before = 0;
        for (const QVariantList &row : rows) {
            const qint64 read = row.value(0).toLongLong();
            if (read > before)
                batches.append(read - before);
            before = read;
        }
        return batches;
    }
    qint64 checkpointRows(qint64 id)
    {
        auto saved = t.store->datasets().checkpoint(id);
        return saved.ok() && saved->has_value() ? (*saved)->rowsRead : 0;
    }
    bool finished(qint64 id, int timeoutMs = 30'000)
    {
        return waitFor([&] { return isTerminal(job(id).status); }, timeoutMs);
    }
    QList<QJsonObject> records(const QString &dataset)
    {
        QList<QJsonObject> result;
        auto info = t.store->datasets().dataset(user, dataset);
        if (!info || !info->has_value())
            return result;
        QByteArray out;
        (void)exportDataset(t.store->datasets(), **info, ExportFormat::Ndjson,
                            [&](QByteArrayView bytes) {
                                out.append(bytes);
                                return true;
                            });
        for (const QByteArray &line : out.split('\n')) {
            if (!line.isEmpty())
                result.append(QJsonDocument::fromJson(line).object());
        }
        return result;
    }

    TempStore t;
    SystemClock clock;
    FileBlobStore blobs;
    HandlerRegistry handlers;
    std::unique_ptr<JobQueue> queue;
    std::unique_ptr<Dispatcher> dispatcher;
    qint64 user = 0;
};

} // namespace

class tst_MigrateHandler : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void csvWithMappingImportsAndReportsRejectedRows()
    {
        Engine e;
        QVERIFY(e.dispatcher->start().ok());
        const QByteArray csv = "id,name,active\n" + csvRows(1, 30) + "x,bad id,1\n" +
                               csvRows(31, 40) + "41,\"ragged\"\n" + "42,\"multi\nline\",yes\n";
        auto submitted = e.submit(csv, QStringLiteral("people"), s_mapping);
        QVERIFY2(submitted.ok(), qPrintable(submitted.error().toString()));
        QCOMPARE(submitted->format, QStringLiteral("csv"));
        QVERIFY(e.finished(submitted->jobId));
        const Job job = e.job(submitted->jobId);
        QCOMPARE(job.status, JobStatus::Completed);
        QCOMPARE(job.result.value(u"rowsRead").toInt(), 43);
        QCOMPARE(job.result.value(u"rowsImported").toInt(), 41);
        QCOMPARE(job.result.value(u"rowsRejected").toInt(), 2);
        QCOMPARE(job.sessionId, submitted->sessionId);
        const auto errors = *e.t.store->datasets().rowErrors(submitted->jobId, 10);
        QCOMPARE(errors.size(), 2);
        QCOMPARE(errors.at(0).line, 32);
        QCOMPARE(errors.at(0).field, QStringLiteral("id"));
        QVERIFY(errors.at(0).reason.contains(u"'x' is not an integer"));
        QCOMPARE(errors.at(1).line, 43);
        QVERIFY(errors.at(1).reason.contains(u"expected 3 fields, found 2"));
        const auto records = e.records(QStringLiteral("people"));
        QCOMPARE(records.size(), 41);
        QCOMPARE(records.first(), (QJsonObject{{QStringLiteral("id"), 1},
                                               {QStringLiteral("name"), QStringLiteral("name 1")},
                                               {QStringLiteral("active"), true}}));
        QCOMPARE(records.last().value(u"name").toString(), QStringLiteral("multi\nline"));
        auto session = e.t.store->session(submitted->sessionId, e.user);
        QVERIFY(session.ok() && session->has_value());
        QCOMPARE((*session)->sizeBytes, csv.size());
        QVERIFY(!e.t.store->session(submitted->sessionId, e.user + 1)
                     ->has_value()); // not another user's
    }

    void prunedJobsTakeTheirSessionsAndFilesWithThem()
    {
        Engine e;
        QVERIFY(e.dispatcher->start().ok());
        const QByteArray csv = "id,name,active\n" + csvRows(1, 5);
        auto first = e.submit(csv, QStringLiteral("a"), s_mapping);
        auto second = e.submit(csv, QStringLiteral("b"), s_mapping); // the same file: one blob
        QCOMPARE(first->blob.id, second->blob.id);
        QVERIFY(e.finished(first->jobId) && e.finished(second->jobId));
        const qint64 later = e.clock.nowMs() + 1000;
        // Sessions of live jobs stay.
        QVERIFY(e.t.store->pruneSessions(later, 100)->isEmpty());
        QVERIFY(e.t.store->session(first->sessionId, std::nullopt)->has_value());
        QCOMPARE(*e.t.store->pruneFinished(later, 100), 2);
        const QStringList orphans = *e.t.store->pruneSessions(later, 100);
        QCOMPARE(orphans, QStringList{first->blob.id});
        QVERIFY(!e.t.store->session(first->sessionId, std::nullopt)->has_value());
        QVERIFY(!*e.t.store->blobReferenced(first->blob.id));
        // The datasets themselves stay.
        QCOMPARE(e.records(QStringLiteral("a")).size(), 5);
    }

    // Unless configured, a batch holds the store's number of rows (5,000 on SQLite, 10,000 on
    // PostgreSQL: DatasetStore::importBatchRows).
    void batchesDefaultToTheStoresSize()
    {
        Engine e{MigrateConfig{}};
        e.logBatches();
        QVERIFY(e.dispatcher->start().ok());
        const int size = e.t.store->datasets().importBatchRows();
        QCOMPARE(size, onPostgres() ? 10'000 : 5'000);
        const int rows = 2 * size + size / 2;
        const Job done = e.import("id,name,active\n" + csvRows(1, rows), s_mapping);
        QCOMPARE(done.status, JobStatus::Completed);
        QCOMPARE(e.loggedBatchRows(), (QList<qint64>{size, size, size / 2}));
    }

    // A batch also ends at MigrateConfig::batchBytes of documents and keys, however few rows
    // that is: wide rows cannot make a batch of batchRows records of up to 64 MiB each.
    void batchesEndAtTheirByteBound()
    {
        MigrateConfig config;
        config.batchRows = 100'000;
        config.batchBytes = 2'000;
        Engine e{config};
        e.logBatches();
        QVERIFY(e.dispatcher->start().ok());
        QByteArray csv = "id,name,active\n";
        constexpr int Rows = 400;
        for (int i = 1; i <= Rows; ++i)
            csv += QByteArray::number(i) + "," + QByteArray(60, 'n') + ",1\n";
        const Job done = e.import(csv, s_mapping);
        QCOMPARE(done.status, JobStatus::Completed);
        QCOMPARE(done.result.value(u"rowsImported").toInt(), Rows);
        // Each record's document and key take between 60 and 120 bytes, so every batch but the
        // last ends after 17 to 34 rows (one row past the bound at most).
        const QList<qint64> batches = e.loggedBatchRows();
        QVERIFY2(batches.size() >= Rows / 34, qPrintable(QString::number(batches.size())));
        qint64 total = 0;
        for (qsizetype i = 0; i < batches.size(); ++i) {
            total += batches[i];
            QVERIFY2(batches[i] <= 34, qPrintable(QString::number(batches[i])));
            if (i + 1 < batches.size())
                QVERIFY2(batches[i] >= 17, qPrintable(QString::number(batches[i])));
        }
        QCOMPARE(total, Rows);
    }

    void upsertIsIdempotent()
    {
        Engine e;
        QVERIFY(e.dispatcher->start().ok());
        const QByteArray csv = "id,name,active\n" + csvRows(1, 55);
        for (int run = 0; run < 2; ++run) {
            auto submitted = e.submit(csv, QStringLiteral("people"), s_mapping);
            QVERIFY(submitted.ok());
            QVERIFY(e.finished(submitted->jobId));
            QCOMPARE(e.job(submitted->jobId).status, JobStatus::Completed);
            QCOMPARE(e.records(QStringLiteral("people")).size(), 55);
        }
        // A changed row replaces its record.
        auto changed =
            e.submit("id,name,active\n7,Seven,no\n", QStringLiteral("people"), s_mapping);
        QVERIFY(e.finished(changed->jobId));
        const auto records = e.records(QStringLiteral("people"));
        QCOMPARE(records.size(), 55);
        const auto seven = std::find_if(records.begin(), records.end(), [](const QJsonObject &r) {
            return r.value(u"id").toInt() == 7;
        });
        QCOMPARE(seven->value(u"name").toString(), QStringLiteral("Seven"));
    }

    // Issue 15: one key per dataset, whichever way a file is imported into it.
    void oneKeyPerDatasetWhicheverWayItIsImported()
    {
        Engine e;
        QVERIFY(e.dispatcher->start().ok());
        const QByteArray csv = "id,name,active\n" + csvRows(1, 25);
        // Without a key: 25 records whose ids are strings.
        QCOMPARE(e.import(csv).status, JobStatus::Completed);
        QCOMPARE(e.records(QStringLiteral("people")).size(), 25);
        QVERIFY(e.dataset(QStringLiteral("people")).key.isEmpty());
        // The same file keyed by id: the records already there take their key; still 25.
        QCOMPARE(e.import(csv, nullptr, QStringLiteral("id")).status, JobStatus::Completed);
        QCOMPARE(e.records(QStringLiteral("people")).size(), 25);
        QCOMPARE(e.dataset(QStringLiteral("people")).key, QStringLiteral("id"));
        // Keyed through an integer mapping: the string "7" and the integer 7 are one key.
        QCOMPARE(e.import(csv, s_mapping).status, JobStatus::Completed);
        auto records = e.records(QStringLiteral("people"));
        QCOMPARE(records.size(), 25);
        QSet<qint64> ids;
        for (const QJsonObject &r : std::as_const(records)) {
            QVERIFY2(r.value(u"id").isDouble(), "every record was replaced by the typed one");
            ids.insert(r.value(u"id").toInteger());
        }
        QCOMPARE(ids.size(), 25);
        // Without a key again: the dataset's is used.
        QCOMPARE(e.import(csv).status, JobStatus::Completed);
        QCOMPARE(e.records(QStringLiteral("people")).size(), 25);
        // Another key: refused before anything is written.
        const Job other = e.import("id,name,active\n99,x,1\n", nullptr, QStringLiteral("name"));
        QCOMPARE(other.status, JobStatus::Failed);
        QVERIFY2(other.error.contains(u"keyed by \"id\""), qPrintable(other.error));
        QCOMPARE(e.records(QStringLiteral("people")).size(), 25);

        // A second mapping's fields join the dataset's columns and its CSV export.
        const char *scores = "{\"fields\": [{\"name\": \"id\", \"type\": \"integer\"}, "
                             "{\"name\": \"score\", \"type\": \"number\"}], \"key\": \"id\"}";
        QCOMPARE(e.import("id,score\n1,0.5\n26,1.5\n", scores).status, JobStatus::Completed);
        const DatasetInfo info = e.dataset(QStringLiteral("people"));
        QCOMPARE(info.columns, QJsonArray({QStringLiteral("id"), QStringLiteral("name"),
                                           QStringLiteral("active"), QStringLiteral("score")}));
        QByteArray csvOut;
        QVERIFY(
            exportDataset(e.t.store->datasets(), info, ExportFormat::Csv, [&](QByteArrayView b) {
                csvOut.append(b);
                return true;
            }).ok());
        QVERIFY2(csvOut.startsWith("id,name,active,score\r\n"), csvOut.left(80).constData());
        QCOMPARE(csvOut.count('\n'), 1 + 26);
    }

    void keyingRefusesRecordsWithoutOneValueEach_data()
    {
        QTest::addColumn<QByteArray>("csv");
        QTest::addColumn<QString>("reason");
        QTest::newRow("shared value") << QByteArray("id,name\n1,a\n1,b\n2,c\n")
                                      << QStringLiteral("several of its records have the value 1");
        QTest::newRow("no value") << QByteArray("id,name\n1,a\n,b\n")
                                  << QStringLiteral("1 of its records have no value");
    }

    void keyingRefusesRecordsWithoutOneValueEach()
    {
        QFETCH(QByteArray, csv);
        QFETCH(QString, reason);
        Engine e;
        QVERIFY(e.dispatcher->start().ok());
        QCOMPARE(e.import(csv).status, JobStatus::Completed);
        const qint64 before = e.records(QStringLiteral("people")).size();
        const Job keyed = e.import("id,name\n3,d\n", nullptr, QStringLiteral("id"));
        QCOMPARE(keyed.status, JobStatus::Failed);
        QVERIFY2(keyed.error.contains(reason), qPrintable(keyed.error));
        QCOMPARE(e.records(QStringLiteral("people")).size(), before);
        QVERIFY(e.dataset(QStringLiteral("people")).key.isEmpty());
    }

    void tooManyRejectedRowsFailsAndUndoes()
    {
        MigrateConfig config = Engine::smallBatches();
        config.maxRejectedRows = 2;
        Engine e(config);
        QVERIFY(e.dispatcher->start().ok());
        auto first =
            e.submit("id,name,active\n" + csvRows(1, 20), QStringLiteral("people"), s_mapping);
        QVERIFY(e.finished(first->jobId));
        // Overwrites rows 1-20 and adds 21-60 over several batches, then fails.
        const QByteArray second = "id,name,active\n" + csvRows(1, 60).replace("name", "renamed") +
                                  "a,x,1\nb,x,1\nc,x,1\n";
        auto failing = e.submit(second, QStringLiteral("people"), s_mapping);
        QVERIFY(e.finished(failing->jobId));
        const Job job = e.job(failing->jobId);
        QCOMPARE(job.status, JobStatus::Failed);
        QCOMPARE(job.attempts, 1); // permanent: not retried
        QVERIFY2(job.error.contains(u"3 rows were rejected, more than the limit of 2"),
                 qPrintable(job.error));
        const auto records = e.records(QStringLiteral("people"));
        QCOMPARE(records.size(), 20); // its inserts gone
        for (const QJsonObject &r : records)
            QVERIFY2(r.value(u"name").toString().startsWith(u"name "),
                     "an overwrite was not restored");
    }

    void fileLevelErrorFailsAtOnceAndLeavesNothing()
    {
        Engine e;
        QVERIFY(e.dispatcher->start().ok());
        const QByteArray csv =
            "id,name,active\n" + csvRows(1, 35) + "36,\"never closed,1\n37,x,1\n";
        auto submitted = e.submit(csv, QStringLiteral("broken"), s_mapping);
        QVERIFY(e.finished(submitted->jobId));
        const Job job = e.job(submitted->jobId);
        QCOMPARE(job.status, JobStatus::Failed);
        QCOMPARE(job.attempts, 1);
        QVERIFY2(job.error.contains(u"37"), qPrintable(job.error)); // names where the quote opened
        QVERIFY(e.records(QStringLiteral("broken")).isEmpty());
    }

    void declaredFormatThatDoesNotMatchFails()
    {
        Engine e;
        QVERIFY(e.dispatcher->start().ok());
        auto submitted =
            e.submit("id,name\n1,a\n", QStringLiteral("d"), nullptr, QStringLiteral("json"));
        QVERIFY(submitted.ok());
        QVERIFY(e.finished(submitted->jobId));
        QCOMPARE(e.job(submitted->jobId).status, JobStatus::Failed);
        QVERIFY(!e.job(submitted->jobId).error.isEmpty());
        QVERIFY(e.records(QStringLiteral("d")).isEmpty());
    }

    void mappingNamingMissingColumnsFails()
    {
        Engine e;
        QVERIFY(e.dispatcher->start().ok());
        auto submitted = e.submit("ident,name\n1,a\n", QStringLiteral("d"), s_mapping);
        QVERIFY(e.finished(submitted->jobId));
        const Job job = e.job(submitted->jobId);
        QCOMPARE(job.status, JobStatus::Failed);
        QVERIFY2(job.error.contains(u"\"id\""), qPrintable(job.error));
        QVERIFY2(job.error.contains(u"ident, name"), qPrintable(job.error));
    }

    void badRequestsAreRefusedAndLeaveNothing_data()
    {
        QTest::addColumn<QString>("dataset");
        QTest::addColumn<QByteArray>("content");
        QTest::addColumn<QString>("format");
        QTest::addColumn<QString>("mentions");
        QTest::newRow("path") << "../etc" << QByteArray("a\n1\n") << ""
                              << "not a valid dataset name";
        QTest::newRow("quote") << "a'b" << QByteArray("a\n1\n") << ""
                               << "not a valid dataset name";
        QTest::newRow("sql") << "x;DROP TABLE jobs" << QByteArray("a\n1\n") << ""
                             << "not a valid dataset name";
        QTest::newRow("control") << "a\x01"
                                    "b"
                                 << QByteArray("a\n1\n") << ""
                                 << "not a valid dataset name";
        QTest::newRow("too long") << QString(65, u'a') << QByteArray("a\n1\n") << ""
                                  << "1 to 64";
        QTest::newRow("empty upload") << "ok" << QByteArray() << ""
                                      << "The upload is empty";
        QTest::newRow("binary") << "ok" << QByteArray("\x00\x01\x02\xff\xfe", 5) << ""
                                << "Cannot tell the format";
        QTest::newRow("unknown format") << "ok" << QByteArray("a\n1\n") << "xml"
                                        << "Unknown format 'xml'";
    }
    void badRequestsAreRefusedAndLeaveNothing()
    {
        QFETCH(QString, dataset);
        QFETCH(QByteArray, content);
        QFETCH(QString, format);
        QFETCH(QString, mentions);
        Engine e;
        auto submitted = e.submit(content, dataset, nullptr, format, QStringLiteral("upload"));
        QVERIFY(!submitted.ok());
        QCOMPARE(submitted.error().code, ErrorCode::InvalidArgument);
        QVERIFY2(submitted.error().toString().contains(mentions),
                 qPrintable(submitted.error().toString()));
        QVERIFY(e.t.store->countByStatus()->isEmpty());
        QDir blobs(e.blobs.root());
        const QStringList left = blobs.entryList(QDir::Dirs | QDir::NoDotAndDotDot);
        for (const QString &sub : left)
            QVERIFY2(QDir(blobs.filePath(sub)).isEmpty(),
                     qPrintable(sub + QStringLiteral(" is not empty")));
    }

    void documentsAndExports()
    {
        Engine e;
        QVERIFY(e.dispatcher->start().ok());
        auto ndjson = e.submit("{\"a\": 1, \"b\": [1,2]}\n\n{\"a\": 2, \"b\": \"x,y\"}\nnot json\n",
                               QStringLiteral("docs"), nullptr, {}, QStringLiteral("d.ndjson"));
        QVERIFY(ndjson.ok());
        QCOMPARE(ndjson->format, QStringLiteral("ndjson"));
        QVERIFY(e.finished(ndjson->jobId));
        QCOMPARE(e.job(ndjson->jobId).result.value(u"rowsRejected").toInt(), 1);
        auto array = e.submit("[{\"a\": 3}, {\"a\": 4, \"c\": null}]", QStringLiteral("docs"),
                              nullptr, {}, QStringLiteral("d.json"));
        QVERIFY(e.finished(array->jobId));
        QCOMPARE(e.job(array->jobId).status, JobStatus::Completed);
        QCOMPARE(e.records(QStringLiteral("docs")).size(), 4);

        auto info = e.t.store->datasets().dataset(e.user, QStringLiteral("docs"));
        QByteArray csv;
        QVERIFY(
            exportDataset(e.t.store->datasets(), **info, ExportFormat::Csv, [&](QByteArrayView b) {
                csv.append(b);
                return true;
            }).ok());
        QCOMPARE(csv, QByteArray("a,b,c\r\n1,\"[1,2]\",\r\n2,\"x,y\",\r\n3,,\r\n4,,\r\n"));
    }

    void gzipUploadsAndBombs()
    {
        MigrateConfig config = Engine::smallBatches();
        config.maxDecompressedBytes = 1 << 20;
        Engine e(config);
        QVERIFY(e.dispatcher->start().ok());
        auto zipped = e.submit(gzip("id,name,active\n" + csvRows(1, 25)), QStringLiteral("z"),
                               s_mapping, {}, QStringLiteral("people.csv.gz"));
        QVERIFY2(zipped.ok(), qPrintable(zipped.error().toString()));
        QCOMPARE(zipped->format, QStringLiteral("csv"));
        QVERIFY(e.finished(zipped->jobId));
        QCOMPARE(e.records(QStringLiteral("z")).size(), 25);

        const QByteArray bomb = gzip("id,name,active\n" + QByteArray(8 << 20, 'a'));
        QVERIFY(bomb.size() < 100'000);
        auto exploded = e.submit(bomb, QStringLiteral("bomb"), nullptr, QStringLiteral("csv"));
        QVERIFY(exploded.ok());
        QVERIFY(e.finished(exploded->jobId));
        const Job job = e.job(exploded->jobId);
        QCOMPARE(job.status, JobStatus::Failed);
        QVERIFY2(job.error.contains(u"gzip bomb"), qPrintable(job.error));
    }

    void cancelMidFileUndoes()
    {
        Engine e;
        QVERIFY(e.dispatcher->start().ok());
        const QByteArray csv = "id,name,active\n" + csvRows(1, 200'000);
        auto submitted = e.submit(csv, QStringLiteral("big"), s_mapping);
        QVERIFY(waitFor([&] { return e.checkpointRows(submitted->jobId) > 0; }));
        QCOMPARE(*e.queue->cancel(submitted->jobId), JobStatus::Running);
        QVERIFY(e.finished(submitted->jobId));
        QCOMPARE(e.job(submitted->jobId).status, JobStatus::Cancelled);
        QVERIFY(e.records(QStringLiteral("big")).isEmpty());
    }

    // A stop mid-file (as at shutdown or a crash) resumes from the checkpoint: every row once.
    void resumesFromItsCheckpoint()
    {
        Engine e;
        QVERIFY(e.dispatcher->start().ok());
        constexpr int Rows = 300'000;
        const QByteArray csv = "id,name,active\n" + csvRows(1, Rows);
        auto submitted = e.submit(csv, QStringLiteral("big"), nullptr);
        QVERIFY(waitFor([&] { return e.checkpointRows(submitted->jobId) > 1000; }, 60'000));
        e.dispatcher->stop(); // the job is released with its checkpoint
        const Job stopped = e.job(submitted->jobId);
        if (stopped.status == JobStatus::Completed)
            QSKIP("the machine finished the file before the stop; nothing to resume");
        QCOMPARE(stopped.status, JobStatus::Pending);
        auto saved = e.t.store->datasets().checkpoint(submitted->jobId);
        QVERIFY(saved.ok() && saved->has_value());
        QVERIFY((*saved)->rowsRead > 0 && (*saved)->rowsRead < Rows);

        e.dispatcher =
            std::make_unique<Dispatcher>(*e.queue, e.handlers, e.clock, QStringLiteral("again"));
        QVERIFY(e.dispatcher->start().ok());
        // Generous: 300,000 rows on PostgreSQL on a loaded two-core CI machine; a bound, not a
        // target.
        QVERIFY(e.finished(submitted->jobId, 200'000));
        QCOMPARE(e.job(submitted->jobId).status, JobStatus::Completed);
        QCOMPARE(e.job(submitted->jobId).result.value(u"rowsImported").toInt(), Rows);
        const auto records = e.records(QStringLiteral("big"));
        QCOMPARE(records.size(), Rows);
        QSet<QString> ids;
        for (const QJsonObject &r : records)
            ids.insert(r.value(u"id").toString());
        QCOMPARE(ids.size(), Rows);
    }
};

QTEST_GUILESS_MAIN(tst_MigrateHandler)
#include "tst_migratehandler.moc"
