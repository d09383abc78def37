// ConfigLoader::load: precedence of the command line, FERRY_* environment, <data-dir>/ferry.conf
// and the defaults; the data directory; and the refusal of every bad value with its source.
#include "config/configloader.h"
#include "config/originlist.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QTest>

#include <memory>

using namespace Ferry;

namespace {

using Values = QHash<QString, QString>;

enum class Layer { CommandLine, Environment, File };

QProcessEnvironment environmentOf(const Values &variables)
{
    QProcessEnvironment environment;
    for (auto it = variables.cbegin(); it != variables.cend(); ++it)
        environment.insert(it.key(), it.value());
    return environment;
}

QString environmentName(const QString &option)
{
    return QStringLiteral("FERRY_") + QString(option).replace(u'-', u'_').toUpper();
}

// Writes <dir>/ferry.conf, creating dir.
bool writeConfigFile(const QString &dir, const QByteArray &contents)
{
    if (!QDir().mkpath(dir))
        return false;
    QFile file(dir + QStringLiteral("/ferry.conf"));
    return file.open(QIODevice::WriteOnly | QIODevice::Truncate) &&
           file.write(contents) == contents.size();
}

// The loaded value of one of the options the precedence test walks through the layers.
qint64 loadedValue(const FerryConfig &config, const QString &option)
{
    if (option == u"max-concurrency")
        return config.queue.maxConcurrency;
    if (option == u"lease-seconds")
        return config.queue.leaseMs;
    if (option == u"max-upload-mb")
        return config.maxUploadBytes;
    return -1;
}

// True when text contains word as a whole token, not as part of a longer number or name.
bool containsToken(const QString &text, const QString &word)
{
    const QRegularExpression pattern(
        QStringLiteral("(^|[^\\w])%1($|[^\\w])").arg(QRegularExpression::escape(word)));
    return pattern.match(text).hasMatch();
}

} // namespace

Q_DECLARE_METATYPE(Layer)

class tst_ConfigLoader : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void init();
    void cleanup();

    void precedence_data();
    void precedence();
    void layersMergePerOption();
    void dataDirFromEnvironment();
    void dataDirCommandLineWinsOverEnvironment();
    void dataDirDefault();
    void emptyDataDirRefused();
    void unwritableDataDirRefused_data();
    void unwritableDataDirRefused();
    void badValueRefusedWithSource_data();
    void badValueRefusedWithSource();
    void unknownFileKeyRefused_data();
    void unknownFileKeyRefused();
    void retryCapAgainstBase_data();
    void listFromConfigFile();
    void retryCapAgainstBase();
    void memoryMarks();
    void blobDirDefaultsToTheDataDir(); // uploads reachable from every node: --blob-dir
    void blobStoreFollowsTheBackend();  // --blob-store: the database on PostgreSQL, else files

private:
    QString dataDir() const { return m_dir->path() + QStringLiteral("/data"); }
    Values commandLine() const { return {{QStringLiteral("data-dir"), dataDir()}}; }

    QTemporaryDir m_xdgDataHome;
    std::unique_ptr<QTemporaryDir> m_dir;
};

void tst_ConfigLoader::initTestCase()
{
    QVERIFY(m_xdgDataHome.isValid());
    // The default data dir is created by load(); keep it out of the real home directory.
    qputenv("XDG_DATA_HOME", QFile::encodeName(m_xdgDataHome.path()));
    QVERIFY2(ConfigLoader::defaultDataDir().startsWith(m_xdgDataHome.path()),
             qPrintable(ConfigLoader::defaultDataDir()));
}

void tst_ConfigLoader::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());
}

void tst_ConfigLoader::cleanup()
{
    m_dir.reset();
}

