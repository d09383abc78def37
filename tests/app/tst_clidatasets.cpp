// `ferry dataset list|show|delete`, run as the real binary against a temporary data dir: text and
// --json output in the API's shapes, usage errors (exit 2), a delete that asks unless --yes and
// refuses without a terminal, and a delete refused while an import into the dataset waits. The
// datasets are filled by a migration run in this process, as an engine would run it.
#include "migrate/migratehandler.h"
#include "migrate/migrationrequest.h"
#include "queue/dispatcher.h"
#include "queue/handlerregistry.h"
#include "queue/jobqueue.h"
#include "storage/fileblobstore.h"

#include "testsupport.h"

#include <QBuffer>
#include <QDir>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

#include <memory>

using namespace Ferry;

namespace {

constexpr int ProcessTimeoutMs = 30'000;

struct Run
{
    int exitCode = -1; // -1: crashed or timed out
    QByteArray out;
    QByteArray err;

    QString describe() const
    {
        return QStringLiteral("exit %1\nstdout: %2\nstderr: %3")
            .arg(exitCode)
            .arg(QString::fromUtf8(out), QString::fromUtf8(err));
    }
    QJsonObject json() const { return QJsonDocument::fromJson(out).object(); }
};

const QByteArray s_people = "id,name\n1,Ada\n2,Grace\n3,Edsger\n";

} // namespace

class tst_CliDatasets : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup();

    void listAndShow();
    void jsonUsesApiShapes();
    void unknownDatasetOrUser_data();
    void unknownDatasetOrUser();
    void usageErrors_data();
    void usageErrors();
    void deleteNeedsYesWithoutTerminal();
    void deleteAsksOnTerminal_data();
    void deleteAsksOnTerminal();
    void deleteDataset();
    void deleteRecordsOnly();
    void deleteRefusedWhileImportWaits();

private:
    QString dataDir() const { return m_dir->path() + QStringLiteral("/data"); }
    Run ferry(const QStringList &arguments) const;
    // ferry on a terminal (util-linux script(1) gives it a pseudo-terminal), typing input.
    Run ferryOnTerminal(const QStringList &arguments, const QByteArray &input) const;
    // A migration of csv into the user's dataset, run here to its end; returns the job's id.
    qint64 importHere(const QString &user,
                      const QString &dataset,
                      const QByteArray &csv,
                      const QString &key = {},
                      const QJsonValue &mapping = {});

    std::unique_ptr<QTemporaryDir> m_dir;
};

void tst_CliDatasets::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());
    QVERIFY(QDir(m_dir->path()).mkpath(QStringLiteral("runtime")));
    QVERIFY(QFile::setPermissions(m_dir->path() + QStringLiteral("/runtime"),
                                  QFileDevice::ReadOwner | QFileDevice::WriteOwner |
                                      QFileDevice::ExeOwner));
    for (const char *name : {"alice", "bob"}) {
        const Run added =
            ferry({QStringLiteral("user"), QStringLiteral("add"), QString::fromLatin1(name)});
        QVERIFY2(added.exitCode == 0, qPrintable(added.describe()));
    }
}

void tst_CliDatasets::cleanup()
{
    m_dir.reset();
}

namespace {

Run finish(QProcess &process)
{
    Run run;
    if (!process.waitForFinished(ProcessTimeoutMs)) {
        process.kill();
        process.waitForFinished(ProcessTimeoutMs);
        run.err = "ferry did not finish: " + process.errorString().toUtf8() + '\n';
    } else if (process.exitStatus() == QProcess::NormalExit) {
        run.exitCode = process.exitCode();
    }
    run.out = process.readAllStandardOutput();
    run.err += process.readAllStandardError();
    return run;
}

QProcessEnvironment ferryEnvironment(const QString &dir)
{
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(QStringLiteral("QT_QPA_PLATFORM"), QStringLiteral("offscreen"));
    env.insert(QStringLiteral("XDG_RUNTIME_DIR"), dir + QStringLiteral("/runtime"));
    env.insert(QStringLiteral("XDG_DATA_HOME"), dir + QStringLiteral("/xdg-data"));
    return env;
}

QString shellQuoted(const QString &word)
{
    QString quoted = word;
    quoted.replace(u'\'', QStringLiteral("'\\''"));
    return u'\'' + quoted + u'\'';
}

} // namespace

