#include "store/migrator.h"
#include "store/storefactory.h"
#include "testsupport.h"

#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSqlQuery>
#include <QTest>

using namespace Ferry;
using namespace Ferry::Test;

class tst_Migrator : public QObject
{
    Q_OBJECT

private:
    // The tables of the store at location (a SQLite file or a PostgreSQL database).
    static QStringList tables(const QString &location)
    {
        const QString sql =
            onPostgres() ? QStringLiteral("SELECT table_name FROM information_schema.tables "
                                          "WHERE table_schema = 'public' ORDER BY table_name")
                         : QStringLiteral(
                               "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name");
        QString error;
        QStringList result;
        for (const QVariantList &row : readRows(location, sql, &error))
            result.append(row.value(0).toString());
        if (!error.isEmpty())
            qFatal("%s", qPrintable(error));
        return result;
    }

private Q_SLOTS:
    void freshDatabaseGetsEverySchemaVersion()
    {
        QTemporaryDir dir;
        const QString path = freshStoreLocation(dir.path() + QStringLiteral("/f.db"));
        auto store = openTestStore(path);
        QVERIFY(store->schemaVersion() >= 2);
        const QStringList names = tables(path);
        for (const char *table : {"users", "upload_sessions", "jobs", "job_attempts", "quota_usage",
                                  "settings", "fair_clock", "schema_migrations"})
            QVERIFY2(names.contains(QLatin1String(table)), table);
    }

    // 0013: keys written as JSON text ("7" with its quotes) become the key's text, and two
    // records of one dataset that are then one key become one record (the later-created stays).
    void datasetKeysAreComparedAfterConversion()
    {
        QTemporaryDir dir;
        const QString path = freshStoreLocation(dir.path() + QStringLiteral("/keys.db"));
        {
            auto old = openTestStore(path, 12);
            QCOMPARE(old->schemaVersion(), 12);
            ManualClock clock;
            UserDirectory users(*old, clock);
            auto user = users.addUser(QStringLiteral("alice"));
            QVERIFY(user.ok());
            auto dataset =
                old->datasets().ensureDataset(user->user.id, QStringLiteral("people"), 0);
            QVERIFY(dataset.ok());
            const qint64 first = *dataset << 40;
            QString error;
            writeRows(path,
                      QStringLiteral("INSERT INTO records (id, dataset_id, key, doc) VALUES "
                                     "(%1, %2, '\"7\"', '{\"id\":\"7\"}'), "
                                     "(%3, %2, '7', '{\"id\":7}'), "
                                     "(%4, %2, '\"8\"', '{\"id\":\"8\"}'), "
                                     "(%5, %2, NULL, '{\"id\":9}')")
                          .arg(first + 1)
                          .arg(*dataset)
                          .arg(first + 2)
                          .arg(first + 3)
                          .arg(first + 4),
                      &error);
            QVERIFY2(error.isEmpty(), qPrintable(error));
        }
        auto store = openTestStore(path);
        QVERIFY(store->schemaVersion() >= 13);
        QString error;
        const auto rows =
            writeRows(path, QStringLiteral("SELECT key, doc FROM records ORDER BY id"), &error);
        QVERIFY2(error.isEmpty(), qPrintable(error));
        QCOMPARE(rows.size(), 3);
        QCOMPARE(rows.at(0).value(0).toString(), QStringLiteral("7"));
        // The document's value (on PostgreSQL a jsonb since 0017, printed as jsonb prints it).
        QCOMPARE(QJsonDocument::fromJson(rows.at(0).value(1).toString().toUtf8()).object(),
                 QJsonObject({{QStringLiteral("id"), 7}}));
        QCOMPARE(rows.at(1).value(0).toString(), QStringLiteral("8"));
        QVERIFY(rows.at(2).value(0).isNull());
    }

