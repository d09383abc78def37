// The DatasetStore contract, run on both backends (tst_storedatasets on SQLite,
// tst_storedatasets_pg on the "ferry_pg" fixture's server), each test case on a store of its own:
// datasets, checkpoints, the fenced batch write (SQLite's native statements, PostgreSQL's COPY),
// keyed upserts and undo, keying a dataset, record paging, deletes, and a MigrateHandler import
// end to end.

#include "datasets/datasetexport.h"
#include "migrate/migratehandler.h"
#include "migrate/migrationrequest.h"
#include "queue/builtinhandlers.h"
#include "queue/dispatcher.h"
#include "storage/fileblobstore.h"
#include "store/databaseconfig.h"
#include "testbackend.h"
#include "testsupport.h"

#include <QBuffer>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSqlDatabase>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QTest>
#include <QThread>

#include <atomic>

using namespace Ferry;

namespace {

constexpr qint64 Now = 1'700'000'000'000;
constexpr qint64 LeaseMs = 30'000;

std::string doc(int n, const char *tag = "v")
{
    return QStringLiteral("{\"n\":%1,\"tag\":\"%2\"}").arg(n).arg(QLatin1String(tag)).toStdString();
}

QStringList strings(const std::vector<std::string> &docs)
{
    QStringList result;
    for (const std::string &d : docs)
        result.append(QString::fromStdString(d));
    return result;
}

} // namespace