Run tst_CliDatasets::ferry(const QStringList &arguments) const
{
    QProcess process;
    process.setProcessEnvironment(ferryEnvironment(m_dir->path()));
    process.start(QStringLiteral(FERRY_BINARY),
                  QStringList{QStringLiteral("--data-dir"), dataDir()} + arguments);
    return finish(process);
}

Run tst_CliDatasets::ferryOnTerminal(const QStringList &arguments, const QByteArray &input) const
{
    QStringList words{QStringLiteral(FERRY_BINARY), QStringLiteral("--data-dir"), dataDir()};
    words += arguments;
    QStringList quoted;
    for (const QString &word : std::as_const(words))
        quoted.append(shellQuoted(word));
    QProcess process;
    process.setProcessEnvironment(ferryEnvironment(m_dir->path()));
    // -e: script's exit code is ferry's; the typescript is thrown away.
    process.start(QStringLiteral("script"),
                  {QStringLiteral("-qec"), quoted.join(u' '), QStringLiteral("/dev/null")});
    process.write(input);
    process.closeWriteChannel();
    return finish(process);
}

qint64 tst_CliDatasets::importHere(const QString &user,
                                   const QString &dataset,
                                   const QByteArray &csv,
                                   const QString &key,
                                   const QJsonValue &mapping)
{
    auto store = Test::openStore(dataDir() + QStringLiteral("/ferry.db"));
    SystemClock clock;
    FileBlobStore blobs(m_dir->path() + QStringLiteral("/test-blobs"), 0);
    HandlerRegistry handlers;
    handlers.add(QStringLiteral("migrate"), std::make_shared<MigrateHandler>(
                                                store->datasets(), blobs, clock, MigrateConfig{}));
    QueueConfig config;
    config.pollIntervalMs = 20;
    JobQueue queue(*store, handlers, clock, config);
    MigrationRequest request;
    request.userId = (*store->userByName(user))->id;
    request.dataset = dataset;
    request.fileName = QStringLiteral("people.csv");
    request.key = key;
    request.mapping = mapping;
    QBuffer buffer;
    buffer.setData(csv);
    buffer.open(QIODevice::ReadOnly);
    auto submitted = submitMigration(queue, blobs, clock, request, buffer, csv.size());
    if (!submitted)
        qFatal("submitMigration: %s", qPrintable(submitted.error().toString()));
    Dispatcher dispatcher(queue, handlers, clock, QStringLiteral("test"));
    if (!dispatcher.start().ok())
        qFatal("the dispatcher did not start");
    const qint64 id = submitted->jobId;
    if (!Test::waitFor(
            [&] { return (*store->job(id, std::nullopt))->status == JobStatus::Completed; }))
        qFatal("import %lld did not complete", id);
    dispatcher.stop();
    return id;
}

void tst_CliDatasets::listAndShow()
{
    importHere(QStringLiteral("alice"), QStringLiteral("people"), s_people, QStringLiteral("id"));
    importHere(QStringLiteral("alice"), QStringLiteral("plain"), "a\n1\n");
    // Typed by one mapping, then another: "a (integer), b (mixed: string, boolean)".
    const auto typedMapping = [](const char *json) {
        return QJsonValue(QJsonDocument::fromJson(json).object());
    };
    importHere(QStringLiteral("alice"), QStringLiteral("typed"), "a,b\n1,x\n", {},
               typedMapping("{\"fields\": [{\"name\": \"a\", \"type\": \"integer\"}, "
                            "{\"name\": \"b\"}]}"));
    importHere(QStringLiteral("alice"), QStringLiteral("typed"), "b,c\ntrue,y\n", {},
               typedMapping("{\"fields\": [{\"name\": \"b\", \"type\": \"boolean\"}]}"));
    const Run typed =
        ferry({QStringLiteral("dataset"), QStringLiteral("show"), QStringLiteral("typed"),
               QStringLiteral("--user"), QStringLiteral("alice")});
    QVERIFY2(typed.exitCode == 0, qPrintable(typed.describe()));
    QVERIFY2(typed.out.contains("columns: a (integer), b (mixed: string, boolean)\n"),
             qPrintable(typed.describe()));
    const Run list = ferry({QStringLiteral("dataset"), QStringLiteral("list"),
                            QStringLiteral("--user"), QStringLiteral("alice")});
    QVERIFY2(list.exitCode == 0, qPrintable(list.describe()));
    const QList<QByteArray> lines = list.out.trimmed().split('\n');
    QCOMPARE(lines.size(), 3); // people, plain, typed
    QVERIFY2(lines.at(0).startsWith("people\t3 records\tkey id"), lines.at(0).constData());
    QVERIFY2(lines.at(1).startsWith("plain\t1 record\tno key"), lines.at(1).constData());
    // Bob has none: nothing on stdout, a note on stderr, success.
    const Run none = ferry({QStringLiteral("dataset"), QStringLiteral("list"),
                            QStringLiteral("--user"), QStringLiteral("bob")});
    QVERIFY2(none.exitCode == 0 && none.out.isEmpty(), qPrintable(none.describe()));
    QVERIFY2(none.err.contains("bob has no datasets"), qPrintable(none.describe()));

    const Run show =
        ferry({QStringLiteral("dataset"), QStringLiteral("show"), QStringLiteral("people"),
               QStringLiteral("--user"), QStringLiteral("alice")});
    QVERIFY2(show.exitCode == 0, qPrintable(show.describe()));
    for (const char *expected :
         {"dataset people of alice", "records: 3", "key: id", "columns: id, name",
          "imports (newest first, at most 50): 1", "completed\t3 imported, 0 rejected"}) {
        QVERIFY2(show.out.contains(expected),
                 qPrintable(QString::fromUtf8(expected) + u'\n' + show.describe()));
    }
}