    // 0014: a dataset written before column types keeps its columns, untyped; the next imports
    // add their types to it (a typed one, an untyped one, then a conflicting type).
    void datasetColumnsGainTypes()
    {
        QTemporaryDir dir;
        const QString path = freshStoreLocation(dir.path() + QStringLiteral("/types.db"));
        qint64 datasetId = 0;
        qint64 userId = 0;
        {
            auto old = openTestStore(path, 13);
            QCOMPARE(old->schemaVersion(), 13);
            ManualClock clock;
            UserDirectory users(*old, clock);
            auto user = users.addUser(QStringLiteral("alice"));
            QVERIFY(user.ok());
            userId = user->user.id;
            auto dataset = old->datasets().ensureDataset(userId, QStringLiteral("people"), 0);
            QVERIFY(dataset.ok());
            datasetId = *dataset;
            // As 0013's setColumns wrote them: the columns alone.
            QString error;
            writeRows(path,
                      QStringLiteral("UPDATE datasets SET columns = '[\"id\",\"name\"]' "
                                     "WHERE id = %1")
                          .arg(datasetId),
                      &error);
            QVERIFY2(error.isEmpty(), qPrintable(error));
        }
        auto store = openTestStore(path);
        QVERIFY(store->schemaVersion() >= 14);
        DatasetStore &datasets = store->datasets();
        auto upgraded = datasets.dataset(userId, QStringLiteral("people"));
        QVERIFY(upgraded.ok() && upgraded->has_value());
        QCOMPARE((*upgraded)->columns, QJsonArray({QStringLiteral("id"), QStringLiteral("name")}));
        QVERIFY((*upgraded)->columnTypes.isEmpty());
        QCOMPARE(datasetSchema(**upgraded),
                 QJsonArray({QJsonObject{{QStringLiteral("name"), QStringLiteral("id")}},
                             QJsonObject{{QStringLiteral("name"), QStringLiteral("name")}}}));

        const QString integer = QStringLiteral("integer");
        const QString string = QStringLiteral("string");
        QVERIFY(datasets
                    .setColumns(datasetId, {QStringLiteral("id"), QStringLiteral("age")},
                                {{QStringLiteral("id"), integer}, {QStringLiteral("age"), integer}},
                                1)
                    .ok());
        QVERIFY(datasets.setColumns(datasetId, {QStringLiteral("email")}, {}, 2).ok());
        QVERIFY(datasets
                    .setColumns(datasetId, {QStringLiteral("id"), QStringLiteral("age")},
                                {{QStringLiteral("id"), string}, {QStringLiteral("age"), integer}},
                                3)
                    .ok());
        auto typed = datasets.dataset(userId, QStringLiteral("people"));
        QVERIFY(typed.ok() && typed->has_value());
        QCOMPARE((*typed)->columns, QJsonArray({QStringLiteral("id"), QStringLiteral("name"),
                                                QStringLiteral("age"), QStringLiteral("email")}));
        QCOMPARE((*typed)->columnTypes,
                 QJsonObject({{QStringLiteral("id"), QJsonArray({integer, string})},
                              {QStringLiteral("age"), QJsonArray({integer})}}));
        const QJsonArray schema = datasetSchema(**typed);
        QCOMPARE(schema.at(0).toObject(),
                 QJsonObject({{QStringLiteral("name"), QStringLiteral("id")},
                              {QStringLiteral("type"), QStringLiteral("mixed")},
                              {QStringLiteral("types"), QJsonArray({integer, string})}}));
        QCOMPARE(schema.at(1).toObject(),
                 QJsonObject({{QStringLiteral("name"), QStringLiteral("name")}}));
        QCOMPARE(schema.at(2).toObject(),
                 QJsonObject({{QStringLiteral("name"), QStringLiteral("age")},
                              {QStringLiteral("type"), integer}}));
        QCOMPARE(schema.at(3).toObject(),
                 QJsonObject({{QStringLiteral("name"), QStringLiteral("email")}}));
    }