class TestStoreDatasets : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init()
    {
        m_temp = std::make_unique<Test::TempStore>();
        m_store = m_temp->store.get();
        m_data = &m_store->datasets();
        m_user = addUser(QStringLiteral("alice"));
    }

    void cleanup()
    {
        m_data = nullptr;
        m_store = nullptr;
        m_temp.reset();
    }

    void ensureDatasetCreatesOnceAndChecksTheName()
    {
        auto first = m_data->ensureDataset(m_user, QStringLiteral("people"), Now);
        QVERIFY2(first.ok(), first ? "" : qPrintable(first.error().message));
        auto again = m_data->ensureDataset(m_user, QStringLiteral("people"), Now + 5);
        QVERIFY(again.ok());
        QCOMPARE(*again, *first);
        const qint64 bob = addUser(QStringLiteral("bob"));
        auto bobs = m_data->ensureDataset(bob, QStringLiteral("people"), Now);
        QVERIFY(bobs.ok());
        QVERIFY(*bobs != *first);

        auto bad = m_data->ensureDataset(m_user, QStringLiteral("no spaces; DROP TABLE"), Now);
        QVERIFY(!bad.ok());
        QCOMPARE(bad.error().code, ErrorCode::InvalidArgument);
        QVERIFY(bad.error().message.contains(u"is not a valid dataset name"));
    }

    void datasetsListCountsAndColumns()
    {
        const qint64 zeta = *m_data->ensureDataset(m_user, QStringLiteral("zeta"), Now);
        const qint64 alpha = *m_data->ensureDataset(m_user, QStringLiteral("Alpha"), Now);
        const qint64 beta = *m_data->ensureDataset(m_user, QStringLiteral("beta"), Now);
        const qint64 bob = addUser(QStringLiteral("bob"));
        QVERIFY(m_data->ensureDataset(bob, QStringLiteral("hidden"), Now).ok());

        const auto job = claimJob();
        QVERIFY(commit(job, beta, {{"", doc(1)}, {"", doc(2)}, {"", doc(3)}}).ok());
        const QJsonArray columns{QStringLiteral("n"), QStringLiteral("tag")};
        QVERIFY(m_data->setColumns(beta, columns, {}, Now + 100).ok());

        auto list = m_data->datasets(m_user);
        QVERIFY2(list.ok(), list ? "" : qPrintable(list.error().message));
        QCOMPARE(list->size(), 3);
        // Byte order, as SQLite's BINARY collation: upper case first.
        QCOMPARE(list->at(0).name, QStringLiteral("Alpha"));
        QCOMPARE(list->at(0).id, alpha);
        QCOMPARE(list->at(1).name, QStringLiteral("beta"));
        QCOMPARE(list->at(1).records, 3);
        QCOMPARE(list->at(1).columns, columns);
        QCOMPARE(list->at(1).createdAt, Now);
        QCOMPARE(list->at(1).updatedAt, Now + 100);
        QCOMPARE(list->at(2).id, zeta);
        QCOMPARE(list->at(2).records, 0);

        auto one = m_data->dataset(m_user, QStringLiteral("beta"));
        QVERIFY(one.ok() && one->has_value());
        QCOMPARE((*one)->records, 3);
        QCOMPARE((*one)->columns, columns);
        QVERIFY(!m_data->dataset(m_user, QStringLiteral("hidden"))->has_value());
        QVERIFY(!m_data->dataset(m_user, QStringLiteral("missing"))->has_value());
        QCOMPARE(m_data->datasets(bob)->size(), 1);
    }

    void commitBatchWritesRecordsCheckpointAndErrorsTogether()
    {
        const qint64 dataset = *m_data->ensureDataset(m_user, QStringLiteral("people"), Now);
        const auto job = claimJob();
        QVERIFY(!m_data->checkpoint(job.id)->has_value());

        ImportBatch batch =
            makeBatch(job, dataset, {{"", doc(1)}, {"", doc(2, "with \\\" and é")}});
        batch.checkpoint.byteOffset = 120;
        batch.checkpoint.line = 5;
        batch.checkpoint.rowsRead = 4;
        batch.checkpoint.rowsImported = 2;
        batch.checkpoint.rowsRejected = 2;
        batch.checkpoint.state = QByteArrayLiteral("{\"header\":[\"n\",\"tag\"]}");
        batch.errors = {{3, QStringLiteral("n"), QStringLiteral("not an integer")},
                        {4, QString(), QStringLiteral("ragged row")}};
        batch.firstErrorSeq = 0;
        auto written = m_data->commitBatch(batch);
        QVERIFY2(written.ok(), written ? "" : qPrintable(written.error().message));

        auto saved = m_data->checkpoint(job.id);
        QVERIFY2(saved.ok() && saved->has_value(), "no checkpoint");
        QCOMPARE((*saved)->datasetId, dataset);
        QCOMPARE((*saved)->byteOffset, 120);
        QCOMPARE((*saved)->line, 5);
        QCOMPARE((*saved)->rowsRead, 4);
        QCOMPARE((*saved)->rowsImported, 2);
        QCOMPARE((*saved)->rowsRejected, 2);
        QCOMPARE((*saved)->state, batch.checkpoint.state);

        // The next batch moves the checkpoint on and appends its errors after the first ones.
        ImportBatch next = makeBatch(job, dataset, {{"", doc(3)}});
        next.checkpoint = batch.checkpoint;
        next.checkpoint.rowsRead = 6;
        next.checkpoint.rowsImported = 3;
        next.checkpoint.rowsRejected = 3;
        next.errors = {{6, QStringLiteral("tag"), QStringLiteral("too long")}};
        next.firstErrorSeq = 2;
        QVERIFY(m_data->commitBatch(next).ok());
        QCOMPARE((*m_data->checkpoint(job.id))->rowsRead, 6);

        auto errors = m_data->rowErrors(job.id, 10);
        QVERIFY2(errors.ok(), errors ? "" : qPrintable(errors.error().message));
        QCOMPARE(errors->size(), 3);
        QCOMPARE(errors->at(0).line, 3);
        QCOMPARE(errors->at(0).field, QStringLiteral("n"));
        QCOMPARE(errors->at(0).reason, QStringLiteral("not an integer"));
        QVERIFY(errors->at(1).field.isEmpty());
        QCOMPARE(errors->at(1).reason, QStringLiteral("ragged row"));
        QCOMPARE(errors->at(2).line, 6);
        QCOMPARE(m_data->rowErrors(job.id, 2)->size(), 2);
        QCOMPARE(m_data->rowErrors(job.id, -1)->size(), 3); // negative: all, as on SQLite
        QVERIFY(m_data->rowErrors(job.id + 1000, 10)->isEmpty());

        // Documents come back byte for byte (escapes, UTF-8), in insertion order.
        QCOMPARE(exportAll(dataset), QStringList({QString::fromStdString(doc(1)),
                                                  QString::fromStdString(doc(2, "with \\\" and é")),
                                                  QString::fromStdString(doc(3))}));
    }

    void commitBatchIsRefusedOnceTheLeaseMoved()
    {
        const qint64 dataset = *m_data->ensureDataset(m_user, QStringLiteral("people"), Now);
        const auto first = claimJob();
        ImportBatch batch = makeBatch(first, dataset, {{"", doc(1)}, {"", doc(2)}});
        batch.checkpoint.rowsRead = 2;
        QVERIFY(m_data->commitBatch(batch).ok());

        // The node stops renewing; another node rescues the job and claims it again.
        auto rescued = m_store->rescueLeases(RescueScope::ExpiredLeases, QStringLiteral("node-b"),
                                             Now + LeaseMs + 1000);
        QVERIFY2(rescued.ok(), rescued ? "" : qPrintable(rescued.error().message));
        QCOMPARE(rescued->size(), 1);
        auto claimed = m_store->settleAndClaim(
            {}, ClaimRequest{QStringLiteral("node-b"), 1, Now + LeaseMs + 2000, LeaseMs, 0});
        QVERIFY(claimed.ok());
        QCOMPARE(claimed->size(), 1);
        const ClaimedJob second = claimed->first();
        QCOMPARE(second.id, first.id);
        QVERIFY(second.leaseToken != first.leaseToken);

        // The old holder's batch: refused, and nothing of it is written.
        ImportBatch stale = makeBatch(first, dataset, {{"", doc(3)}, {"", doc(4)}});
        stale.checkpoint.rowsRead = 4;
        stale.errors = {{9, QStringLiteral("n"), QStringLiteral("stale")}};
        auto refused = m_data->commitBatch(stale);
        QVERIFY(!refused.ok());
        QCOMPARE(refused.error().code, ErrorCode::Conflict);
        QVERIFY(refused.error().message.contains(u"no longer holds its lease"));
        QCOMPARE((*m_data->checkpoint(first.id))->rowsRead, 2);
        QVERIFY(m_data->rowErrors(first.id, 10)->isEmpty());
        QCOMPARE(exportAll(dataset).size(), 2);

        // The new holder resumes from the checkpoint: rows 3 and 4 once, rows 1 and 2 not again.
        const qint64 resumeAt = (*m_data->checkpoint(second.id))->rowsRead;
        QCOMPARE(resumeAt, 2);
        ImportBatch resumed = makeBatch(second, dataset, {{"", doc(3)}, {"", doc(4)}});
        resumed.checkpoint.rowsRead = 4;
        QVERIFY(m_data->commitBatch(resumed).ok());
        QCOMPARE(exportAll(dataset),
                 QStringList({QString::fromStdString(doc(1)), QString::fromStdString(doc(2)),
                              QString::fromStdString(doc(3)), QString::fromStdString(doc(4))}));

        // A finished job holds no lease either.
        SettledAttempt done;
        done.jobId = second.id;
        done.userId = m_user;
        done.leaseToken = second.leaseToken;
        done.attempt = second.attempt;
        done.startedAt = second.startedAt;
        done.finishedAt = Now + LeaseMs + 3000;
        done.newStatus = JobStatus::Completed;
        done.outcome = QStringLiteral("completed");
        QVERIFY(m_store->settleAndClaim({done}, claimRequest(0)).ok());
        QCOMPARE(m_data->commitBatch(makeBatch(second, dataset, {{"", doc(5)}})).error().code,
                 ErrorCode::Conflict);
        QCOMPARE(exportAll(dataset).size(), 4);
    }

    void renewalAndProgressDoNotWaitBehindABatch_data()
    {
        QTest::addColumn<bool>("undo");
        QTest::newRow("import batch") << false;
        QTest::newRow("undo") << true;
    }

    // A batch (or its attempt's undo) holds the job's fence for as long as it runs. The
    // attempt's lease renewal and progress must not queue behind it (a slow batch would cost
    // every job on the node its lease), while a rescue from another node still passes it over.
    void renewalAndProgressDoNotWaitBehindABatch()
    {
        if (!Test::onPostgres())
            QSKIP("PostgreSQL only: row locks between sessions (SQLite's writers take turns)");
        QFETCH(bool, undo);
        const auto config = DatabaseConfig::fromUrl(m_temp->location());
        QVERIFY(config.ok());
        const qint64 dataset = *m_data->ensureDataset(m_user, QStringLiteral("people"), Now);
        const auto job = claimJob();
        QVERIFY(commit(job, dataset, {{"", doc(1)}}).ok());

        // Another session holds the dataset's row: the batch takes the job's fence, then waits.
        auto blocker = QSqlDatabase::addDatabase(QStringLiteral("QPSQL"), QStringLiteral("hold"));
        blocker.setHostName(config->host);
        blocker.setPort(config->port);
        blocker.setUserName(config->user);
        blocker.setDatabaseName(config->database);
        QVERIFY(blocker.open());
        QVERIFY(blocker.transaction());
        QSqlQuery hold(blocker);
        QVERIFY(hold.exec(
            QStringLiteral("SELECT 1 FROM datasets WHERE id = %1 FOR UPDATE").arg(dataset)));

        std::atomic<bool> written{false};
        bool writeOk = false;
        QThread *writer = QThread::create([&] {
            writeOk = undo ? m_data->undoJob(job.id, dataset, job.leaseToken).ok()
                           : commit(job, dataset, {{"", doc(2)}}).ok();
            written = true;
        });
        writer->start();
        // (Asked on a connection of its own: pg_stat_activity is a snapshot per transaction.)
        const bool batchWaits = QTest::qWaitFor(
            [&] {
                return execute(QStringLiteral("SELECT count(*) FROM pg_stat_activity "
                                              "WHERE wait_event_type = 'Lock'")) > 0;
            },
            30'000);

        Result<QList<qint64>> renewed = QList<qint64>{};
        Result<void> progress;
        QThread *renewer = QThread::create([&] {
            renewed = m_store->renewLeases(QStringLiteral("node-a"), {{job.id, job.leaseToken}},
                                           Now + 3 * LeaseMs);
            progress = m_store->saveProgress(job.id, job.leaseToken,
                                             QJsonObject{{QStringLiteral("rowsRead"), 7}});
        });
        renewer->start();
        // Without the fix the renewal waits for the batch, which waits for this test: give it
        // long enough that only a lock, not a slow machine, keeps it from returning.
        const bool renewedWhileHeld = renewer->wait(60'000);
        const bool batchStillWaiting = !written;
        // Past the lease: a rescue from another node must not take the job in mid-batch.
        auto rescued = m_store->rescueLeases(RescueScope::ExpiredLeases, QStringLiteral("node-b"),
                                             Now + 10 * LeaseMs);

        QVERIFY(blocker.rollback());
        QVERIFY(writer->wait(60'000));
        QVERIFY(renewer->wait(60'000));
        delete writer;
        delete renewer;
        hold = QSqlQuery();
        blocker = QSqlDatabase();
        QSqlDatabase::removeDatabase(QStringLiteral("hold"));

        QVERIFY(batchWaits);
        QVERIFY2(renewedWhileHeld, "the lease renewal waited behind the batch");
        QVERIFY(batchStillWaiting);
        QVERIFY2(renewed.ok(), renewed ? "" : qPrintable(renewed.error().message));
        QCOMPARE(*renewed, QList<qint64>{job.id});
        QVERIFY(progress.ok());
        QVERIFY2(rescued.ok(), rescued ? "" : qPrintable(rescued.error().message));
        QVERIFY(rescued->isEmpty());
        QVERIFY(writeOk);
        QCOMPARE(execute(QStringLiteral("SELECT count(*) FROM jobs WHERE id = %1 AND status = "
                                        "'running' AND lease_expires_at = %2")
                             .arg(job.id)
                             .arg(Now + 3 * LeaseMs)),
                 1);
        QCOMPARE(exportAll(dataset).size(), undo ? 0 : 2);
    }

    void commitBatchRefusesAFullDataset()
    {
        const qint64 dataset = *m_data->ensureDataset(m_user, QStringLiteral("full"), Now);
        // The last id of the dataset's range is taken: no room for another record.
        const qint64 last = ((dataset + 1) << 40) - 1;
        QCOMPARE(execute(QStringLiteral("INSERT INTO records (id, dataset_id, doc) VALUES (%1, %2, "
                                        "'{}')")
                             .arg(last)
                             .arg(dataset)),
                 1);
        const auto job = claimJob();
        auto refused = commit(job, dataset, {{"", doc(1)}});
        QVERIFY(!refused.ok());
        QCOMPARE(refused.error().code, ErrorCode::Unavailable);
        QCOMPARE(refused.error().message, QStringLiteral("The dataset is full (2^40 records)."));
        QVERIFY(!m_data->checkpoint(job.id)->has_value()); // nothing of the batch was kept
        QCOMPARE(exportAll(dataset).size(), 1);
    }

    void keyedUpsertAndUndoRestoresOverwrittenRecords()
    {
        const qint64 dataset = *m_data->ensureDataset(m_user, QStringLiteral("people"), Now);
        const auto one = claimJob();
        QVERIFY(commit(one, dataset, {{"a", doc(1, "one")}, {"b", doc(2, "one")}}).ok());
        QVERIFY(m_data->forgetUndo(one.id, dataset).ok());
        const QStringList before = exportAll(dataset);

        // Job two overwrites a (twice in one batch), adds c, and in a later batch overwrites b.
        const auto two = claimJob();
        QVERIFY(commit(two, dataset,
                       {{"a", doc(1, "two")}, {"c", doc(3, "two")}, {"a", doc(1, "two-again")}})
                    .ok());
        QVERIFY(commit(two, dataset, {{"b", doc(2, "two")}, {"c", doc(3, "two-again")}}).ok());
        // Upserted by key: no duplicates; a keeps its place (its first id), c comes after b.
        QCOMPARE(exportAll(dataset), QStringList({QString::fromStdString(doc(1, "two-again")),
                                                  QString::fromStdString(doc(2, "two")),
                                                  QString::fromStdString(doc(3, "two-again"))}));
        QCOMPARE((*m_data->dataset(m_user, QStringLiteral("people")))->records, 3);

        auto undone = m_data->undoJob(two.id, dataset, two.leaseToken);
        QVERIFY2(undone.ok(), undone ? "" : qPrintable(undone.error().message));
        QCOMPARE(*undone, 3); // c deleted, a and b restored
        QCOMPARE(exportAll(dataset), before);
        QVERIFY(!m_data->checkpoint(two.id)->has_value());

        // forgetUndo drops the copies: nothing is kept to restore any more.
        const auto three = claimJob();
        QVERIFY(commit(three, dataset, {{"a", doc(1, "three")}}).ok());
        QCOMPARE(countWhere(QStringLiteral("prev_doc IS NOT NULL")), 1);
        QVERIFY(m_data->forgetUndo(three.id, dataset).ok());
        QCOMPARE(countWhere(QStringLiteral("prev_doc IS NOT NULL")), 0);
    }

    void recordsPageInInsertionOrder()
    {
        const qint64 first = *m_data->ensureDataset(m_user, QStringLiteral("first"), Now);
        const qint64 other = *m_data->ensureDataset(m_user, QStringLiteral("other"), Now);
        const auto job = claimJob();
        int n = 0;
        for (int batch = 0; batch < 3; ++batch) {
            std::vector<RecordWrite> records;
            for (int i = 0; i < 900; ++i)
                records.push_back({{}, doc(++n)});
            QVERIFY(commit(job, first, records).ok());
            QVERIFY(commit(job, other, {{"", doc(-batch)}}).ok());
        }

        QStringList streamed;
        QVERIFY(m_data
                    ->forEachRecord(first,
                                    [&](std::string_view d) {
                                        streamed.append(
                                            QString::fromUtf8(d.data(), qsizetype(d.size())));
                                        return true;
                                    })
                    .ok());
        QCOMPARE(streamed.size(), 2700); // more than one internal page of 1,000
        for (int i = 0; i < streamed.size(); ++i)
            QCOMPARE(streamed.at(i), QString::fromStdString(doc(i + 1)));
        int seen = 0;
        QVERIFY(m_data->forEachRecord(first, [&](std::string_view) { return ++seen < 10; }).ok());
        QCOMPARE(seen, 10);

        QStringList paged;
        qint64 after = 0;
        int pages = 0;
        while (true) {
            auto page = m_store->datasets().recordPage(first, after, 1000);
            QVERIFY2(page.ok(), page ? "" : qPrintable(page.error().message));
            if (page->docs.empty()) {
                QCOMPARE(page->lastId, 0);
                break;
            }
            ++pages;
            QVERIFY(page->lastId > after);
            after = page->lastId;
            paged += strings(page->docs);
        }
        QCOMPARE(pages, 3);
        QCOMPARE(paged, streamed);
        QCOMPARE(m_store->datasets().recordPage(first, 0, 0)->docs.size(),
                 size_t(1)); // at least one
        QCOMPARE(strings(m_store->datasets().recordPage(other, 0, 10)->docs),
                 QStringList({QString::fromStdString(doc(0)), QString::fromStdString(doc(-1)),
                              QString::fromStdString(doc(-2))}));
        QVERIFY(m_store->datasets().recordPage(other + 1000, 0, 10)->docs.empty());
    }

    void concurrentWritersOfOneDatasetTakeTurns()
    {
        const qint64 dataset = *m_data->ensureDataset(m_user, QStringLiteral("shared"), Now);
        const auto a = claimJob();
        const auto b = claimJob();
        std::atomic<int> failures{0};
        auto writer = [&](ClaimedJob job, int tag) {
            for (int batch = 0; batch < 20; ++batch) {
                std::vector<RecordWrite> records;
                for (int i = 0; i < 100; ++i)
                    records.push_back({{}, doc(tag * 100000 + batch * 100 + i)});
                if (!m_data->commitBatch(makeBatch(job, dataset, std::move(records))))
                    ++failures;
            }
        };
        QThread *one = QThread::create(writer, a, 1);
        QThread *two = QThread::create(writer, b, 2);
        one->start();
        two->start();
        QVERIFY(one->wait(60'000) && two->wait(60'000));
        delete one;
        delete two;
        QCOMPARE(failures.load(), 0);
        QCOMPARE((*m_data->dataset(m_user, QStringLiteral("shared")))->records, 4000);
    }

    void migrateHandlerImportsACsvEndToEnd()
    {
        QTemporaryDir dir;
        FileBlobStore blobs(dir.path() + QStringLiteral("/blobs"), 0);
        SystemClock clock;
        HandlerRegistry handlers;
        registerBuiltinHandlers(handlers);
        MigrateConfig migrate;
        migrate.batchRows = 10; // many transactions
        handlers.add(QStringLiteral("migrate"),
                     std::make_shared<MigrateHandler>(m_store->datasets(), blobs, clock, migrate));
        QueueConfig config;
        config.pollIntervalMs = 20;
        config.backoffBaseMs = 10;
        config.maxConcurrency = 2;
        JobQueue queue(*m_store, handlers, clock, config);
        Dispatcher dispatcher(queue, handlers, clock, QStringLiteral("test"));
        QVERIFY(dispatcher.start().ok());

        const char *mapping = "{\"fields\": ["
                              "{\"name\": \"id\", \"type\": \"integer\", \"required\": true},"
                              "{\"name\": \"name\"},"
                              "{\"name\": \"active\", \"type\": \"boolean\"}], \"key\": \"id\"}";
        auto run = [&](const QByteArray &csv) -> Job {
            MigrationRequest request;
            request.userId = m_user;
            request.dataset = QStringLiteral("people");
            request.fileName = QStringLiteral("people.csv");
            request.mapping = QJsonDocument::fromJson(mapping).object();
            QBuffer buffer;
            buffer.setData(csv);
            buffer.open(QIODevice::ReadOnly);
            auto submitted = submitMigration(queue, blobs, clock, request, buffer, csv.size());
            if (!submitted)
                qFatal("submit: %s", qPrintable(submitted.error().toString()));
            Job job;
            Test::waitFor([&] {
                job = **m_store->job(submitted->jobId, std::nullopt);
                return isTerminal(job.status);
            });
            return job;
        };

        QByteArray csv = "id,name,active\n";
        for (int i = 1; i <= 95; ++i)
            csv += QByteArray::number(i) + ",name " + QByteArray::number(i) + "," +
                   QByteArray::number(i % 2) + "\n";
        csv += "x,bad id,1\n96,\"multi\nline\",yes\n";
        const Job first = run(csv);
        QCOMPARE(first.status, JobStatus::Completed);
        QCOMPARE(first.result.value(u"rowsRead").toInt(), 97);
        QCOMPARE(first.result.value(u"rowsImported").toInt(), 96);
        QCOMPARE(first.result.value(u"rowsRejected").toInt(), 1);
        auto errors = m_data->rowErrors(first.id, 10);
        QVERIFY(errors.ok());
        QCOMPARE(errors->size(), 1);
        QCOMPARE(errors->first().field, QStringLiteral("id"));

        auto info = m_data->dataset(m_user, QStringLiteral("people"));
        QVERIFY(info.ok() && info->has_value());
        QCOMPARE((*info)->records, 96);
        QCOMPARE((*info)->columns.size(), 3);
        QList<QJsonObject> rows = exportRows(**info);
        QCOMPARE(rows.size(), 96);
        QCOMPARE(rows.first().value(u"id").toInteger(), 1);
        QCOMPARE(rows.first().value(u"active").toBool(), true);
        QCOMPARE(rows.last().value(u"name").toString(), QStringLiteral("multi\nline"));

        // Importing again by key updates in place: no row twice, the new values win.
        const Job second = run("id,name,active\n5,renamed,0\n200,new,1\n");
        QCOMPARE(second.status, JobStatus::Completed);
        info = m_data->dataset(m_user, QStringLiteral("people"));
        QCOMPARE((*info)->records, 97);
        rows = exportRows(**info);
        QCOMPARE(rows.at(4).value(u"name").toString(), QStringLiteral("renamed"));
        QCOMPARE(rows.last().value(u"id").toInteger(), 200);
        dispatcher.stop();
    }

    // The first keyed import into a dataset keys the records already there, as imports compare
    // keys (a string by its text, anything else by its JSON text), or refuses and changes nothing.
    void useKeyKeysTheRecordsOrRefuses()
    {
        const qint64 dataset = *m_data->ensureDataset(m_user, QStringLiteral("keyed"), Now);
        const auto job = claimJob();
        QVERIFY(commit(job, dataset, {{"", doc(1, "a")}, {"", doc(2, "a")}}).ok());
        QCOMPARE(*m_data->datasetKey(dataset), QString());

        auto missing = m_data->useKey(dataset, QStringLiteral("missing"));
        QVERIFY(!missing.ok());
        QCOMPARE(missing.error().code, ErrorCode::Conflict);
        QVERIFY2(missing.error().message.contains(u"2 of its records have no value"),
                 qPrintable(missing.error().message));
        auto shared = m_data->useKey(dataset, QStringLiteral("tag"));
        QVERIFY(!shared.ok());
        QCOMPARE(shared.error().code, ErrorCode::Conflict);
        QVERIFY2(shared.error().message.contains(u"several of its records have the value a"),
                 qPrintable(shared.error().message));
        QCOMPARE(*m_data->datasetKey(dataset), QString());

        auto keyed = m_data->useKey(dataset, QStringLiteral("n"));
        QVERIFY2(keyed.ok(), keyed ? "" : qPrintable(keyed.error().message));
        QCOMPARE(*m_data->datasetKey(dataset), QStringLiteral("n"));
        QVERIFY(m_data->useKey(dataset, QStringLiteral("n")).ok()); // the same key again
        auto another = m_data->useKey(dataset, QStringLiteral("tag"));
        QVERIFY(!another.ok());
        QCOMPARE(another.error().code, ErrorCode::Conflict);
        QVERIFY(another.error().message.contains(u"is keyed by \"n\""));

        // The number 1's key is its JSON text: an import of key "1" overwrites that record.
        QVERIFY(commit(job, dataset, {{"1", doc(1, "b")}, {"3", doc(3, "b")}}).ok());
        QCOMPARE(exportAll(dataset), QStringList({QString::fromStdString(doc(1, "b")),
                                                  QString::fromStdString(doc(2, "a")),
                                                  QString::fromStdString(doc(3, "b"))}));
    }

    void datasetBytesAndDeleteWaitForMigrations()
    {
        const qint64 dataset = *m_data->ensureDataset(m_user, QStringLiteral("people"), Now);
        const auto job = claimJob();
        QVERIFY(commit(job, dataset, {{"", doc(1)}, {"", doc(2, "é")}}).ok());
        QVERIFY(m_data->setColumns(dataset, {QStringLiteral("n")}, {}, Now).ok());
        QCOMPARE(*m_data->datasetBytes(dataset), qint64(doc(1).size() + doc(2, "é").size()));
        QCOMPARE(*m_data->datasetBytes(dataset + 1000), 0);

        // The migration into it runs: refused, nothing changed.
        auto busy = m_data->deleteDataset(m_user, QStringLiteral("people"),
                                          DatasetDeleteScope::Dataset, Now + 1);
        QVERIFY2(busy.ok(), busy ? "" : qPrintable(busy.error().message));
        QCOMPARE(busy->outcome, DatasetDeletion::Outcome::Busy);
        QCOMPARE(busy->busyJobId, job.id);
        QCOMPARE(busy->busyJobStatus, QStringLiteral("running"));
        QCOMPARE(exportAll(dataset).size(), 2);

        settle(job, JobStatus::Completed);
        auto emptied = m_data->deleteDataset(m_user, QStringLiteral("people"),
                                             DatasetDeleteScope::Records, Now + 2);
        QVERIFY2(emptied.ok(), emptied ? "" : qPrintable(emptied.error().message));
        QCOMPARE(emptied->outcome, DatasetDeletion::Outcome::Deleted);
        QCOMPARE(emptied->records, 2);
        auto info = m_data->dataset(m_user, QStringLiteral("people"));
        QVERIFY(info.ok() && info->has_value());
        QCOMPARE((*info)->id, dataset);
        QCOMPARE((*info)->records, 0);
        QVERIFY((*info)->columns.isEmpty());
        QCOMPARE((*info)->updatedAt, Now + 2);
        QVERIFY(!m_data->checkpoint(job.id)->has_value());

        auto deleted = m_data->deleteDataset(m_user, QStringLiteral("people"),
                                             DatasetDeleteScope::Dataset, Now + 3);
        QVERIFY(deleted.ok());
        QCOMPARE(deleted->outcome, DatasetDeletion::Outcome::Deleted);
        QVERIFY(!m_data->dataset(m_user, QStringLiteral("people"))->has_value());
        auto gone = m_data->deleteDataset(m_user, QStringLiteral("people"),
                                          DatasetDeleteScope::Dataset, Now + 4);
        QVERIFY(gone.ok());
        QCOMPARE(gone->outcome, DatasetDeletion::Outcome::NotFound);
    }

    // The sweep undoes a migration that ended without its undo (here: failed), and drops only
    // the checkpoint of one that completed.
    void undoEndedMigrationsUndoesFailedOnesOnly()
    {
        const qint64 dataset = *m_data->ensureDataset(m_user, QStringLiteral("people"), Now);
        const auto kept = claimJob();
        QVERIFY(commit(kept, dataset, {{"", doc(1)}}).ok());
        settle(kept, JobStatus::Completed);
        const auto failed = claimJob();
        QVERIFY(commit(failed, dataset, {{"", doc(2)}, {"", doc(3)}}).ok());
        settle(failed, JobStatus::Dead);

        auto undone = m_data->undoEndedMigrations();
        QVERIFY2(undone.ok(), undone ? "" : qPrintable(undone.error().message));
        QCOMPARE(*undone, 1);
        QCOMPARE(exportAll(dataset), QStringList({QString::fromStdString(doc(1))}));
        QVERIFY(!m_data->checkpoint(kept.id)->has_value());
        QVERIFY(!m_data->checkpoint(failed.id)->has_value());
        QCOMPARE(*m_data->undoEndedMigrations(), 0);
    }

private:
    qint64 addUser(const QString &name)
    {
        auto user = m_store->createUser(name, QStringLiteral("standard"), name.toUtf8(), Now);
        if (!user)
            qFatal("creating user %s: %s", qPrintable(name), qPrintable(user.error().message));
        return user->id;
    }

    ClaimRequest claimRequest(int limit) const
    {
        return ClaimRequest{QStringLiteral("node-a"), limit, Now + 10, LeaseMs, 0};
    }

    // A migrate job of alice's, claimed by node-a (running, with a lease token).
    ClaimedJob claimJob()
    {
        NewJob job;
        job.userId = m_user;
        job.type = QStringLiteral("migrate");
        job.payload = QJsonObject{{QStringLiteral("dataset"), QStringLiteral("people")}};
        job.maxAttempts = 3;
        job.timeoutMs = 60'000;
        auto enqueued = m_store->enqueue({job}, Now);
        if (!enqueued)
            qFatal("enqueue: %s", qPrintable(enqueued.error().message));
        auto claimed = m_store->settleAndClaim({}, claimRequest(1));
        if (!claimed || claimed->size() != 1)
            qFatal("claim failed");
        return claimed->first();
    }

    // Ends the job's attempt with `status`.
    void settle(const ClaimedJob &job, JobStatus status)
    {
        SettledAttempt done;
        done.jobId = job.id;
        done.userId = m_user;
        done.leaseToken = job.leaseToken;
        done.attempt = job.attempt;
        done.startedAt = job.startedAt;
        done.finishedAt = Now + 50;
        done.newStatus = status;
        done.outcome = jobStatusName(status);
        if (!m_store->settleAndClaim({done}, claimRequest(0)))
            qFatal("settle failed");
    }

    static ImportBatch
    makeBatch(const ClaimedJob &job, qint64 dataset, std::vector<RecordWrite> records)
    {
        ImportBatch batch;
        batch.jobId = job.id;
        batch.leaseToken = job.leaseToken;
        batch.records = std::move(records);
        batch.checkpoint.datasetId = dataset;
        batch.checkpoint.state = QByteArrayLiteral("{}");
        return batch;
    }

    Result<void> commit(const ClaimedJob &job, qint64 dataset, std::vector<RecordWrite> records)
    {
        return m_data->commitBatch(makeBatch(job, dataset, std::move(records)));
    }

    QStringList exportAll(qint64 dataset)
    {
        QStringList docs;
        auto read = m_data->forEachRecord(dataset, [&](std::string_view d) {
            docs.append(QString::fromUtf8(d.data(), qsizetype(d.size())));
            return true;
        });
        if (!read)
            qFatal("forEachRecord: %s", qPrintable(read.error().message));
        return docs;
    }

    QList<QJsonObject> exportRows(const DatasetInfo &info)
    {
        QByteArray out;
        (void)exportDataset(*m_data, info, ExportFormat::Ndjson, [&](QByteArrayView bytes) {
            out.append(bytes);
            return true;
        });
        QList<QJsonObject> rows;
        for (const QByteArray &line : out.split('\n')) {
            if (!line.isEmpty())
                rows.append(QJsonDocument::fromJson(line).object());
        }
        return rows;
    }

    // Counts records matching a fixed condition, through a connection of the test's own.
    int countWhere(const QString &condition)
    {
        return execute(QStringLiteral("SELECT count(*) FROM records WHERE ") + condition);
    }

    // Runs fixed SQL on a connection of the test's own: the first column of a SELECT's first
    // row, or the rows a change (INSERT, UPDATE, DELETE) affected; -1 on error.
    int execute(const QString &sql)
    {
        QString error;
        if (sql.startsWith(u"SELECT")) {
            const auto rows = Test::readRows(m_temp->location(), sql, &error);
            return error.isEmpty() && !rows.isEmpty() ? rows.first().value(0).toInt() : -1;
        }
        const auto rows =
            Test::writeRows(m_temp->location(), sql + QStringLiteral(" RETURNING 1"), &error);
        return error.isEmpty() ? int(rows.size()) : -1;
    }

    std::unique_ptr<Test::TempStore> m_temp;
    Store *m_store = nullptr;
    DatasetStore *m_data = nullptr;
    qint64 m_user = 0;
};

QTEST_GUILESS_MAIN(TestStoreDatasets)
#include "tst_storedatasets.moc"