void tst_CliDatasets::jsonUsesApiShapes()
{
    const qint64 job = importHere(QStringLiteral("alice"), QStringLiteral("people"), s_people,
                                  QStringLiteral("id"));
    importHere(QStringLiteral("alice"), QStringLiteral("plain"), "a\n1\n");
    const Run list =
        ferry({QStringLiteral("dataset"), QStringLiteral("list"), QStringLiteral("--user"),
               QStringLiteral("alice"), QStringLiteral("--json")});
    QVERIFY2(list.exitCode == 0, qPrintable(list.describe()));
    QCOMPARE(list.out.count('\n'), 1); // one document
    const QJsonArray datasets = list.json().value(u"datasets").toArray();
    QCOMPARE(datasets.size(), 2);
    QCOMPARE(datasets.at(0).toObject().value(u"key").toString(), QStringLiteral("id"));
    QVERIFY(datasets.at(1).toObject().value(u"key").isNull());
    QCOMPARE(datasets.at(1).toObject().value(u"records").toInteger(), 1);

    const Run show =
        ferry({QStringLiteral("dataset"), QStringLiteral("show"), QStringLiteral("people"),
               QStringLiteral("--user"), QStringLiteral("alice"), QStringLiteral("--json")});
    QVERIFY2(show.exitCode == 0, qPrintable(show.describe()));
    QCOMPARE(show.out.count('\n'), 1);
    const QJsonObject dataset = show.json();
    QCOMPARE(dataset.value(u"name").toString(), QStringLiteral("people"));
    QCOMPARE(dataset.value(u"records").toInteger(), 3);
    QCOMPARE(dataset.value(u"columns").toArray(),
             QJsonArray({QStringLiteral("id"), QStringLiteral("name")}));
    // Imported without a mapping: the schema names the columns, without types.
    QCOMPARE(dataset.value(u"schema").toArray(),
             QJsonArray({QJsonObject{{QStringLiteral("name"), QStringLiteral("id")}},
                         QJsonObject{{QStringLiteral("name"), QStringLiteral("name")}}}));
    // The documents' bytes: {"id":"1","name":"Ada"} and so on (no mapping: strings).
    QCOMPARE(dataset.value(u"sizeBytes").toInteger(),
             qint64(QByteArray("{\"id\":\"1\",\"name\":\"Ada\"}{\"id\":\"2\",\"name\":\"Grace\"}"
                               "{\"id\":\"3\",\"name\":\"Edsger\"}")
                        .size()));
    const QJsonArray imports = dataset.value(u"imports").toArray();
    QCOMPARE(imports.size(), 1);
    const QJsonObject import = imports.at(0).toObject();
    QCOMPARE(import.value(u"jobId"), QJsonValue(QString::number(job)));
    QVERIFY(import.value(u"sessionId").isString());
    QCOMPARE(import.value(u"status").toString(), QStringLiteral("completed"));
    QCOMPARE(import.value(u"rowsImported").toInteger(), 3);
    QVERIFY(import.value(u"finishedAt").isDouble());
}