    // 0017 (PostgreSQL): documents and undo copies written as text become jsonb with the same
    // values, and read back as Ferry wrote them; a record without an undo copy keeps NULL.
    void postgresDocumentsBecomeJsonb()
    {
        if (!onPostgres())
            QSKIP("PostgreSQL only: SQLite keeps its documents as text");
        QTemporaryDir dir;
        const QString path = freshStoreLocation(dir.path() + QStringLiteral("/jsonb.db"));
        qint64 datasetId = 0;
        {
            auto old = openTestStore(path, 14);
            ManualClock clock;
            UserDirectory users(*old, clock);
            auto user = users.addUser(QStringLiteral("alice"));
            QVERIFY(user.ok());
            datasetId = *old->datasets().ensureDataset(user->user.id, QStringLiteral("people"), 0);
            QString error;
            writeRows(
                path,
                QStringLiteral("INSERT INTO records (id, dataset_id, key, doc, prev_doc) "
                               "VALUES (%1, %2, '1', '{\"id\":1,\"big\":12345678901234567890}', "
                               "'{\"id\":1,\"big\":0}'), "
                               "(%3, %2, NULL, '{\"n\":\"x, y\"}', NULL)")
                    .arg((datasetId << 40) + 1)
                    .arg(datasetId)
                    .arg((datasetId << 40) + 2),
                &error);
            QVERIFY2(error.isEmpty(), qPrintable(error));
        }
        auto store = openTestStore(path);
        QVERIFY(store->schemaVersion() >= 17);
        QString error;
        const auto rows = readRows(path,
                                   QStringLiteral("SELECT pg_typeof(doc)::text, "
                                                  "pg_typeof(prev_doc)::text, doc->>'big', "
                                                  "prev_doc->>'big' FROM records ORDER BY id"),
                                   &error);
        QVERIFY2(error.isEmpty(), qPrintable(error));
        QCOMPARE(rows.size(), 2);
        QCOMPARE(rows.at(0).value(0).toString(), QStringLiteral("jsonb"));
        QCOMPARE(rows.at(0).value(1).toString(), QStringLiteral("jsonb"));
        QCOMPARE(rows.at(0).value(2).toString(), QStringLiteral("12345678901234567890"));
        QCOMPARE(rows.at(0).value(3).toString(), QStringLiteral("0"));
        QVERIFY(rows.at(1).value(3).isNull());
        QStringList docs;
        QVERIFY(store->datasets()
                    .forEachRecord(datasetId,
                                   [&](std::string_view doc) {
                                       docs.append(
                                           QString::fromUtf8(doc.data(), qsizetype(doc.size())));
                                       return true;
                                   })
                    .ok());
        QCOMPARE(docs, QStringList({QStringLiteral("{\"id\":1,\"big\":12345678901234567890}"),
                                    QStringLiteral("{\"n\":\"x, y\"}")}));
    }

    // postgres/0019, sqlite/0016: the resource history written before per-node series is kept,
    // as the series '' (the one engine of a SQLite store reads it back after the upgrade), and
    // nodes registered before are workers.
    void resourceHistoryAndNodesSurviveTheObserversMigration()
    {
        QTemporaryDir dir;
        const QString location = freshStoreLocation(dir.path() + QStringLiteral("/series.db"));
        const int before = onPostgres() ? 18 : 15;
        {
            auto old = openTestStore(location, before);
            QCOMPARE(old->schemaVersion(), before);
            QString error;
            writeRows(location,
                      QStringLiteral(
                          "INSERT INTO metric_samples (resolution, ts, rss_bytes, cpu_percent, "
                          "mem_total_bytes, mem_available_bytes, free_disk_bytes, active_jobs, "
                          "concurrency_limit, configured_max, queue_depth, "
                          "jobs_completed_per_min, http_requests_per_s, http_429_per_s) VALUES "
                          "(1, 1700000000000, 4096, 1.5, 8, 4, 100, 2, 3, 4, 5, 6, 7, 0)"),
                      &error);
            QVERIFY2(error.isEmpty(), qPrintable(error));
            writeRows(location,
                      QStringLiteral("INSERT INTO nodes (id, address, version, started_at, "
                                     "heartbeat_at, running_jobs, rss_bytes) VALUES "
                                     "('old-node', '127.0.0.1:8080', '0.1.0', 1, 2, 0, -1)"),
                      &error);
            QVERIFY2(error.isEmpty(), qPrintable(error));
        }
        auto store = openTestStore(location);
        QVERIFY(store->schemaVersion() > before);
        auto kept = store->metricSamples(MetricResolution::Second, QString(), 0);
        QVERIFY2(kept.ok(), qPrintable(kept.error().toString()));
        QCOMPARE(kept->size(), 1);
        QCOMPARE(kept->at(0).rssBytes, 4096);
        QCOMPARE(kept->at(0).queueDepth, 5);
        auto nodes = store->nodes(0);
        QVERIFY(nodes.ok());
        QCOMPARE(nodes->size(), 1);
        QVERIFY(!nodes->at(0).observer);
    }