void tst_ConfigLoader::precedence_data()
{
    QTest::addColumn<QString>("option");
    QTest::addColumn<QString>("fileValue"); // empty: not set in that layer
    QTest::addColumn<QString>("environmentValue");
    QTest::addColumn<QString>("commandLineValue");
    QTest::addColumn<qint64>("expected");

    const QString concurrency = QStringLiteral("max-concurrency");
    const QString none;
    QTest::newRow("max-concurrency: default") << concurrency << none << none << none << qint64(3);
    QTest::newRow("max-concurrency: file over default")
        << concurrency << QStringLiteral("5") << none << none << qint64(5);
    QTest::newRow("max-concurrency: environment over default")
        << concurrency << none << QStringLiteral("6") << none << qint64(6);
    QTest::newRow("max-concurrency: environment over file")
        << concurrency << QStringLiteral("5") << QStringLiteral("6") << none << qint64(6);
    QTest::newRow("max-concurrency: command line over file")
        << concurrency << QStringLiteral("5") << none << QStringLiteral("7") << qint64(7);
    QTest::newRow("max-concurrency: command line over environment and file")
        << concurrency << QStringLiteral("5") << QStringLiteral("6") << QStringLiteral("7")
        << qint64(7);

    const QString lease = QStringLiteral("lease-seconds");
    QTest::newRow("lease-seconds: default") << lease << none << none << none << qint64(30'000);
    QTest::newRow("lease-seconds: file over default")
        << lease << QStringLiteral("40") << none << none << qint64(40'000);
    QTest::newRow("lease-seconds: environment over default")
        << lease << none << QStringLiteral("50") << none << qint64(50'000);
    QTest::newRow("lease-seconds: environment over file")
        << lease << QStringLiteral("40") << QStringLiteral("50") << none << qint64(50'000);
    QTest::newRow("lease-seconds: command line over file")
        << lease << QStringLiteral("40") << none << QStringLiteral("60") << qint64(60'000);
    QTest::newRow("lease-seconds: command line over environment and file")
        << lease << QStringLiteral("40") << QStringLiteral("50") << QStringLiteral("60")
        << qint64(60'000);

    const QString upload = QStringLiteral("max-upload-mb");
    QTest::newRow("max-upload-mb: default")
        << upload << none << none << none << (qint64(1024) << 20);
    QTest::newRow("max-upload-mb: command line over file")
        << upload << QStringLiteral("5") << none << QStringLiteral("7") << (qint64(7) << 20);
}

void tst_ConfigLoader::precedence()
{
    QFETCH(QString, option);
    QFETCH(QString, fileValue);
    QFETCH(QString, environmentValue);
    QFETCH(QString, commandLineValue);
    QFETCH(qint64, expected);

    if (!fileValue.isEmpty())
        QVERIFY(writeConfigFile(dataDir(), option.toUtf8() + '=' + fileValue.toUtf8() + '\n'));
    Values environment;
    if (!environmentValue.isEmpty())
        environment.insert(environmentName(option), environmentValue);
    Values cli = commandLine();
    if (!commandLineValue.isEmpty())
        cli.insert(option, commandLineValue);

    const auto config = ConfigLoader::load(cli, environmentOf(environment));
    QVERIFY2(config.ok(), qPrintable(config ? QString() : config.error().toString()));
    QCOMPARE(loadedValue(*config, option), expected);
}

void tst_ConfigLoader::layersMergePerOption()
{
    // Each option takes its own highest layer: one option from the command line does not hide
    // the file's value of another.
    QVERIFY(
        writeConfigFile(dataDir(), "max-concurrency=5\nlease-seconds=40\npoll-interval-ms=200\n"));
    Values cli = commandLine();
    cli.insert(QStringLiteral("lease-seconds"), QStringLiteral("60"));
    const auto config = ConfigLoader::load(
        cli, environmentOf({{QStringLiteral("FERRY_MAX_CONCURRENCY"), QStringLiteral("6")}}));
    QVERIFY2(config.ok(), qPrintable(config ? QString() : config.error().toString()));
    QCOMPARE(config->queue.maxConcurrency, 6);
    QCOMPARE(config->queue.leaseMs, qint64(60'000));
    QCOMPARE(config->queue.pollIntervalMs, qint64(200));
    QCOMPARE(config->queue.shutdownGraceMs, QueueConfig().shutdownGraceMs);
}

void tst_ConfigLoader::blobDirDefaultsToTheDataDir()
{
    auto config = ConfigLoader::load(commandLine(), {});
    QVERIFY2(config.ok(), qPrintable(config ? QString() : config.error().toString()));
    QCOMPARE(config->blobDir, dataDir() + QStringLiteral("/blobs"));
    // Given (here through the environment), it is made absolute; the data dir stays where it is.
    const QString shared = m_dir->path() + QStringLiteral("/shared/../blobs-nfs");
    config = ConfigLoader::load(commandLine(),
                                environmentOf({{QStringLiteral("FERRY_BLOB_DIR"), shared}}));
    QVERIFY2(config.ok(), qPrintable(config ? QString() : config.error().toString()));
    QCOMPARE(config->blobDir, m_dir->path() + QStringLiteral("/blobs-nfs"));
    QCOMPARE(config->dataDir, dataDir());
    Values cli = commandLine();
    cli.insert(QStringLiteral("blob-dir"), QStringLiteral(" "));
    QVERIFY(!ConfigLoader::load(cli, {}).ok());
}

void tst_ConfigLoader::blobStoreFollowsTheBackend()
{
    using Storage = FerryConfig::BlobStorage;
    auto load = [&](const QString &db, const QString &store) {
        Values cli = commandLine();
        if (!db.isEmpty())
            cli.insert(QStringLiteral("db"), db);
        if (!store.isEmpty())
            cli.insert(QStringLiteral("blob-store"), store);
        return ConfigLoader::load(cli, {});
    };
    const QString postgres = QStringLiteral("postgresql://ferry@127.0.0.1:5432/ferry");
    QCOMPARE(load({}, {})->blobStorage, Storage::Files);
    QCOMPARE(load(postgres, {})->blobStorage, Storage::Database);
    QCOMPARE(load(postgres, QStringLiteral("files"))->blobStorage, Storage::Files);
    QCOMPARE(load(postgres, QStringLiteral("Database"))->blobStorage, Storage::Database);
    // SQLite has no tables for uploads: asking for them is a configuration error, named.
    auto refused = load({}, QStringLiteral("database"));
    QVERIFY(!refused.ok());
    QCOMPARE(refused.error().code, ErrorCode::Config);
    QVERIFY2(refused.error().message.contains(u"--blob-store"),
             qPrintable(refused.error().message));
    auto bad = load(postgres, QStringLiteral("nfs"));
    QVERIFY(!bad.ok());
    QVERIFY2(bad.error().toString().contains(u"database or files"),
             qPrintable(bad.error().toString()));
}

void tst_ConfigLoader::dataDirFromEnvironment()
{
    const QString dir = m_dir->path() + QStringLiteral("/from-env/nested");
    QVERIFY(writeConfigFile(dir, "max-concurrency=9\n"));
    const auto config =
        ConfigLoader::load({}, environmentOf({{QStringLiteral("FERRY_DATA_DIR"), dir}}));
    QVERIFY2(config.ok(), qPrintable(config ? QString() : config.error().toString()));
    QCOMPARE(config->dataDir, dir);
    QCOMPARE(config->database.sqlitePath, dir + QStringLiteral("/ferry.db"));
    QCOMPARE(config->queue.maxConcurrency, 9); // the file came from that directory
}

void tst_ConfigLoader::dataDirCommandLineWinsOverEnvironment()
{
    const QString fromEnvironment = m_dir->path() + QStringLiteral("/env-dir");
    const QString fromCommandLine = m_dir->path() + QStringLiteral("/cli-dir");
    QVERIFY(writeConfigFile(fromEnvironment, "max-concurrency=9\nlease-seconds=99\n"));
    QVERIFY(writeConfigFile(fromCommandLine, "max-concurrency=5\n"));

    const auto config =
        ConfigLoader::load({{QStringLiteral("data-dir"), fromCommandLine}},
                           environmentOf({{QStringLiteral("FERRY_DATA_DIR"), fromEnvironment}}));
    QVERIFY2(config.ok(), qPrintable(config ? QString() : config.error().toString()));
    QCOMPARE(config->dataDir, fromCommandLine);
    QCOMPARE(config->database.sqlitePath, fromCommandLine + QStringLiteral("/ferry.db"));
    QCOMPARE(config->queue.maxConcurrency, 5);
    QCOMPARE(config->queue.leaseMs, qint64(30'000)); // the other directory's file is not read
}

void tst_ConfigLoader::dataDirDefault()
{
    const auto config = ConfigLoader::load({}, QProcessEnvironment());
    QVERIFY2(config.ok(), qPrintable(config ? QString() : config.error().toString()));
    QCOMPARE(config->dataDir, ConfigLoader::defaultDataDir());
    QVERIFY(QFileInfo(config->dataDir).isDir());
    QCOMPARE(config->database.sqlitePath, config->dataDir + QStringLiteral("/ferry.db"));
}

void tst_ConfigLoader::emptyDataDirRefused()
{
    const auto config =
        ConfigLoader::load({{QStringLiteral("data-dir"), QString()}}, QProcessEnvironment());
    QVERIFY(!config.ok());
    QCOMPARE(config.error().code, ErrorCode::Config);
}

void tst_ConfigLoader::unwritableDataDirRefused_data()
{
    QTest::addColumn<QString>("relativePath");
    QTest::addColumn<Layer>("layer");

    // Tests run as root in CI, where permission bits stop nothing; a path through a regular
    // file cannot become a directory for anyone.
    QTest::newRow("below a file, --data-dir") << QStringLiteral("afile/sub") << Layer::CommandLine;
    QTest::newRow("below a file, FERRY_DATA_DIR")
        << QStringLiteral("afile/sub") << Layer::Environment;
    QTest::newRow("a file itself") << QStringLiteral("afile") << Layer::CommandLine;
}

void tst_ConfigLoader::unwritableDataDirRefused()
{
    QFETCH(QString, relativePath);
    QFETCH(Layer, layer);

    QFile file(m_dir->path() + QStringLiteral("/afile"));
    QVERIFY(file.open(QIODevice::WriteOnly));
    file.close();
    const QString dir = m_dir->path() + u'/' + relativePath;

    const auto config =
        layer == Layer::CommandLine
            ? ConfigLoader::load({{QStringLiteral("data-dir"), dir}}, QProcessEnvironment())
            : ConfigLoader::load({}, environmentOf({{QStringLiteral("FERRY_DATA_DIR"), dir}}));
    QVERIFY(!config.ok());
    QCOMPARE(config.error().code, ErrorCode::Config);
    QVERIFY2(config.error().message.contains(dir), qPrintable(config.error().message));
    QVERIFY(QFileInfo(m_dir->path() + QStringLiteral("/afile")).isFile());
}

void tst_ConfigLoader::badValueRefusedWithSource_data()
{
    QTest::addColumn<QString>("option");
    QTest::addColumn<QString>("value");
    QTest::addColumn<Layer>("layer");

    const QList<std::pair<QString, QString>> bad{
        {QStringLiteral("max-concurrency"), QStringLiteral("0")},
        {QStringLiteral("max-concurrency"), QStringLiteral("65")},
        {QStringLiteral("max-concurrency"), QStringLiteral("abc")},
        {QStringLiteral("lease-seconds"), QStringLiteral("1")},
        {QStringLiteral("listen"), QStringLiteral("nonsense")},
        {QStringLiteral("listen"), QStringLiteral("127.0.0.1:70000")},
        {QStringLiteral("sqlite-synchronous"), QStringLiteral("sometimes")},
        {QStringLiteral("db"), QStringLiteral("postgresql://")},
        {QStringLiteral("db"), QStringLiteral("postgresql:/typo")}, // not a new SQLite file
        {QStringLiteral("db"), QStringLiteral("mysql://host/db")},
        {QStringLiteral("db-max-connections"), QStringLiteral("0")}, // connection pool bound
        {QStringLiteral("max-upload-mb"), QStringLiteral("0")},
        {QStringLiteral("cors-origins"), QStringLiteral("https://a.example/path")},
        {QStringLiteral("cors-origins"), QStringLiteral("*")},
        {QStringLiteral("metrics-allow"), QStringLiteral("everyone")},
    };
    for (const auto &[option, value] : bad) {
        QTest::addRow("%s=%s via --%s", qPrintable(option), qPrintable(value), qPrintable(option))
            << option << value << Layer::CommandLine;
        QTest::addRow("%s=%s via %s", qPrintable(option), qPrintable(value),
                      qPrintable(environmentName(option)))
            << option << value << Layer::Environment;
        QTest::addRow("%s=%s via ferry.conf", qPrintable(option), qPrintable(value))
            << option << value << Layer::File;
    }
}

void tst_ConfigLoader::badValueRefusedWithSource()
{
    QFETCH(QString, option);
    QFETCH(QString, value);
    QFETCH(Layer, layer);

    Values cli = commandLine();
    Values environment;
    QString origin;
    switch (layer) {
    case Layer::CommandLine:
        cli.insert(option, value);
        origin = QStringLiteral("--") + option;
        break;
    case Layer::Environment:
        environment.insert(environmentName(option), value);
        origin = environmentName(option);
        break;
    case Layer::File:
        QVERIFY(writeConfigFile(dataDir(), option.toUtf8() + '=' + value.toUtf8() + '\n'));
        origin = dataDir() + QStringLiteral("/ferry.conf");
        break;
    }

    const auto config = ConfigLoader::load(cli, environmentOf(environment));
    QVERIFY2(!config.ok(), "a bad value was accepted");
    QCOMPARE(config.error().code, ErrorCode::Config);
    const QString message = config.error().message;
    QVERIFY2(message.contains(option), qPrintable(message));
    QVERIFY2(containsToken(message, value), qPrintable(message));
    QVERIFY2(message.contains(origin), qPrintable(message + QStringLiteral(" lacks ") + origin));
}

void tst_ConfigLoader::unknownFileKeyRefused_data()
{
    QTest::addColumn<QByteArray>("contents");
    QTest::addColumn<QString>("key");

    QTest::newRow("misspelt") << QByteArray("max-concurrency=4\nmax-concurency=5\n")
                              << QStringLiteral("max-concurency");
    QTest::newRow("environment-style name")
        << QByteArray("FERRY_MAX_CONCURRENCY=4\n") << QStringLiteral("FERRY_MAX_CONCURRENCY");
    QTest::newRow("inside a section")
        << QByteArray("[queue]\nmax-concurrency=4\n") << QStringLiteral("queue/max-concurrency");
}

void tst_ConfigLoader::unknownFileKeyRefused()
{
    QFETCH(QByteArray, contents);
    QFETCH(QString, key);

    QVERIFY(writeConfigFile(dataDir(), contents));
    const auto config = ConfigLoader::load(commandLine(), QProcessEnvironment());
    QVERIFY2(!config.ok(), "an unknown key was accepted");
    QCOMPARE(config.error().code, ErrorCode::Config);
    QVERIFY2(containsToken(config.error().message, key), qPrintable(config.error().message));
    QVERIFY2(config.error().message.contains(QStringLiteral("ferry.conf")),
             qPrintable(config.error().message));
}

// INI reads "a, b" as a list: the comma-separated options must still get the whole text.
void tst_ConfigLoader::listFromConfigFile()
{
    QVERIFY(writeConfigFile(dataDir(), "cors-origins=https://a.example, http://b.example:8080\n"
                                       "metrics-allow=any\n"));
    const auto config = ConfigLoader::load(commandLine(), environmentOf({}));
    QVERIFY2(config.ok(), config.ok() ? "" : qPrintable(config.error().toString()));
    const auto origins = parseOriginList(config->corsOrigins);
    QVERIFY(origins.ok());
    QCOMPARE(*origins, (QByteArrayList{"https://a.example", "http://b.example:8080"}));
    QVERIFY(config->metricsAnyClient);
}

void tst_ConfigLoader::retryCapAgainstBase_data()
{
    QTest::addColumn<Values>("commandLineValues");
    QTest::addColumn<Values>("environment");
    QTest::addColumn<QByteArray>("file");
    QTest::addColumn<bool>("accepted");

    const QString base = QStringLiteral("retry-base-ms");
    const QString cap = QStringLiteral("retry-cap-ms");
    QTest::newRow("cap below base, command line")
        << Values{{base, QStringLiteral("5000")}, {cap, QStringLiteral("1000")}} << Values{}
        << QByteArray() << false;
    QTest::newRow("base above the default cap, environment")
        << Values{} << Values{{QStringLiteral("FERRY_RETRY_BASE_MS"), QStringLiteral("700000")}}
        << QByteArray() << false;
    QTest::newRow("cap below base, file")
        << Values{} << Values{} << QByteArray("retry-base-ms=20\nretry-cap-ms=10\n") << false;
    QTest::newRow("cap below base, across layers")
        << Values{{cap, QStringLiteral("100")}} << Values{} << QByteArray("retry-base-ms=200\n")
        << false;
    QTest::newRow("cap equal to base")
        << Values{{base, QStringLiteral("1000")}, {cap, QStringLiteral("1000")}} << Values{}
        << QByteArray() << true;
}

void tst_ConfigLoader::retryCapAgainstBase()
{
    QFETCH(Values, commandLineValues);
    QFETCH(Values, environment);
    QFETCH(QByteArray, file);
    QFETCH(bool, accepted);

    if (!file.isEmpty())
        QVERIFY(writeConfigFile(dataDir(), file));
    Values cli = commandLine();
    cli.insert(commandLineValues);

    const auto config = ConfigLoader::load(cli, environmentOf(environment));
    if (accepted) {
        QVERIFY2(config.ok(), qPrintable(config ? QString() : config.error().toString()));
        QCOMPARE(config->queue.backoffCapMs, config->queue.backoffBaseMs);
        return;
    }
    QVERIFY2(!config.ok(), "a retry cap below the base was accepted");
    QCOMPARE(config.error().code, ErrorCode::Config);
    QVERIFY2(config.error().message.contains(QStringLiteral("retry-cap-ms")),
             qPrintable(config.error().message));
    QVERIFY2(config.error().message.contains(QStringLiteral("retry-base-ms")),
             qPrintable(config.error().message));
}

// Resource monitor: the adaptive-concurrency marks, their defaults, and low below high.
void tst_ConfigLoader::memoryMarks()
{
    constexpr qint64 MB = qint64(1) << 20;
    auto defaults = ConfigLoader::load(commandLine(), QProcessEnvironment());
    QVERIFY2(defaults.ok(), qPrintable(defaults ? QString() : defaults.error().toString()));
    QCOMPARE(defaults->memoryHighBytes, 500 * MB);
    QCOMPARE(defaults->memoryLowBytes, 400 * MB);
    QCOMPARE(defaults->memoryHoldSeconds, qint64(30));

    Values cli = commandLine();
    cli.insert(QStringLiteral("memory-high-mb"), QStringLiteral("800"));
    cli.insert(QStringLiteral("memory-low-mb"), QStringLiteral("600"));
    auto set = ConfigLoader::load(
        cli, environmentOf({{QStringLiteral("FERRY_MEMORY_HOLD_SECONDS"), QStringLiteral("10")}}));
    QVERIFY2(set.ok(), qPrintable(set ? QString() : set.error().toString()));
    QCOMPARE(set->memoryHighBytes, 800 * MB);
    QCOMPARE(set->memoryLowBytes, 600 * MB);
    QCOMPARE(set->memoryHoldSeconds, qint64(10));

    cli.insert(QStringLiteral("memory-low-mb"), QStringLiteral("800"));
    auto refused = ConfigLoader::load(cli, QProcessEnvironment());
    QVERIFY2(!refused.ok(), "a low-water mark equal to the high-water mark was accepted");
    QCOMPARE(refused.error().code, ErrorCode::Config);
    QVERIFY2(refused.error().message.contains(QStringLiteral("memory-low-mb")) &&
                 refused.error().message.contains(QStringLiteral("memory-high-mb")),
             qPrintable(refused.error().message));
}

QTEST_GUILESS_MAIN(tst_ConfigLoader)
#include "tst_configloader.moc"