void tst_CliDatasets::unknownDatasetOrUser_data()
{
    QTest::addColumn<QStringList>("arguments");
    QTest::addColumn<QString>("message");
    const QString show = QStringLiteral("show"), user = QStringLiteral("--user");
    QTest::newRow("no such dataset")
        << QStringList{show, QStringLiteral("nothing"), user, QStringLiteral("alice")}
        << QStringLiteral("alice has no dataset named 'nothing'");
    QTest::newRow("another user's")
        << QStringList{show, QStringLiteral("people"), user, QStringLiteral("bob")}
        << QStringLiteral("bob has no dataset named 'people'");
    QTest::newRow("a name no dataset has")
        << QStringList{show, QStringLiteral("a b"), user, QStringLiteral("alice")}
        << QStringLiteral("alice has no dataset named 'a b'");
    QTest::newRow("delete of another user's")
        << QStringList{QStringLiteral("delete"), QStringLiteral("people"), user,
                       QStringLiteral("bob"), QStringLiteral("--yes")}
        << QStringLiteral("bob has no dataset named 'people'");
    QTest::newRow("no such user") << QStringList{QStringLiteral("list"), user,
                                                 QStringLiteral("carol")}
                                  << QStringLiteral("No user named 'carol'");
}
void tst_CliDatasets::unknownDatasetOrUser()
{
    QFETCH(QStringList, arguments);
    QFETCH(QString, message);
    importHere(QStringLiteral("alice"), QStringLiteral("people"), s_people);
    const Run run = ferry(QStringList{QStringLiteral("dataset")} + arguments);
    QCOMPARE(run.exitCode, 1);
    QVERIFY2(run.out.isEmpty(), qPrintable(run.describe()));
    QVERIFY2(QString::fromUtf8(run.err).contains(message), qPrintable(run.describe()));
    // Alice's dataset is whole.
    const Run show =
        ferry({QStringLiteral("dataset"), QStringLiteral("show"), QStringLiteral("people"),
               QStringLiteral("--user"), QStringLiteral("alice"), QStringLiteral("--json")});
    QCOMPARE(show.json().value(u"records").toInteger(), 3);
}

void tst_CliDatasets::usageErrors_data()
{
    QTest::addColumn<QStringList>("arguments");
    QTest::addColumn<QString>("message");
    const QString user = QStringLiteral("--user"), alice = QStringLiteral("alice");
    QTest::newRow("no action") << QStringList{} << QStringLiteral("unknown dataset action ''");
    QTest::newRow("unknown action") << QStringList{QStringLiteral("drop"), user, alice}
                                    << QStringLiteral("unknown dataset action 'drop'");
    QTest::newRow("list without --user")
        << QStringList{QStringLiteral("list")} << QStringLiteral("dataset list needs --user NAME");
    QTest::newRow("show without a name") << QStringList{QStringLiteral("show"), user, alice}
                                         << QStringLiteral("dataset show takes one dataset NAME");
    QTest::newRow("show without --user")
        << QStringList{QStringLiteral("show"), QStringLiteral("people")}
        << QStringLiteral("dataset show needs --user NAME");
    QTest::newRow("list with an extra argument")
        << QStringList{QStringLiteral("list"), QStringLiteral("people"), user, alice}
        << QStringLiteral("unexpected argument 'people'");
    QTest::newRow("delete of two") << QStringList{QStringLiteral("delete"),
                                                  QStringLiteral("people"),
                                                  QStringLiteral("plain"),
                                                  user,
                                                  alice,
                                                  QStringLiteral("--yes")}
                                   << QStringLiteral("unexpected argument 'plain'");
    QTest::newRow("--records-only on show")
        << QStringList{QStringLiteral("show"), QStringLiteral("people"), user, alice,
                       QStringLiteral("--records-only")}
        << QStringLiteral("--records-only is an option of dataset delete");
}
void tst_CliDatasets::usageErrors()
{
    QFETCH(QStringList, arguments);
    QFETCH(QString, message);
    importHere(QStringLiteral("alice"), QStringLiteral("people"), s_people);
    const Run run = ferry(QStringList{QStringLiteral("dataset")} + arguments);
    QCOMPARE(run.exitCode, 2);
    QVERIFY2(QString::fromUtf8(run.err).contains(message), qPrintable(run.describe()));
    const Run show =
        ferry({QStringLiteral("dataset"), QStringLiteral("show"), QStringLiteral("people"),
               QStringLiteral("--user"), QStringLiteral("alice"), QStringLiteral("--json")});
    QCOMPARE(show.json().value(u"records").toInteger(), 3);
}

