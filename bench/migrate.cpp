// bench/migrate: rows/s of a typed migration into SQLite against the sqlite3 shell's .import of
// the same file, and the peak RSS of a migration of a large file. With --db postgresql://...,
// the migration goes into PostgreSQL instead, against psql's \copy of the same file.
//
//   build/bench/migrate [--rows N] [--rounds R] [--rss-gib G] [--dir DIR]
//   build/bench/migrate --db postgresql://user@host:port/db [--rows N] [--rounds R]
//                       [--batch-rows N]   (rows per transaction of Ferry's import; default:
//                                           the store's, as in the engine)
//
// Generates a CSV of N rows x 8 mixed columns (about 100 bytes a row), then per round, on fresh
// databases: `sqlite3 db ".import --csv file t"` (raw text into a table, no checking) and a
// Ferry `migrate` job with an 8-field typed mapping (parsing, UTF-8 and type validation, JSON
// documents, batched transactions with checkpoints). Then, with --rss-gib, a child process
// migrates a G GiB file and reports its peak RSS (VmHWM). One JSON line per round, then medians.
//
// With --db (a PostgreSQL server the user may create databases on), each round works in a new
// database of its own, dropped afterwards: `psql -c "\copy ..."` of the file into a table with
// the mapping's column types (integer, text, ..., boolean, date) and into one with 8 text columns;
// the ceiling: `psql \copy` of exactly the rows Ferry writes (the same ids, dataset, job and
// documents, converted by Ferry's own reader and mapping before the round) into a table made
// LIKE Ferry's `records` (its columns, jsonb documents, indexes); then the same Ferry `migrate`
// job on a PostgresStore, whose rows are checked against the ceiling's. With --rss-gib the RSS
// run imports into a database of its own on that server.
#include "migrate/bytesource.h"
#include "migrate/migratehandler.h"
#include "migrate/migrationrequest.h"
#include "migrate/migrationrows.h"
#include "queue/builtinhandlers.h"
#include "queue/dispatcher.h"
#include "storage/fileblobstore.h"
#include "store/recordrange.h"
#include "store/sqlitestore.h"
#include "store/storefactory.h"
#include "users/userdirectory.h"

#include "benchstats.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QElapsedTimer>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QThread>
#include <QUrl>

#include <cstdio>
#include <functional>
#include <random>

using namespace Ferry;
using Ferry::Bench::median;

