// The ferry shell commands, run as the real binary against a temporary data dir: exit codes,
// messages, JSON output, and what they leave in the SQLite file.
#include "config/configloader.h"

#include "pgtestsupport.h"
#include "testsupport.h"

#include <QCryptographicHash>
#include <QDir>
#include <QDirIterator>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QRegularExpression>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QSqlRecord>
#include <QTemporaryDir>
#include <QTest>
#include <QUrl>

#include <memory>

using namespace Ferry;

using Ferry::Test::readRows;

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
};

} // namespace

class tst_Cli : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup();

    void userAddPrintsToken();
    void tokenIsStoredOnlyAsHash();
    void duplicateUserFails();
    void invalidUserNameIsUsageError();
    void rejectedEnqueueStoresNothing_data();
    void rejectedEnqueueStoresNothing();
    void invalidConfigIsUsageError_data();
    void invalidConfigIsUsageError();
    void globalOptionsAfterSubcommand();
    void enqueueCountShowsInStatus();
    void pauseAndResume();
    void helpListsEveryOption();
    void quotaSetShowAndReset();
    void quotaSetRefusesBadValues_data();
    void quotaSetRefusesBadValues();
    void tokenRotation();
    // Issue 15 item 7: a CLI that refuses rather than guesses.
    void commandsRefuseMissingStore_data();
    void commandsRefuseMissingStore();
    void userAddCreatesStoreAndSaysSo();
    void unknownUserNamesTheStore();
    void extraArgumentsAreUsageErrors_data();
    void extraArgumentsAreUsageErrors();
    void importAndExportNeedUser_data();
    void importAndExportNeedUser();
    void jsonUsesApiShapes();
    void quotaListJsonIsOneDocument();
    void sizesPrintAsWritten_data();
    void sizesPrintAsWritten();
    void listenAcceptsHostName();
    void unresolvableListenHostIsRefused();
    void postgresErrorNamesUrlWithoutPassword();
    void postgresWithoutSchemaIsRefused();

private:
    QString dataDir() const { return m_dir->path() + QStringLiteral("/data"); }
    QString databasePath() const { return dataDir() + QStringLiteral("/ferry.db"); }
    // A data directory nobody created (a typo).
    QString missingDir() const { return m_dir->path() + QStringLiteral("/typo"); }
    QProcessEnvironment environment() const;
    Run ferry(const QStringList &arguments, const QHash<QString, QString> &environment = {}) const;
    Run ferryInDataDir(const QStringList &arguments) const
    {
        return ferry(QStringList{QStringLiteral("--data-dir"), dataDir()} + arguments);
    }
    // ferry status --json, parsed; an empty object when it failed.
    QJsonObject status() const;

    std::unique_ptr<QTemporaryDir> m_dir;
};

void tst_Cli::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());
    QVERIFY(QDir(m_dir->path()).mkpath(QStringLiteral("runtime")));
    QVERIFY(QFile::setPermissions(m_dir->path() + QStringLiteral("/runtime"),
                                  QFileDevice::ReadOwner | QFileDevice::WriteOwner |
                                      QFileDevice::ExeOwner));
    // Commands other than `user add` need a store: each test starts with an empty one, as an
    // engine that ran once leaves it.
    QVERIFY(QDir().mkpath(dataDir()));
    Ferry::Test::openStore(databasePath()).reset();
}

void tst_Cli::cleanup()
{
    m_dir.reset();
}

QProcessEnvironment tst_Cli::environment() const
{
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(QStringLiteral("QT_QPA_PLATFORM"), QStringLiteral("offscreen"));
    env.insert(QStringLiteral("XDG_RUNTIME_DIR"), m_dir->path() + QStringLiteral("/runtime"));
    // Commands without --data-dir use the default one: keep it inside the temporary dir.
    env.insert(QStringLiteral("XDG_DATA_HOME"), m_dir->path() + QStringLiteral("/xdg-data"));
    return env;
}