// QProcess's standard input is a pipe, not a terminal: without --yes nothing is asked, nothing
// deleted, and the message says what to add.
void tst_CliDatasets::deleteNeedsYesWithoutTerminal()
{
    importHere(QStringLiteral("alice"), QStringLiteral("people"), s_people);
    for (const QStringList &extra :
         {QStringList{}, QStringList{QStringLiteral("--records-only")}}) {
        const Run run = ferry(QStringList{QStringLiteral("dataset"), QStringLiteral("delete"),
                                          QStringLiteral("people"), QStringLiteral("--user"),
                                          QStringLiteral("alice")} +
                              extra);
        QCOMPARE(run.exitCode, 2);
        QVERIFY2(run.err.contains("--yes") && run.err.contains("not a terminal") &&
                     run.err.contains("Nothing was deleted"),
                 qPrintable(run.describe()));
    }
    const Run show =
        ferry({QStringLiteral("dataset"), QStringLiteral("show"), QStringLiteral("people"),
               QStringLiteral("--user"), QStringLiteral("alice"), QStringLiteral("--json")});
    QCOMPARE(show.json().value(u"records").toInteger(), 3);
}

// On a terminal, without --yes, the delete asks; only "y" or "yes" deletes.
void tst_CliDatasets::deleteAsksOnTerminal_data()
{
    QTest::addColumn<QByteArray>("answer");
    QTest::addColumn<bool>("deletes");
    QTest::newRow("n") << QByteArray("n\n") << false;
    QTest::newRow("enter") << QByteArray("\n") << false;
    QTest::newRow("y") << QByteArray("y\n") << true;
    QTest::newRow("YES") << QByteArray("YES\n") << true;
}
void tst_CliDatasets::deleteAsksOnTerminal()
{
    QFETCH(QByteArray, answer);
    QFETCH(bool, deletes);
    if (QStandardPaths::findExecutable(QStringLiteral("script")).isEmpty())
        QSKIP("needs util-linux script(1) to give ferry a terminal");
    importHere(QStringLiteral("alice"), QStringLiteral("people"), s_people);
    const Run run = ferryOnTerminal({QStringLiteral("dataset"), QStringLiteral("delete"),
                                     QStringLiteral("people"), QStringLiteral("--user"),
                                     QStringLiteral("alice")},
                                    answer);
    // The terminal carries both streams: the question, then the outcome.
    QVERIFY2(run.out.contains("Delete dataset people of alice and its 3 records? This cannot be "
                              "undone. [y/N]"),
             qPrintable(run.describe()));
    QCOMPARE(run.exitCode, deletes ? 0 : 1);
    QVERIFY2(run.out.contains(deletes ? "Deleted dataset people of alice and its 3 records."
                                      : "ferry: nothing deleted."),
             qPrintable(run.describe()));
    const Run show =
        ferry({QStringLiteral("dataset"), QStringLiteral("show"), QStringLiteral("people"),
               QStringLiteral("--user"), QStringLiteral("alice")});
    QCOMPARE(show.exitCode, deletes ? 1 : 0);
}

void tst_CliDatasets::deleteDataset()
{
    importHere(QStringLiteral("alice"), QStringLiteral("people"), s_people, QStringLiteral("id"));
    importHere(QStringLiteral("alice"), QStringLiteral("plain"), "a\n1\n");
    importHere(QStringLiteral("bob"), QStringLiteral("people"), s_people);
    const Run deleted =
        ferry({QStringLiteral("dataset"), QStringLiteral("delete"), QStringLiteral("people"),
               QStringLiteral("--user"), QStringLiteral("alice"), QStringLiteral("--yes")});
    QVERIFY2(deleted.exitCode == 0, qPrintable(deleted.describe()));
    QCOMPARE(deleted.out, QByteArray("Deleted dataset people of alice and its 3 records.\n"));
    QCOMPARE(ferry({QStringLiteral("dataset"), QStringLiteral("show"), QStringLiteral("people"),
                    QStringLiteral("--user"), QStringLiteral("alice")})
                 .exitCode,
             1);
    // Her other dataset and Bob's of the same name stay.
    const Run list =
        ferry({QStringLiteral("dataset"), QStringLiteral("list"), QStringLiteral("--user"),
               QStringLiteral("alice"), QStringLiteral("--json")});
    QCOMPARE(list.json().value(u"datasets").toArray().size(), 1);
    const Run bobs =
        ferry({QStringLiteral("dataset"), QStringLiteral("show"), QStringLiteral("people"),
               QStringLiteral("--user"), QStringLiteral("bob"), QStringLiteral("--json")});
    QCOMPARE(bobs.json().value(u"records").toInteger(), 3);

    const Run json =
        ferry({QStringLiteral("dataset"), QStringLiteral("delete"), QStringLiteral("plain"),
               QStringLiteral("--user"), QStringLiteral("alice"), QStringLiteral("--yes"),
               QStringLiteral("--json")});
    QVERIFY2(json.exitCode == 0, qPrintable(json.describe()));
    QCOMPARE(json.json(), QJsonObject({{QStringLiteral("name"), QStringLiteral("plain")},
                                       {QStringLiteral("recordsDeleted"), 1},
                                       {QStringLiteral("datasetDeleted"), true}}));
}