namespace {

const char *s_mapping = "{\"fields\": ["
                        "{\"name\": \"id\", \"type\": \"integer\", \"required\": true},"
                        "{\"name\": \"email\", \"type\": \"string\", \"required\": true},"
                        "{\"name\": \"name\", \"type\": \"string\"},"
                        "{\"name\": \"age\", \"type\": \"integer\"},"
                        "{\"name\": \"score\", \"type\": \"number\"},"
                        "{\"name\": \"active\", \"type\": \"boolean\"},"
                        "{\"name\": \"joined\", \"type\": \"date\"},"
                        "{\"name\": \"note\", \"type\": \"string\"}]}";

[[noreturn]] void fail(const QString &message)
{
    std::fprintf(stderr, "bench/migrate: %s\n", qPrintable(message));
    std::exit(1);
}

// Writes rows until the file holds `rows` rows (rows > 0) or `bytes` bytes.
void generate(const QString &path, qint64 rows, qint64 bytes)
{
    QFile file(path);
    if (!file.open(QIODevice::WriteOnly))
        fail(QStringLiteral("cannot write ") + path);
    std::mt19937_64 random(42);
    QByteArray chunk = "id,email,name,age,score,active,joined,note\n";
    char line[256];
    qint64 written = 0;
    for (qint64 i = 1; rows > 0 ? i <= rows : written < bytes; ++i) {
        const auto r = random();
        const int n = std::snprintf(line, sizeof line,
                                    "%lld,user%lld@example.com,\"Name %llu, "
                                    "Jr.\",%d,%d.%02d,%s,20%02d-%02d-%02d,note %llu\n",
                                    static_cast<long long>(i), static_cast<long long>(i),
                                    static_cast<unsigned long long>(r % 100000), int(r % 90) + 10,
                                    int(r % 1000), int(r % 97), (r & 1) ? "true" : "false",
                                    int(r % 25), int(r % 12) + 1, int(r % 28) + 1,
                                    static_cast<unsigned long long>(r % 1000000));
        chunk.append(line, n);
        if (chunk.size() > (1 << 20)) {
            file.write(chunk);
            written += chunk.size();
            chunk.clear();
        }
    }
    file.write(chunk);
}

// A Ferry engine on a fresh store (SQLite in dataDir unless db is given) that imports the file
// once; returns the job's result.
QJsonObject ferryImport(const QString &dataDir,
                        const QString &csv,
                        std::optional<DatabaseConfig> database = std::nullopt,
                        int batchRows = MigrateConfig().batchRows)
{
    DatabaseConfig db;
    db.sqlitePath = dataDir + QStringLiteral("/ferry.db");
    if (database)
        db = *database;
    auto store = openStore(db);
    if (!store)
        fail(store.error().toString());
    SystemClock clock;
    FileBlobStore blobs(dataDir + QStringLiteral("/blobs"), 0);
    HandlerRegistry handlers;
    registerBuiltinHandlers(handlers);
    handlers.add(QStringLiteral("migrate"),
                 std::make_shared<MigrateHandler>((*store)->datasets(), blobs, clock,
                                                  MigrateConfig{.batchRows = batchRows}));
    QueueConfig config;
    config.maxConcurrency = 1;
    config.defaultTimeoutMs = 0;
    JobQueue queue(**store, handlers, clock, config);
    UserDirectory users(**store, clock);
    auto user = users.addUser(QStringLiteral("bench"));
    if (!user)
        fail(user.error().toString());
    QFile file(csv);
    if (!file.open(QIODevice::ReadOnly))
        fail(QStringLiteral("cannot read ") + csv);
    MigrationRequest request;
    request.userId = user->user.id;
    request.dataset = QStringLiteral("people");
    request.fileName = QStringLiteral("people.csv");
    request.mapping = QJsonDocument::fromJson(s_mapping).object();
    auto submitted = submitMigration(queue, blobs, clock, request, file, file.size());
    if (!submitted)
        fail(submitted.error().toString());
    Dispatcher dispatcher(queue, handlers, clock, QStringLiteral("bench"));
    if (auto started = dispatcher.start(); !started)
        fail(started.error().toString());
    while (true) {
        auto job = (*store)->job(submitted->jobId, std::nullopt);
        if (job && job->has_value() && isTerminal((*job)->status)) {
            if ((*job)->status != JobStatus::Completed)
                fail(QStringLiteral("the migration failed: ") + (*job)->error);
            return (*job)->result;
        }
        QThread::msleep(20);
    }
}

// The rows Ferry's import of csv writes into `records`, as COPY text (id, dataset_id, key, doc,
// job_id): its documents from Ferry's own reader and mapping (MigrationRows, as MigrateHandler
// reads), numbered as PostgresStore numbers them in a new database, whose first dataset and
// first job are 1. The round checks afterwards that Ferry wrote exactly these.
void writeCeilingRows(const QString &csv, const QString &path)
{
    auto source = ByteSource::openFile(csv, {});
    if (!source)
        fail(source.error().toString());
    MigrationPayload payload;
    payload.format = DataFormat::Csv;
    auto mapping = Mapping::fromJson(QJsonDocument::fromJson(s_mapping).object());
    if (!mapping)
        fail(mapping.error().toString());
    payload.mapping = *mapping;
    MigrationRows rows(**source, payload, QString(), 100'000);
    if (auto started = rows.start(); !started)
        fail(started.error().toString());
    QFile file(path);
    if (!file.open(QIODevice::WriteOnly))
        fail(QStringLiteral("cannot write ") + path);
    // After the id: dataset 1, key NULL, then the document; after it: job 1.
    constexpr qint64 datasetId = 1;
    const std::string_view dataset = "\t1\t\\N\t";
    const std::string_view job = "\t1\n";
    qint64 id = firstRecordId(datasetId);
    std::string out;
    MigrationRows::Row row;
    while (rows.next(row) == MigrationRows::Status::Row) {
        if (!row.accepted())
            fail(QStringLiteral("the generated CSV has a rejected row, line %1").arg(row.line));
        out += std::to_string(++id);
        out += dataset;
        // COPY's text format escapes backslashes; JSON text has no raw tabs or newlines.
        for (const char c : row.record.doc) {
            if (c == '\\')
                out += '\\';
            out += c;
        }
        out += job;
        if (out.size() > (1 << 20)) {
            file.write(out.data(), qint64(out.size()));
            out.clear();
        }
    }
    file.write(out.data(), qint64(out.size()));
}

// --db: the server, and one database per round on it.
struct PostgresRounds
{
    QString url;
    DatabaseConfig admin;

    // Runs one statement on the URL's own database (CREATE/DROP DATABASE).
    void runAdmin(const QString &sql) const
    {
        const QString name = QStringLiteral("bench-migrate-admin");
        {
            QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QPSQL"), name);
            db.setHostName(admin.host);
            db.setPort(admin.port);
            db.setUserName(admin.user);
            db.setPassword(admin.password);
            db.setDatabaseName(admin.database);
            if (!db.open())
                fail(QStringLiteral("cannot connect to ") + admin.describe() +
                     QStringLiteral(": ") + db.lastError().text());
            QSqlQuery q(db);
            if (!q.exec(sql))
                fail(sql + QStringLiteral(": ") + q.lastError().text());
        }
        QSqlDatabase::removeDatabase(name);
    }
    // The first column of the first row of sql in round's database.
    qint64 count(int round, const QString &sql) const
    {
        const QString name = QStringLiteral("bench-migrate-count");
        qint64 result = -1;
        {
            QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QPSQL"), name);
            db.setHostName(admin.host);
            db.setPort(admin.port);
            db.setUserName(admin.user);
            db.setPassword(admin.password);
            db.setDatabaseName(databaseName(round));
            if (!db.open())
                fail(QStringLiteral("cannot connect: ") + db.lastError().text());
            QSqlQuery q(db);
            if (!q.exec(sql) || !q.next())
                fail(sql + QStringLiteral(": ") + q.lastError().text());
            result = q.value(0).toLongLong();
        }
        QSqlDatabase::removeDatabase(name);
        return result;
    }
    QString databaseName(int round) const
    {
        return QStringLiteral("ferry_bench_migrate_%1_%2")
            .arg(QCoreApplication::applicationPid())
            .arg(round);
    }
    QString urlOf(int round) const
    {
        QUrl result(url);
        result.setPath(QStringLiteral("/") + databaseName(round));
        return result.toString();
    }
    void create(int round) const // the name carries the process id: new on every run
    {
        runAdmin(QStringLiteral("CREATE DATABASE %1").arg(databaseName(round)));
    }
    void drop(int round) const
    {
        runAdmin(
            QStringLiteral("DROP DATABASE IF EXISTS %1 WITH (FORCE)").arg(databaseName(round)));
    }
};

QString psqlBinary()
{
    for (const QString &candidate :
         {QStringLiteral("/usr/lib/postgresql/15/bin/psql"), QStringLiteral("/usr/bin/psql")}) {
        if (QFileInfo(candidate).isExecutable())
            return candidate;
    }
    return QStringLiteral("psql");
}

// Seconds for `psql URL -c SQL`; the whole process, as for the sqlite3 shell.
double timedPsql(const QString &url, const QString &sql)
{
    QElapsedTimer timer;
    timer.start();
    QProcess psql;
    psql.start(psqlBinary(), {QStringLiteral("-X"), QStringLiteral("-q"), QStringLiteral("-v"),
                              QStringLiteral("ON_ERROR_STOP=1"), url, QStringLiteral("-c"), sql});
    if (!psql.waitForFinished(-1) || psql.exitStatus() != QProcess::NormalExit ||
        psql.exitCode() != 0)
        fail(QStringLiteral("psql failed (is postgresql-client installed?): ") +
             QString::fromUtf8(psql.readAllStandardError()));
    return double(timer.nsecsElapsed()) / 1e9;
}

// `psql URL -c SQL`, whatever its outcome: for what only steadies the measurement (CHECKPOINT
// needs a superuser or pg_checkpoint, which a server of the user's own may not grant).
void tryPsql(const QString &url, const QString &sql)
{
    QProcess psql;
    psql.start(psqlBinary(),
               {QStringLiteral("-X"), QStringLiteral("-q"), url, QStringLiteral("-c"), sql});
    psql.waitForFinished(-1);
}

qint64 peakRssKiB()
{
    QFile status(QStringLiteral("/proc/self/status"));
    status.open(QIODevice::ReadOnly);
    for (const QByteArray &line : status.readAll().split('\n')) {
        if (line.startsWith("VmHWM:"))
            return line.mid(6).trimmed().split(' ').first().toLongLong();
    }
    return 0;
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    QCommandLineParser parser;
    parser.addHelpOption();
    parser.addOptions(
        {{QStringLiteral("rows"), QStringLiteral("Rows in the CSV."), QStringLiteral("N"),
          QStringLiteral("1000000")},
         {QStringLiteral("rounds"), QStringLiteral("Rounds."), QStringLiteral("R"),
          QStringLiteral("3")},
         {QStringLiteral("rss-gib"), QStringLiteral("Size of the RSS run (0: skip)."),
          QStringLiteral("G"), QStringLiteral("1")},
         {QStringLiteral("dir"), QStringLiteral("Scratch directory."), QStringLiteral("DIR")},
         {QStringLiteral("db"),
          QStringLiteral("A PostgreSQL server URL: migrate into PostgreSQL, against psql \\copy."),
          QStringLiteral("URL")},
         {QStringLiteral("batch-rows"),
          QStringLiteral("Rows per batch (transaction) of Ferry's import; 0, the default: the "
                         "store's, as the engine's (5000 on SQLite, 10000 on PostgreSQL)."),
          QStringLiteral("N"), QString::number(MigrateConfig().batchRows)},
         {QStringLiteral("child-import"), QStringLiteral("Internal: import FILE, print RSS."),
          QStringLiteral("FILE")},
         {QStringLiteral("child-db"), QStringLiteral("Internal: the child's database URL."),
          QStringLiteral("URL")}});
    parser.process(app);
    QTemporaryDir scratch(parser.isSet(QStringLiteral("dir"))
                              ? parser.value(QStringLiteral("dir")) +
                                    QStringLiteral("/migrateXXXXXX")
                              : QString());
    if (parser.isSet(QStringLiteral("child-import"))) {
        std::optional<DatabaseConfig> database;
        if (parser.isSet(QStringLiteral("child-db"))) {
            auto config = DatabaseConfig::fromUrl(parser.value(QStringLiteral("child-db")));
            if (!config)
                fail(config.error().toString());
            database = *config;
        }
        const QJsonObject result =
            ferryImport(scratch.path(), parser.value(QStringLiteral("child-import")), database,
                        parser.value(QStringLiteral("batch-rows")).toInt());
        std::printf("%lld %d\n", peakRssKiB(), result.value(u"rowsImported").toInt());
        return 0;
    }

    const qint64 rows = parser.value(QStringLiteral("rows")).toLongLong();
    const QString csv = scratch.path() + QStringLiteral("/people.csv");
    generate(csv, rows, 0);
    const qint64 csvBytes = QFileInfo(csv).size();
    QHash<QString, QList<double>> samples;
    std::optional<PostgresRounds> postgres;
    if (parser.isSet(QStringLiteral("db"))) {
        auto admin = DatabaseConfig::fromUrl(parser.value(QStringLiteral("db")));
        if (!admin || admin->backend != DatabaseConfig::Backend::Postgres)
            fail(QStringLiteral("--db must be a postgresql:// URL"));
        postgres = PostgresRounds{parser.value(QStringLiteral("db")), *admin};
    }
    QString ceilingRows;
    if (postgres) {
        ceilingRows = scratch.path() + QStringLiteral("/ceiling.copy");
        writeCeilingRows(csv, ceilingRows);
    }
    QStringList keys;
    for (int round = 1; round <= parser.value(QStringLiteral("rounds")).toInt(); ++round) {
        QJsonObject line{{QStringLiteral("round"), round}};
        double baselineSeconds = 0;
        const QString dataDir = scratch.path() + QStringLiteral("/ferry-%1").arg(round);
        std::optional<DatabaseConfig> ferryDb;
        std::function<void()> copyCeiling; // PostgreSQL: the ceiling's \copy, when not yet run
        if (postgres) {
            postgres->create(round);
            const QString url = postgres->urlOf(round);
            // The same file into a table with the mapping's types; into the same with id as
            // primary key (Ferry's records are keyed by id too); into 8 text columns (no
            // checking at all, like the sqlite3 shell's .import).
            const QString typed = QStringLiteral(
                "(id BIGINT NOT NULL%1, email TEXT NOT NULL, name TEXT, age INTEGER, "
                "score DOUBLE PRECISION, active BOOLEAN, joined DATE, note TEXT)");
            timedPsql(url, QStringLiteral("CREATE TABLE people ") + typed.arg(QString()) +
                               QStringLiteral("; CREATE TABLE people_pk ") +
                               typed.arg(QStringLiteral(" PRIMARY KEY")) +
                               QStringLiteral("; CREATE TABLE people_text (id TEXT, email TEXT, "
                                              "name TEXT, age TEXT, score TEXT, active TEXT, "
                                              "joined TEXT, note TEXT)"));
            // Each timed step starts from a checkpoint: none pays for the writes of the one
            // before it (the server writes those dirty pages out when its WAL fills).
            auto copy = [&](const char *table) {
                tryPsql(url, QStringLiteral("CHECKPOINT"));
                return timedPsql(url,
                                 QStringLiteral("\\copy %1 FROM '%2' WITH (FORMAT csv, HEADER)")
                                     .arg(QLatin1String(table), csv));
            };
            baselineSeconds = copy("people");
            line.insert(QStringLiteral("psqlCopyTypedRowsPerSec"), double(rows) / baselineSeconds);
            line.insert(QStringLiteral("psqlCopyTypedPkRowsPerSec"),
                        double(rows) / copy("people_pk"));
            line.insert(QStringLiteral("psqlCopyTextRowsPerSec"),
                        double(rows) / copy("people_text"));
            auto config = DatabaseConfig::fromUrl(url);
            if (!config)
                fail(config.error().toString());
            ferryDb = *config;
            // The ceiling: Ferry's schema in this database (opening a store migrates it), then
            // psql \copy of Ferry's own rows into a table LIKE its records; before Ferry's
            // import in odd rounds, after it in even ones, so that neither side always finds
            // the other's writes (dirty buffers, a checkpoint) on the server.
            if (auto schema = openStore(*config); !schema)
                fail(schema.error().toString());
            timedPsql(url,
                      QStringLiteral("CREATE TABLE records_ceiling (LIKE records INCLUDING ALL)"));
            copyCeiling = [&line, url, ceilingRows, rows] {
                tryPsql(url, QStringLiteral("CHECKPOINT"));
                line.insert(QStringLiteral("psqlCopyRecordsJsonbRowsPerSec"),
                            double(rows) / timedPsql(url, QStringLiteral("\\copy records_ceiling "
                                                                         "(id, dataset_id, key, "
                                                                         "doc, job_id) FROM '%1'")
                                                              .arg(ceilingRows)));
            };
            if (round % 2 == 1)
                std::exchange(copyCeiling, nullptr)();
        } else {
            const QString shellDb = scratch.path() + QStringLiteral("/shell-%1.db").arg(round);
            QElapsedTimer timer;
            timer.start();
            QProcess shell;
            shell.start(QStringLiteral("sqlite3"),
                        {shellDb, QStringLiteral(".import --csv %1 people").arg(csv)});
            if (!shell.waitForFinished(-1) || shell.exitCode() != 0)
                fail(
                    QStringLiteral("sqlite3 .import failed (is the sqlite3 package installed?): ") +
                    QString::fromUtf8(shell.readAllStandardError()));
            baselineSeconds = double(timer.nsecsElapsed()) / 1e9;
            QFile::remove(shellDb);
            line.insert(QStringLiteral("sqliteImportRowsPerSec"), double(rows) / baselineSeconds);
        }

        QDir().mkpath(dataDir);
        if (postgres)
            tryPsql(postgres->urlOf(round), QStringLiteral("CHECKPOINT"));
        const QJsonObject result =
            ferryImport(dataDir, csv, ferryDb, parser.value(QStringLiteral("batch-rows")).toInt());
        const double ferrySeconds = result.value(u"durationMs").toDouble() / 1000.0;
        if (result.value(u"rowsImported").toInt() != rows)
            fail(QStringLiteral("Ferry imported %1 rows of %2")
                     .arg(result.value(u"rowsImported").toInt())
                     .arg(rows));
        QDir(dataDir).removeRecursively();
        if (copyCeiling)
            copyCeiling();
        if (postgres) {
            // Ferry wrote exactly the ceiling's rows: same ids, dataset, key, job and documents.
            const qint64 same = postgres->count(
                round, QStringLiteral("SELECT count(*) FROM records r JOIN records_ceiling c "
                                      "ON c.id = r.id AND c.dataset_id = r.dataset_id AND "
                                      "c.key IS NOT DISTINCT FROM r.key AND c.job_id = r.job_id "
                                      "AND c.doc = r.doc"));
            if (same != rows)
                fail(QStringLiteral("Ferry's records and the ceiling's differ: %1 of %2 rows are "
                                    "the same")
                         .arg(same)
                         .arg(rows));
            postgres->drop(round);
        }

        line.insert(QStringLiteral("ferryRowsPerSec"), double(rows) / ferrySeconds);
        line.insert(QStringLiteral("ratio"), baselineSeconds / ferrySeconds);
        if (postgres) {
            const double ferry = line.value(u"ferryRowsPerSec").toDouble();
            line.insert(QStringLiteral("ratioToTypedPk"),
                        ferry / line.value(u"psqlCopyTypedPkRowsPerSec").toDouble());
            line.insert(QStringLiteral("ratioToText"),
                        ferry / line.value(u"psqlCopyTextRowsPerSec").toDouble());
            line.insert(QStringLiteral("ratioToRecordsCeiling"),
                        ferry / line.value(u"psqlCopyRecordsJsonbRowsPerSec").toDouble());
        }
        for (auto it = line.begin(); it != line.end(); ++it) {
            samples[it.key()].append(it.value().toDouble());
            if (it.key() != u"round" && !keys.contains(it.key()))
                keys.append(it.key());
        }
        std::printf("%s\n", QJsonDocument(line).toJson(QJsonDocument::Compact).constData());
        std::fflush(stdout);
    }
    QJsonObject summary{{QStringLiteral("bench"), QStringLiteral("migrate")},
                        {QStringLiteral("backend"),
                         postgres ? QStringLiteral("postgresql") : QStringLiteral("sqlite")},
                        {QStringLiteral("rows"), double(rows)},
                        {QStringLiteral("csvBytes"), double(csvBytes)},
                        {QStringLiteral("columns"), 8}};
    for (const QString &key : std::as_const(keys))
        summary.insert(QStringLiteral("median_") + key, median(samples.value(key)));

    const double gib = parser.value(QStringLiteral("rss-gib")).toDouble();
    if (gib > 0) {
        QFile::remove(csv);
        const QString big = scratch.path() + QStringLiteral("/big.csv");
        generate(big, 0, qint64(gib * double(qint64(1) << 30)));
        QStringList arguments = {
            QStringLiteral("--child-import"), big,
            QStringLiteral("--dir"),          scratch.path(),
            QStringLiteral("--batch-rows"),   parser.value(QStringLiteral("batch-rows"))};
        // On PostgreSQL, into a database of its own after the rounds (its batches are the
        // store's, 10,000 rows: more memory per batch than SQLite's 5,000).
        const int rssRound = parser.value(QStringLiteral("rounds")).toInt() + 1;
        if (postgres) {
            postgres->create(rssRound);
            arguments << QStringLiteral("--child-db") << postgres->urlOf(rssRound);
        }
        QProcess child;
        child.start(QCoreApplication::applicationFilePath(), arguments);
        if (!child.waitForFinished(-1) || child.exitCode() != 0)
            fail(QStringLiteral("the RSS run failed: ") +
                 QString::fromUtf8(child.readAllStandardError()));
        if (postgres)
            postgres->drop(rssRound);
        const QList<QByteArray> out = child.readAllStandardOutput().trimmed().split(' ');
        summary.insert(QStringLiteral("rssFileBytes"), double(QFileInfo(big).size()));
        summary.insert(QStringLiteral("rssRows"), out.value(1).toDouble());
        summary.insert(QStringLiteral("peakRssMiB"), out.value(0).toDouble() / 1024.0);
    }
    std::printf("%s\n", QJsonDocument(summary).toJson(QJsonDocument::Compact).constData());
    return 0;
}