Run tst_Cli::ferry(const QStringList &arguments, const QHash<QString, QString> &environment) const
{
    QProcessEnvironment env = this->environment();
    for (auto it = environment.cbegin(); it != environment.cend(); ++it)
        env.insert(it.key(), it.value());

    QProcess process;
    process.setProcessEnvironment(env);
    process.start(QStringLiteral(FERRY_BINARY), arguments);
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

QJsonObject tst_Cli::status() const
{
    const Run run = ferryInDataDir({QStringLiteral("status"), QStringLiteral("--json")});
    if (run.exitCode != 0) {
        qWarning("ferry status failed: %s", qPrintable(run.describe()));
        return {};
    }
    return QJsonDocument::fromJson(run.out).object();
}

void tst_Cli::userAddPrintsToken()
{
    const Run run = ferryInDataDir({QStringLiteral("user"), QStringLiteral("add"),
                                    QStringLiteral("alice"), QStringLiteral("--json")});
    QVERIFY2(run.exitCode == 0, qPrintable(run.describe()));
    QJsonParseError parseError;
    const QJsonDocument json = QJsonDocument::fromJson(run.out, &parseError);
    QVERIFY2(json.isObject(), qPrintable(parseError.errorString() + u'\n' + run.describe()));
    QCOMPARE(json[u"name"].toString(), QStringLiteral("alice"));
    const QString token = json[u"token"].toString();
    QVERIFY2(token.startsWith(u"fy_"), qPrintable(token));
    QVERIFY2(token.size() > 3 + 32, qPrintable(token)); // more than a prefix: real entropy
}

void tst_Cli::tokenIsStoredOnlyAsHash()
{
    const Run run = ferryInDataDir({QStringLiteral("user"), QStringLiteral("add"),
                                    QStringLiteral("alice"), QStringLiteral("--json")});
    QVERIFY2(run.exitCode == 0, qPrintable(run.describe()));
    const QString token = QJsonDocument::fromJson(run.out)[u"token"].toString();
    QVERIFY2(token.startsWith(u"fy_"), qPrintable(run.describe()));

    QString error;
    const auto rows =
        readRows(databasePath(),
                 QStringLiteral("SELECT token_hash FROM users WHERE name = 'alice'"), &error);
    QVERIFY2(error.isEmpty(), qPrintable(error));
    QCOMPARE(rows.size(), 1);
    QCOMPARE(rows.first().first().toByteArray(),
             QCryptographicHash::hash(token.toUtf8(), QCryptographicHash::Sha256));

    // Nowhere in clear: not in the database, its WAL, or anything else in the data dir.
    const QByteArray secret = token.mid(3).toUtf8();
    QStringList checked;
    QDirIterator files(dataDir(), QDir::Files | QDir::Hidden, QDirIterator::Subdirectories);
    while (files.hasNext()) {
        const QString path = files.next();
        QFile file(path);
        QVERIFY2(file.open(QIODevice::ReadOnly), qPrintable(path));
        const QByteArray bytes = file.readAll();
        QVERIFY2(!bytes.contains(secret), qPrintable(path + QStringLiteral(" holds the token")));
        checked.append(files.fileName());
    }
    QVERIFY2(checked.contains(QStringLiteral("ferry.db")), qPrintable(checked.join(u", ")));
}

void tst_Cli::duplicateUserFails()
{
    const QStringList add{QStringLiteral("user"), QStringLiteral("add"), QStringLiteral("alice"),
                          QStringLiteral("--json")};
    const Run first = ferryInDataDir(add);
    QVERIFY2(first.exitCode == 0, qPrintable(first.describe()));
    const QString token = QJsonDocument::fromJson(first.out)[u"token"].toString();

    const Run second = ferryInDataDir(add);
    QVERIFY2(second.exitCode == 1, qPrintable(second.describe()));
    QVERIFY2(second.err.contains("alice"), qPrintable(second.describe()));
    QVERIFY2(!second.out.contains("fy_"), qPrintable(second.describe()));

    // The first user and its token are untouched.
    QString error;
    const auto rows =
        readRows(databasePath(),
                 QStringLiteral("SELECT token_hash FROM users WHERE name = 'alice'"), &error);
    QVERIFY2(error.isEmpty(), qPrintable(error));
    QCOMPARE(rows.size(), 1);
    QCOMPARE(rows.first().first().toByteArray(),
             QCryptographicHash::hash(token.toUtf8(), QCryptographicHash::Sha256));
}

void tst_Cli::invalidUserNameIsUsageError()
{
    const Run run = ferryInDataDir(
        {QStringLiteral("user"), QStringLiteral("add"), QStringLiteral("bad name!")});
    QVERIFY2(run.exitCode == 2, qPrintable(run.describe()));
    QVERIFY2(run.err.contains("bad name!"), qPrintable(run.describe()));
    QVERIFY2(!run.out.contains("fy_"), qPrintable(run.describe()));
    if (QFile::exists(databasePath())) {
        QString error;
        const auto rows = readRows(
            databasePath(), QStringLiteral("SELECT 1 FROM users WHERE name = 'bad name!'"), &error);
        QVERIFY2(error.isEmpty(), qPrintable(error));
        QCOMPARE(rows.size(), 0);
    }
}

void tst_Cli::rejectedEnqueueStoresNothing_data()
{
    QTest::addColumn<QStringList>("arguments");
    QTest::addColumn<QByteArrayList>("mentions"); // what the error message must name

    QTest::newRow("unknown type") << QStringList{QStringLiteral("bogus")}
                                  << QByteArrayList{"bogus", "noop", "sleep"};
    QTest::newRow("priority 500") << QStringList{QStringLiteral("noop"),
                                                 QStringLiteral("--priority"),
                                                 QStringLiteral("500")}
                                  << QByteArrayList{"500"};
    QTest::newRow("priority 500, three jobs")
        << QStringList{QStringLiteral("noop"), QStringLiteral("--count"), QStringLiteral("3"),
                       QStringLiteral("--priority"), QStringLiteral("500")}
        << QByteArrayList{"500"};
    QTest::newRow("payload not an object")
        << QStringList{QStringLiteral("sleep"), QStringLiteral("--payload"), QStringLiteral("[1]")}
        << QByteArrayList{"payload"};
    QTest::newRow("sleep ms negative")
        << QStringList{QStringLiteral("sleep"), QStringLiteral("--payload"),
                       QStringLiteral("{\"ms\":-5}")}
        << QByteArrayList{"\"ms\""};
}

void tst_Cli::rejectedEnqueueStoresNothing()
{
    QFETCH(QStringList, arguments);
    QFETCH(QByteArrayList, mentions);

    const Run run = ferryInDataDir(QStringList{QStringLiteral("enqueue")} + arguments);
    QVERIFY2(run.exitCode == 2, qPrintable(run.describe()));
    for (const QByteArray &mention : std::as_const(mentions))
        QVERIFY2(run.err.contains(mention), qPrintable(run.describe()));
    if (QFile::exists(databasePath())) {
        QString error;
        const auto rows =
            readRows(databasePath(), QStringLiteral("SELECT count(*) FROM jobs"), &error);
        QVERIFY2(error.isEmpty(), qPrintable(error));
        QCOMPARE(rows.value(0).value(0).toInt(), 0);
    }
}

void tst_Cli::invalidConfigIsUsageError_data()
{
    QTest::addColumn<QStringList>("arguments");
    QTest::addColumn<QString>("variable");
    QTest::addColumn<QByteArray>("source");

    QTest::newRow("option before the command")
        << QStringList{QStringLiteral("--max-concurrency"), QStringLiteral("0"),
                       QStringLiteral("status")}
        << QString() << QByteArray("--max-concurrency");
    QTest::newRow("option after the command")
        << QStringList{QStringLiteral("status"), QStringLiteral("--max-concurrency"),
                       QStringLiteral("0")}
        << QString() << QByteArray("--max-concurrency");
    QTest::newRow("environment") << QStringList{QStringLiteral("status")}
                                 << QStringLiteral("FERRY_MAX_CONCURRENCY")
                                 << QByteArray("FERRY_MAX_CONCURRENCY");
}

void tst_Cli::invalidConfigIsUsageError()
{
    QFETCH(QStringList, arguments);
    QFETCH(QString, variable);
    QFETCH(QByteArray, source);

    QHash<QString, QString> environment;
    if (!variable.isEmpty())
        environment.insert(variable, QStringLiteral("0"));
    const Run run = ferry(arguments, environment);
    QVERIFY2(run.exitCode == 2, qPrintable(run.describe()));
    QVERIFY2(run.err.contains("max-concurrency"), qPrintable(run.describe()));
    QVERIFY2(run.err.contains(source), qPrintable(run.describe()));
    QVERIFY2(run.out.isEmpty(), qPrintable(run.describe()));
}

void tst_Cli::globalOptionsAfterSubcommand()
{
    const Run enqueued = ferryInDataDir({QStringLiteral("enqueue"), QStringLiteral("noop")});
    QVERIFY2(enqueued.exitCode == 0, qPrintable(enqueued.describe()));

    // The job is only visible if --data-dir after the command is honoured; --json likewise.
    const Run run = ferry({QStringLiteral("status"), QStringLiteral("--data-dir"), dataDir(),
                           QStringLiteral("--json")});
    QVERIFY2(run.exitCode == 0, qPrintable(run.describe()));
    const QJsonDocument json = QJsonDocument::fromJson(run.out);
    QVERIFY2(json.isObject(), qPrintable(run.describe()));
    QCOMPARE(json[u"pending"].toInt(-1), 1);
}

void tst_Cli::enqueueCountShowsInStatus()
{
    const Run run =
        ferryInDataDir({QStringLiteral("enqueue"), QStringLiteral("noop"),
                        QStringLiteral("--count"), QStringLiteral("3"), QStringLiteral("--json")});
    QVERIFY2(run.exitCode == 0, qPrintable(run.describe()));
    const QJsonDocument json = QJsonDocument::fromJson(run.out);
    QVERIFY2(json.isObject(), qPrintable(run.describe()));
    QCOMPARE(json[u"enqueued"].toInt(), 3);
    QCOMPARE(json[u"lastId"].toString().toLongLong() - json[u"firstId"].toString().toLongLong(), 2);

    const QJsonObject counts = status();
    QVERIFY(!counts.isEmpty());
    QCOMPARE(counts[u"pending"].toInt(-1), 3);
    QCOMPARE(counts[u"running"].toInt(-1), 0);
    QCOMPARE(counts[u"completed"].toInt(-1), 0);
}

void tst_Cli::pauseAndResume()
{
    QCOMPARE(status()[u"paused"], QJsonValue(false));

    Run run = ferryInDataDir({QStringLiteral("pause")});
    QVERIFY2(run.exitCode == 0, qPrintable(run.describe()));
    QCOMPARE(status()[u"paused"], QJsonValue(true));

    run = ferryInDataDir({QStringLiteral("resume")});
    QVERIFY2(run.exitCode == 0, qPrintable(run.describe()));
    QCOMPARE(status()[u"paused"], QJsonValue(false));
}

void tst_Cli::helpListsEveryOption()
{
    const Run run = ferry({QStringLiteral("--help")});
    QVERIFY2(run.exitCode == 0, qPrintable(run.describe()));
    QStringList expected{QStringLiteral("max-concurrency"), QStringLiteral("data-dir"),
                         QStringLiteral("listen"),          QStringLiteral("db"),
                         QStringLiteral("headless"),        QStringLiteral("json")};
    for (const ConfigLoader::Option &option : ConfigLoader::options())
        expected.append(option.name);
    const QString help = QString::fromUtf8(run.out);
    for (const QString &name : std::as_const(expected)) {
        // A whole flag: "--db" must not pass on the strength of "--db-something".
        const QRegularExpression flag(
            QStringLiteral("(^|\\s)--%1(\\s|$)").arg(QRegularExpression::escape(name)));
        QVERIFY2(help.contains(flag),
                 qPrintable(QStringLiteral("--help lacks --%1:\n%2").arg(name, help)));
    }
}

QTEST_GUILESS_MAIN(tst_Cli)
#include "tst_cli.moc"

void tst_Cli::quotaSetShowAndReset()
{
    QCOMPARE(ferryInDataDir({QStringLiteral("user"), QStringLiteral("add"), QStringLiteral("bob"),
                             QStringLiteral("--tier"), QStringLiteral("free")})
                 .exitCode,
             0);
    // Options before or after the subcommand alike; bytes take suffixes.
    const Run set =
        ferryInDataDir({QStringLiteral("quota"), QStringLiteral("set"), QStringLiteral("bob"),
                        QStringLiteral("--uploads"), QStringLiteral("25"),
                        QStringLiteral("--bytes"), QStringLiteral("2G"), QStringLiteral("--json")});
    QVERIFY2(set.exitCode == 0, qPrintable(set.describe()));
    const QJsonObject shown = QJsonDocument::fromJson(set.out).object();
    QCOMPARE(shown[u"user"].toString(), QStringLiteral("bob"));
    QCOMPARE(shown[u"tier"].toString(), QStringLiteral("free"));
    QCOMPARE(shown[u"uploads"][u"limit"].toInteger(), 25);
    QCOMPARE(shown[u"bytes"][u"limit"].toInteger(), qint64(2) << 30);
    QCOMPARE(shown[u"uploads"][u"used"].toInteger(), 0);
    // Only --bytes: the uploads limit stays; "unlimited" is a null limit in JSON.
    const Run unlimited = ferryInDataDir({QStringLiteral("quota"), QStringLiteral("set"),
                                          QStringLiteral("bob"), QStringLiteral("--bytes"),
                                          QStringLiteral("unlimited"), QStringLiteral("--json")});
    QVERIFY2(unlimited.exitCode == 0, qPrintable(unlimited.describe()));
    const QJsonObject after = QJsonDocument::fromJson(unlimited.out).object();
    QCOMPARE(after[u"uploads"][u"limit"].toInteger(), 25);
    QVERIFY(after[u"bytes"][u"limit"].isNull());
    const Run text =
        ferryInDataDir({QStringLiteral("quota"), QStringLiteral("show"), QStringLiteral("bob")});
    QVERIFY2(text.exitCode == 0 && text.out.contains("uploads 0/25"), qPrintable(text.describe()));
    const Run list = ferryInDataDir({QStringLiteral("quota"), QStringLiteral("list")});
    QVERIFY2(list.exitCode == 0 && list.out.contains("bob\tfree"), qPrintable(list.describe()));
    QCOMPARE(
        ferryInDataDir({QStringLiteral("quota"), QStringLiteral("reset"), QStringLiteral("bob")})
            .exitCode,
        0);
    QCOMPARE(
        ferryInDataDir({QStringLiteral("quota"), QStringLiteral("show"), QStringLiteral("nobody")})
            .exitCode,
        1);
}

void tst_Cli::quotaSetRefusesBadValues_data()
{
    QTest::addColumn<QStringList>("arguments");
    QTest::newRow("negative") << QStringList{QStringLiteral("--uploads"), QStringLiteral("-3")};
    QTest::newRow("not a number") << QStringList{QStringLiteral("--uploads"),
                                                 QStringLiteral("many")};
    QTest::newRow("bad suffix") << QStringList{QStringLiteral("--bytes"), QStringLiteral("5X")};
    QTest::newRow("nothing to set") << QStringList{};
}

void tst_Cli::quotaSetRefusesBadValues()
{
    QFETCH(QStringList, arguments);
    QCOMPARE(ferryInDataDir({QStringLiteral("user"), QStringLiteral("add"), QStringLiteral("bob")})
                 .exitCode,
             0);
    const Run run = ferryInDataDir(
        QStringList{QStringLiteral("quota"), QStringLiteral("set"), QStringLiteral("bob")} +
        arguments);
    QVERIFY2(run.exitCode == 2, qPrintable(run.describe()));
    QVERIFY2(run.err.startsWith("ferry: "), qPrintable(run.describe()));
    const Run show = ferryInDataDir({QStringLiteral("quota"), QStringLiteral("show"),
                                     QStringLiteral("bob"), QStringLiteral("--json")});
    const QJsonObject shown = QJsonDocument::fromJson(show.out).object();
    QCOMPARE(shown[u"uploads"][u"limit"].toInteger(), 1000); // the tier default is untouched
}

void tst_Cli::tokenRotation()
{
    const Run added = ferryInDataDir({QStringLiteral("user"), QStringLiteral("add"),
                                      QStringLiteral("carol"), QStringLiteral("--json")});
    QVERIFY2(added.exitCode == 0, qPrintable(added.describe()));
    const QString oldToken = QJsonDocument::fromJson(added.out)[u"token"].toString();
    const Run rotated =
        ferryInDataDir({QStringLiteral("user"), QStringLiteral("token"), QStringLiteral("--rotate"),
                        QStringLiteral("carol"), QStringLiteral("--json")});
    QVERIFY2(rotated.exitCode == 0, qPrintable(rotated.describe()));
    const QString newToken = QJsonDocument::fromJson(rotated.out)[u"token"].toString();
    QVERIFY(newToken.startsWith(u"fy_"));
    QVERIFY(newToken != oldToken);
    QString error;
    const QList<QVariantList> rows =
        readRows(databasePath(),
                 QStringLiteral("SELECT token_hash FROM users WHERE name = 'carol'"), &error);
    QVERIFY2(error.isEmpty(), qPrintable(error));
    QCOMPARE(rows.size(), 1);
    QCOMPARE(rows.first().first().toByteArray(), UserDirectory::hashToken(newToken));
    QCOMPARE(
        ferryInDataDir({QStringLiteral("user"), QStringLiteral("token"), QStringLiteral("carol")})
            .exitCode,
        2); // --rotate is required: nothing happens by accident
}

void tst_Cli::commandsRefuseMissingStore_data()
{
    QTest::addColumn<QStringList>("arguments");
    QTest::addColumn<bool>("viaDb"); // --db names a SQLite file that is not there

    const QStringList commands[] = {
        {QStringLiteral("quota"), QStringLiteral("set"), QStringLiteral("alice"),
         QStringLiteral("--bytes"), QStringLiteral("5G")},
        {QStringLiteral("quota"), QStringLiteral("list")},
        {QStringLiteral("user"), QStringLiteral("list")},
        {QStringLiteral("user"), QStringLiteral("disable"), QStringLiteral("alice")},
        {QStringLiteral("status")},
        {QStringLiteral("job"), QStringLiteral("1")},
        {QStringLiteral("enqueue"), QStringLiteral("noop")},
        {QStringLiteral("pause")},
        {QStringLiteral("export"), QStringLiteral("people"), QStringLiteral("--user"),
         QStringLiteral("alice")},
    };
    for (const QStringList &command : commands) {
        QTest::addRow("%s, data dir", qPrintable(command.join(u' '))) << command << false;
        QTest::addRow("%s, --db", qPrintable(command.join(u' '))) << command << true;
    }
}

void tst_Cli::commandsRefuseMissingStore()
{
    QFETCH(QStringList, arguments);
    QFETCH(bool, viaDb);

    // A mistyped --data-dir (or --db) names a store that does not exist: refused, naming it and
    // how to create one, and nothing is created there.
    const QString missing = viaDb ? m_dir->path() + QStringLiteral("/other.db") : missingDir();
    const QStringList location = viaDb ? QStringList{QStringLiteral("--data-dir"), dataDir(),
                                                     QStringLiteral("--db"), missing}
                                       : QStringList{QStringLiteral("--data-dir"), missing};
    const Run run = ferry(location + arguments);
    QVERIFY2(run.exitCode == 2, qPrintable(run.describe()));
    QVERIFY2(run.err.contains(missing.toUtf8()), qPrintable(run.describe()));
    QVERIFY2(run.err.contains(viaDb ? "--db" : "--data-dir"), qPrintable(run.describe()));
    QVERIFY2(run.err.contains("ferry user add NAME"), qPrintable(run.describe()));
    QVERIFY2(run.err.contains("ferry --headless"), qPrintable(run.describe()));
    QVERIFY2(run.out.isEmpty(), qPrintable(run.describe()));
    QVERIFY2(!QFileInfo::exists(missing), qPrintable(missing + QStringLiteral(" was created")));
}

void tst_Cli::userAddCreatesStoreAndSaysSo()
{
    // The README's quick start adds the first user before any engine has run: `user add` may
    // create the store, and says where, on stderr (stdout stays the one JSON document).
    const QStringList add{QStringLiteral("--data-dir"), missingDir(),
                          QStringLiteral("user"),       QStringLiteral("add"),
                          QStringLiteral("alice"),      QStringLiteral("--json")};
    const Run first = ferry(add);
    QVERIFY2(first.exitCode == 0, qPrintable(first.describe()));
    const QString db = missingDir() + QStringLiteral("/ferry.db");
    QVERIFY(QFile::exists(db));
    QVERIFY2(first.err.contains("created a new one") && first.err.contains(db.toUtf8()),
             qPrintable(first.describe()));
    QVERIFY2(QJsonDocument::fromJson(first.out).isObject(), qPrintable(first.describe()));

    // From then on it is an existing store: nothing to say, and other commands work on it.
    const Run second = ferry({QStringLiteral("--data-dir"), missingDir(), QStringLiteral("user"),
                              QStringLiteral("add"), QStringLiteral("bob")});
    QVERIFY2(second.exitCode == 0 && !second.err.contains("created"),
             qPrintable(second.describe()));
    const Run list = ferry({QStringLiteral("--data-dir"), missingDir(), QStringLiteral("user"),
                            QStringLiteral("list")});
    QVERIFY2(list.exitCode == 0 && list.out.contains("alice") && list.out.contains("bob"),
             qPrintable(list.describe()));
}

void tst_Cli::unknownUserNamesTheStore()
{
    const Run run =
        ferryInDataDir({QStringLiteral("quota"), QStringLiteral("set"), QStringLiteral("alice"),
                        QStringLiteral("--bytes"), QStringLiteral("5G")});
    QVERIFY2(run.exitCode == 1, qPrintable(run.describe()));
    QVERIFY2(run.err.contains("No user named 'alice'"), qPrintable(run.describe()));
    QVERIFY2(run.err.contains(databasePath().toUtf8()), qPrintable(run.describe()));
}

void tst_Cli::extraArgumentsAreUsageErrors_data()
{
    QTest::addColumn<QStringList>("arguments");
    QTest::addColumn<QString>("extra"); // the first argument too many, which the error names

    // What the README's "ferry pause / ferry resume" line became when pasted whole.
    QTest::newRow("pause / ferry resume")
        << QStringList{QStringLiteral("pause"), QStringLiteral("/"), QStringLiteral("ferry"),
                       QStringLiteral("resume")}
        << QStringLiteral("/");
    QTest::newRow("status extra junk")
        << QStringList{QStringLiteral("status"), QStringLiteral("extra"), QStringLiteral("junk")}
        << QStringLiteral("extra");
    QTest::newRow("resume now") << QStringList{QStringLiteral("resume"), QStringLiteral("now")}
                                << QStringLiteral("now");
    QTest::newRow("user list bob")
        << QStringList{QStringLiteral("user"), QStringLiteral("list"), QStringLiteral("bob")}
        << QStringLiteral("bob");
    QTest::newRow("user add two names")
        << QStringList{QStringLiteral("user"), QStringLiteral("add"), QStringLiteral("alice"),
                       QStringLiteral("bob")}
        << QStringLiteral("bob");
    QTest::newRow("quota list alice")
        << QStringList{QStringLiteral("quota"), QStringLiteral("list"), QStringLiteral("alice")}
        << QStringLiteral("alice");
    QTest::newRow("enqueue two types")
        << QStringList{QStringLiteral("enqueue"), QStringLiteral("noop"), QStringLiteral("sleep")}
        << QStringLiteral("sleep");
    QTest::newRow("job 1 2") << QStringList{QStringLiteral("job"), QStringLiteral("1"),
                                            QStringLiteral("2")}
                             << QStringLiteral("2");
    QTest::newRow("export two datasets")
        << QStringList{QStringLiteral("export"), QStringLiteral("people"), QStringLiteral("more"),
                       QStringLiteral("--user"), QStringLiteral("alice")}
        << QStringLiteral("more");
}

void tst_Cli::extraArgumentsAreUsageErrors()
{
    QFETCH(QStringList, arguments);
    QFETCH(QString, extra);

    const Run run = ferryInDataDir(arguments);
    QVERIFY2(run.exitCode == 2, qPrintable(run.describe()));
    QVERIFY2(run.err.contains(QByteArray("unexpected argument '" + extra.toUtf8() + '\'')),
             qPrintable(run.describe()));
    QVERIFY2(run.out.isEmpty(), qPrintable(run.describe()));
    // Nothing was done: not paused, no user, no job.
    const QJsonObject counts = status();
    QCOMPARE(counts[u"paused"], QJsonValue(false));
    QCOMPARE(counts[u"pending"].toInt(-1), 0);
    QString error;
    const auto users = readRows(databasePath(), QStringLiteral("SELECT name FROM users"), &error);
    QVERIFY2(error.isEmpty(), qPrintable(error));
    QCOMPARE(users.size(), 0);
}

void tst_Cli::importAndExportNeedUser_data()
{
    QTest::addColumn<QStringList>("arguments");
    QTest::newRow("import") << QStringList{QStringLiteral("import"), QStringLiteral("people.csv"),
                                           QStringLiteral("--dataset"), QStringLiteral("people")};
    QTest::newRow("export") << QStringList{QStringLiteral("export"), QStringLiteral("people")};
}

void tst_Cli::importAndExportNeedUser()
{
    QFETCH(QStringList, arguments);

    QFile csv(m_dir->path() + QStringLiteral("/people.csv"));
    QVERIFY(csv.open(QIODevice::WriteOnly));
    csv.write("id,name\n1,Ada\n");
    csv.close();
    if (arguments.first() == u"import")
        arguments[1] = csv.fileName();

    const Run run = ferryInDataDir(arguments);
    QVERIFY2(run.exitCode == 2, qPrintable(run.describe()));
    QVERIFY2(run.err.contains("--user NAME"), qPrintable(run.describe()));
    QVERIFY2(run.out.isEmpty(), qPrintable(run.describe()));
    // Nobody's data: no job queued, and no "operator" user made up to own it.
    QString error;
    const auto users = readRows(databasePath(), QStringLiteral("SELECT name FROM users"), &error);
    QVERIFY2(error.isEmpty(), qPrintable(error));
    QCOMPARE(users.size(), 0);
    QCOMPARE(status()[u"pending"].toInt(-1), 0);
}

void tst_Cli::jsonUsesApiShapes()
{
    // Each --json output is one document; ids are strings and what is not there is null, as
    // GET /api/v1/jobs/{id} and POST /api/v1/uploads write them.
    auto document = [](const Run &run) {
        QJsonParseError error;
        const QJsonDocument json = QJsonDocument::fromJson(run.out, &error);
        return error.error == QJsonParseError::NoError ? json.object() : QJsonObject();
    };
    const Run added = ferryInDataDir({QStringLiteral("user"), QStringLiteral("add"),
                                      QStringLiteral("alice"), QStringLiteral("--json")});
    QVERIFY2(added.exitCode == 0, qPrintable(added.describe()));
    QVERIFY2(document(added)[u"id"].isString(), qPrintable(added.describe()));

    const Run enqueued =
        ferryInDataDir({QStringLiteral("enqueue"), QStringLiteral("noop"), QStringLiteral("--user"),
                        QStringLiteral("alice"), QStringLiteral("--json")});
    QVERIFY2(enqueued.exitCode == 0, qPrintable(enqueued.describe()));
    QCOMPARE(document(enqueued)[u"firstId"], QJsonValue(QStringLiteral("1")));
    QCOMPARE(document(enqueued)[u"lastId"], QJsonValue(QStringLiteral("1")));

    const Run job =
        ferryInDataDir({QStringLiteral("job"), QStringLiteral("1"), QStringLiteral("--json")});
    QVERIFY2(job.exitCode == 0, qPrintable(job.describe()));
    const QJsonObject shown = document(job);
    QCOMPARE(shown[u"id"], QJsonValue(QStringLiteral("1")));
    QCOMPARE(shown[u"status"], QJsonValue(QStringLiteral("pending")));
    QVERIFY2(shown[u"error"].isNull(), qPrintable(job.describe()));
    QVERIFY2(shown[u"sessionId"].isNull(), qPrintable(job.describe()));
    QVERIFY2(shown[u"result"].isNull(), qPrintable(job.describe()));
    QVERIFY2(shown[u"startedAt"].isNull(), qPrintable(job.describe()));
    QVERIFY2(shown[u"attemptHistory"].isArray(), qPrintable(job.describe()));
    QVERIFY2(shown[u"rowErrors"].isArray(), qPrintable(job.describe()));

    QFile csv(m_dir->path() + QStringLiteral("/people.csv"));
    QVERIFY(csv.open(QIODevice::WriteOnly));
    csv.write("id,name\n1,Ada\n");
    csv.close();
    const Run imported =
        ferryInDataDir({QStringLiteral("import"), csv.fileName(), QStringLiteral("--dataset"),
                        QStringLiteral("people"), QStringLiteral("--user"), QStringLiteral("alice"),
                        QStringLiteral("--json")});
    QVERIFY2(imported.exitCode == 0, qPrintable(imported.describe()));
    QCOMPARE(document(imported)[u"jobId"], QJsonValue(QStringLiteral("2")));
    QCOMPARE(document(imported)[u"bytes"].toInteger(), 14); // sizes stay numbers in bytes
}

void tst_Cli::quotaListJsonIsOneDocument()
{
    for (const char *name : {"alice", "bob"}) {
        QCOMPARE(ferryInDataDir(
                     {QStringLiteral("user"), QStringLiteral("add"), QString::fromLatin1(name)})
                     .exitCode,
                 0);
    }
    const Run run =
        ferryInDataDir({QStringLiteral("quota"), QStringLiteral("list"), QStringLiteral("--json")});
    QVERIFY2(run.exitCode == 0, qPrintable(run.describe()));
    QJsonParseError error;
    const QJsonDocument json = QJsonDocument::fromJson(run.out, &error);
    QVERIFY2(error.error == QJsonParseError::NoError,
             qPrintable(error.errorString() + u'\n' + run.describe()));
    const QJsonArray quotas = json[u"quotas"].toArray();
    QCOMPARE(quotas.size(), 2);
    QCOMPARE(quotas.at(0)[u"user"].toString(), QStringLiteral("alice"));
    QCOMPARE(quotas.at(1)[u"user"].toString(), QStringLiteral("bob"));
    QCOMPARE(quotas.at(1)[u"uploads"][u"used"].toInteger(-1), 0);
}

void tst_Cli::sizesPrintAsWritten_data()
{
    QTest::addColumn<QString>("typed");
    QTest::addColumn<QString>("shown");
    QTest::addColumn<qint64>("bytes");

    QTest::newRow("5G") << QStringLiteral("5G") << QStringLiteral("bytes 0 B/5 GiB")
                        << (qint64(5) << 30);
    QTest::newRow("512M") << QStringLiteral("512M") << QStringLiteral("bytes 0 B/512 MiB")
                          << (qint64(512) << 20);
    QTest::newRow("2048K") << QStringLiteral("2048K") << QStringLiteral("bytes 0 B/2 MiB")
                           << (qint64(2) << 20);
    QTest::newRow("1500") << QStringLiteral("1500") << QStringLiteral("bytes 0 B/1500 B")
                          << qint64(1500);
}

void tst_Cli::sizesPrintAsWritten()
{
    QFETCH(QString, typed);
    QFETCH(QString, shown);
    QFETCH(qint64, bytes);

    QCOMPARE(ferryInDataDir({QStringLiteral("user"), QStringLiteral("add"), QStringLiteral("bob")})
                 .exitCode,
             0);
    const Run set = ferryInDataDir({QStringLiteral("quota"), QStringLiteral("set"),
                                    QStringLiteral("bob"), QStringLiteral("--bytes"), typed});
    QVERIFY2(set.exitCode == 0, qPrintable(set.describe()));
    QVERIFY2(set.out.contains(shown.toUtf8()), qPrintable(set.describe()));
    // Exact bytes only when the size is not a whole number of a unit.
    if (!shown.contains(QString::number(bytes)))
        QVERIFY2(!set.out.contains(QByteArray::number(bytes)), qPrintable(set.describe()));
    const Run show = ferryInDataDir({QStringLiteral("quota"), QStringLiteral("show"),
                                     QStringLiteral("bob"), QStringLiteral("--json")});
    QVERIFY2(show.exitCode == 0, qPrintable(show.describe()));
    QCOMPARE(QJsonDocument::fromJson(show.out)[u"bytes"][u"limit"], QJsonValue(bytes));
}

void tst_Cli::listenAcceptsHostName()
{
    QProcessEnvironment env = environment();
    env.insert(QStringLiteral("QT_LOGGING_RULES"), QStringLiteral("ferry.*.info=true"));
    QProcess engine;
    engine.setProcessEnvironment(env);
    engine.setProcessChannelMode(QProcess::MergedChannels);
    engine.start(QStringLiteral(FERRY_BINARY),
                 {QStringLiteral("--headless"), QStringLiteral("--data-dir"), dataDir(),
                  QStringLiteral("--listen"), QStringLiteral("localhost:0")});
    QVERIFY2(engine.waitForStarted(ProcessTimeoutMs), qPrintable(engine.errorString()));
    // localhost is resolved to its loopback address, where the endpoint listens.
    static const QRegularExpression endpoint(
        QStringLiteral("HTTP endpoint on http://127\\.0\\.0\\.1:(\\d+)/api/v1/"));
    QByteArray log;
    QString port;
    Ferry::Test::waitFor(
        [&] {
            log += engine.readAll();
            port = endpoint.match(QString::fromUtf8(log)).captured(1);
            return !port.isEmpty() || engine.state() == QProcess::NotRunning;
        },
        ProcessTimeoutMs);
    engine.terminate();
    if (!engine.waitForFinished(ProcessTimeoutMs))
        engine.kill();
    log += engine.readAll();
    QVERIFY2(!port.isEmpty() && port != u"0", log.constData());
}

void tst_Cli::unresolvableListenHostIsRefused()
{
    const Run run = ferry({QStringLiteral("--headless"), QStringLiteral("--data-dir"), dataDir(),
                           QStringLiteral("--listen"), QStringLiteral("nosuch.invalid:0")});
    QVERIFY2(run.exitCode == 2, qPrintable(run.describe()));
    QVERIFY2(run.err.contains("Cannot resolve the --listen host 'nosuch.invalid'"),
             qPrintable(run.describe()));
}

void tst_Cli::postgresErrorNamesUrlWithoutPassword()
{
    // Nothing listens on port 1: the connection fails at once, and the error names the URL.
    const Run run = ferry({QStringLiteral("--db"),
                           QStringLiteral("postgresql://ferry:s3cret@127.0.0.1:1/ferry_missing"),
                           QStringLiteral("status")});
    QVERIFY2(run.exitCode == 1, qPrintable(run.describe()));
    QVERIFY2(run.err.contains("postgresql://ferry@127.0.0.1:1/ferry_missing"),
             qPrintable(run.describe()));
    QVERIFY2(!run.err.contains("s3cret"), qPrintable(run.describe()));
}

void tst_Cli::postgresWithoutSchemaIsRefused()
{
    if (Ferry::Test::postgresTestUrl().isEmpty())
        QSKIP("needs the PostgreSQL test server: runs as tst_cli_pg (ctest -R tst_cli_pg)");
    QString error;
    const QString url = Ferry::Test::createPostgresTestDatabase(QStringLiteral("cli"), &error);
    QVERIFY2(!url.isEmpty(), qPrintable(error));
    const QString database = QUrl(url).path().mid(1);

    // An empty database is no Ferry store: refused, named, and left empty.
    const Run run = ferry({QStringLiteral("--data-dir"), dataDir(), QStringLiteral("--db"), url,
                           QStringLiteral("quota"), QStringLiteral("list")});
    QVERIFY2(run.exitCode == 2, qPrintable(run.describe()));
    QVERIFY2(run.err.contains("postgresql://") && run.err.contains(database.toUtf8()) &&
                 run.err.contains("no Ferry store"),
             qPrintable(run.describe()));
    const auto tables = readRows(
        url, QStringLiteral("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"), &error);
    QVERIFY2(error.isEmpty(), qPrintable(error));
    QCOMPARE(tables.value(0).value(0).toInt(), 0);

    // `user add` creates the schema, saying so; then the same command works.
    const Run added =
        ferry({QStringLiteral("--data-dir"), dataDir(), QStringLiteral("--db"), url,
               QStringLiteral("user"), QStringLiteral("add"), QStringLiteral("alice")});
    QVERIFY2(added.exitCode == 0 && added.err.contains("created a new one"),
             qPrintable(added.describe()));
    const Run again = ferry({QStringLiteral("--data-dir"), dataDir(), QStringLiteral("--db"), url,
                             QStringLiteral("quota"), QStringLiteral("list")});
    QVERIFY2(again.exitCode == 0 && again.out.contains("alice"), qPrintable(again.describe()));
}