void tst_CliDatasets::deleteRecordsOnly()
{
    importHere(QStringLiteral("alice"), QStringLiteral("people"), s_people, QStringLiteral("id"));
    const Run emptied =
        ferry({QStringLiteral("dataset"), QStringLiteral("delete"), QStringLiteral("people"),
               QStringLiteral("--user"), QStringLiteral("alice"), QStringLiteral("--records-only"),
               QStringLiteral("--yes"), QStringLiteral("--json")});
    QVERIFY2(emptied.exitCode == 0, qPrintable(emptied.describe()));
    QCOMPARE(emptied.json().value(u"recordsDeleted").toInteger(), 3);
    QCOMPARE(emptied.json().value(u"datasetDeleted").toBool(true), false);
    const Run show =
        ferry({QStringLiteral("dataset"), QStringLiteral("show"), QStringLiteral("people"),
               QStringLiteral("--user"), QStringLiteral("alice"), QStringLiteral("--json")});
    QVERIFY2(show.exitCode == 0, qPrintable(show.describe()));
    QCOMPARE(show.json().value(u"records").toInteger(), 0);
    QCOMPARE(show.json().value(u"sizeBytes").toInteger(), 0);
    QCOMPARE(show.json().value(u"key").toString(), QStringLiteral("id"));
    QCOMPARE(show.json().value(u"imports").toArray().size(), 1);
}

// `ferry import` without a running engine leaves its job pending: both deletes are refused,
// naming it, and the records stay.
void tst_CliDatasets::deleteRefusedWhileImportWaits()
{
    importHere(QStringLiteral("alice"), QStringLiteral("people"), s_people);
    QFile csv(m_dir->path() + QStringLiteral("/more.csv"));
    QVERIFY(csv.open(QIODevice::WriteOnly));
    csv.write("id,name\n4,Barbara\n");
    csv.close();
    const Run imported =
        ferry({QStringLiteral("import"), csv.fileName(), QStringLiteral("--dataset"),
               QStringLiteral("people"), QStringLiteral("--user"), QStringLiteral("alice"),
               QStringLiteral("--json")});
    QVERIFY2(imported.exitCode == 0, qPrintable(imported.describe()));
    const QString job = imported.json().value(u"jobId").toString();
    QVERIFY(!job.isEmpty());
    for (const QStringList &extra :
         {QStringList{}, QStringList{QStringLiteral("--records-only")}}) {
        const Run refused = ferry(QStringList{QStringLiteral("dataset"), QStringLiteral("delete"),
                                              QStringLiteral("people"), QStringLiteral("--user"),
                                              QStringLiteral("alice"), QStringLiteral("--yes")} +
                                  extra);
        QCOMPARE(refused.exitCode, 1);
        QVERIFY2(refused.out.isEmpty(), qPrintable(refused.describe()));
        QVERIFY2(QString::fromUtf8(refused.err)
                     .contains(QStringLiteral("Job %1 (pending) imports into dataset people; "
                                              "nothing was deleted.")
                                   .arg(job)),
                 qPrintable(refused.describe()));
    }
    const Run show =
        ferry({QStringLiteral("dataset"), QStringLiteral("show"), QStringLiteral("people"),
               QStringLiteral("--user"), QStringLiteral("alice"), QStringLiteral("--json")});
    QCOMPARE(show.json().value(u"records").toInteger(), 3);
    // The waiting import is listed with the dataset's imports.
    QCOMPARE(show.json().value(u"imports").toArray().at(0).toObject().value(u"jobId").toString(),
             job);
}

QTEST_GUILESS_MAIN(tst_CliDatasets)
#include "tst_clidatasets.moc"