    void oldSchemaIsMigratedAndKeepsItsData()
    {
        QTemporaryDir dir;
        const QString path = freshStoreLocation(dir.path() + QStringLiteral("/old.db"));
        qint64 jobId = 0;
        {
            // A database as the first release left it: schema version 1 only.
            auto old = openTestStore(path, 1);
            QCOMPARE(old->schemaVersion(), 1);
            QVERIFY(!tables(path).contains(QStringLiteral("settings")));
            ManualClock clock;
            UserDirectory users(*old, clock);
            auto user = users.addUser(QStringLiteral("alice"));
            QVERIFY(user.ok());
            // v1 has no fair_clock table, so enqueue through plain SQL as v1 code would.
            QString error;
            const auto rows = writeRows(
                path,
                QStringLiteral(
                    "INSERT INTO jobs (user_id, type, status, max_attempts, run_at, timeout_ms, "
                    "created_at) VALUES (%1, 'noop', 'pending', 5, 0, 0, 0) RETURNING id")
                    .arg(user->user.id),
                &error);
            QVERIFY2(error.isEmpty(), qPrintable(error));
            jobId = rows.value(0).value(0).toLongLong();
            QVERIFY(jobId > 0);
        }
        auto store = openTestStore(path);
        QVERIFY(store->schemaVersion() >= 2);
        QVERIFY(tables(path).contains(QStringLiteral("settings")));
        auto user = store->userByName(QStringLiteral("alice"));
        QVERIFY(user.ok() && user->has_value());
        auto job = store->job(jobId, std::nullopt);
        QVERIFY(job.ok() && job->has_value());
        QCOMPARE((*job)->status, JobStatus::Pending);
        // And the new tables work.
        QVERIFY(store->setSetting(QStringLiteral("k"), QStringLiteral("v")).ok());
    }

    void newerSchemaIsRefused()
    {
        QTemporaryDir dir;
        const QString path = freshStoreLocation(dir.path() + QStringLiteral("/new.db"));
        openTestStore(path).reset();
        QString error;
        writeRows(path,
                  QStringLiteral("INSERT INTO schema_migrations (version, name, applied_at) "
                                 "VALUES (999, 'future', 0)"),
                  &error);
        QVERIFY2(error.isEmpty(), qPrintable(error));
        auto store = Ferry::openStore(*DatabaseConfig::fromUrl(path));
        QVERIFY(!store.ok());
        QCOMPARE(store.error().code, ErrorCode::SchemaTooNew);
        QVERIFY(store.error().message.contains(u"999"));
        QVERIFY(!store.error().hint.isEmpty());
    }

    void corruptFileIsRefusedAndLeftAlone()
    {
        FERRY_SQLITE_ONLY("a damaged database file");
        QTemporaryDir dir;
        const QString path = dir.path() + QStringLiteral("/corrupt.db");
        QFile file(path);
        QVERIFY(file.open(QIODevice::WriteOnly));
        const QByteArray garbage(8192, 'x');
        file.write(garbage);
        file.close();
        DatabaseConfig config;
        config.sqlitePath = path;
        auto store = SqliteStore::open(config);
        QVERIFY(!store.ok());
        QCOMPARE(store.error().code, ErrorCode::Storage);
        QVERIFY2(store.error().hint.contains(u"damaged"), qPrintable(store.error().toString()));
        QVERIFY(file.open(QIODevice::ReadOnly));
        QCOMPARE(file.readAll(), garbage); // nothing written half-way
    }

    void splitsStatements()
    {
        const QStringList statements = splitSqlStatements(QStringLiteral(
            "-- comment\nCREATE TABLE a (x INTEGER);\n\nCREATE INDEX i ON a(x)\n  WHERE x > 0;\n"));
        QCOMPARE(statements.size(), 2);
        QVERIFY(statements.at(1).endsWith(u"WHERE x > 0;"));
    }
};

QTEST_GUILESS_MAIN(tst_Migrator)
#include "tst_migrator.moc"
