// Several real `ferry --headless` nodes on one PostgreSQL database (issue 7's cluster tests):
// - three nodes share 10,000 jobs (migrations and no-ops); one is killed with SIGKILL mid-run;
//   afterwards every job is terminal exactly once and every dataset row exists exactly once;
// - a node cut off from the database (its connection runs through a relay that the test freezes)
//   loses its lease to another node and, once reconnected, commits nothing it no longer holds.
#include "pgtestsupport.h"

#include <QDir>
#include <QFile>
#include <QProcess>
#include <QRandomGenerator>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTest>
#include <QUrl>

#include <memory>
#include <vector>

namespace {

constexpr int CommandTimeoutMs = 120'000;
constexpr int RunTimeoutMs = 300'000;

// A TCP relay between one node and the database that the test can freeze: while frozen it
// neither forwards nor closes anything, like a network partition (the node's statements hang
// instead of failing at once).
class FreezableRelay final : public QObject
{
public:
    explicit FreezableRelay(quint16 targetPort) : m_targetPort(targetPort)
    {
        QObject::connect(&m_server, &QTcpServer::newConnection, this, [this] { accept(); });
    }
    bool listen() { return m_server.listen(QHostAddress::LocalHost, 0); }
    quint16 port() const { return m_server.serverPort(); }
    void setFrozen(bool frozen)
    {
        m_frozen = frozen;
        if (!frozen)
            pumpAll();
    }

private:
    struct Pair
    {
        QTcpSocket *client = nullptr;
        QTcpSocket *upstream = nullptr;
    };

    void accept()
    {
        while (QTcpSocket *client = m_server.nextPendingConnection()) {
            auto *upstream = new QTcpSocket(this);
            client->setParent(this);
            m_pairs.push_back({client, upstream});
            const auto pump = [this] {
                if (!m_frozen)
                    pumpAll();
            };
            QObject::connect(client, &QTcpSocket::readyRead, this, pump);
            QObject::connect(upstream, &QTcpSocket::readyRead, this, pump);
            QObject::connect(upstream, &QTcpSocket::connected, this, pump);
            QObject::connect(client, &QTcpSocket::disconnected, upstream,
                             &QTcpSocket::disconnectFromHost);
            QObject::connect(upstream, &QTcpSocket::disconnected, client,
                             &QTcpSocket::disconnectFromHost);
            upstream->connectToHost(QHostAddress::LocalHost, m_targetPort);
        }
    }
    void pumpAll()
    {
        for (const Pair &pair : m_pairs) {
            if (pair.upstream->state() == QAbstractSocket::ConnectedState) {
                if (pair.client->bytesAvailable() > 0)
                    pair.upstream->write(pair.client->readAll());
                if (pair.upstream->bytesAvailable() > 0)
                    pair.client->write(pair.upstream->readAll());
            }
        }
    }

    QTcpServer m_server;
    quint16 m_targetPort;
    bool m_frozen = false;
    std::vector<Pair> m_pairs;
};

QByteArray csvRows(int firstId, int count)
{
    QByteArray out = "id,name,city\n";
    out.reserve(count * 28);
    for (int id = firstId; id < firstId + count; ++id)
        out += QByteArray::number(id) + ",Name " + QByteArray::number(id) + ",Oslo\n";
    return out;
}

const QString Mapping = QStringLiteral("{\"fields\":[{\"name\":\"id\",\"type\":\"integer\"},{"
                                       "\"name\":\"name\"},{\"name\":\"city\"}]}");

} // namespace

class tst_ClusterFailover : public QObject
{
    Q_OBJECT

private:
    QProcessEnvironment environment() const
    {
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QStringLiteral("QT_QPA_PLATFORM"), QStringLiteral("offscreen"));
        env.insert(QStringLiteral("XDG_RUNTIME_DIR"), m_dir.path());
        env.insert(QStringLiteral("XDG_DATA_HOME"), m_dir.path() + QStringLiteral("/xdg"));
        return env;
    }
    // Nodes on one machine share the data directory (their ferry.conf); uploads are in the
    // database, the only thing they coordinate through.
    QString dataDir() const { return m_dir.path() + QStringLiteral("/data"); }

    QString cli(const QString &dbUrl, const QStringList &args, int *exitCode)
    {
        QProcess process;
        process.setProcessEnvironment(environment());
        process.setProcessChannelMode(QProcess::MergedChannels);
        process.start(
            QStringLiteral(FERRY_BINARY),
            QStringList{QStringLiteral("--data-dir"), dataDir(), QStringLiteral("--db"), dbUrl} +
                args);
        const bool finished = process.waitForFinished(CommandTimeoutMs);
        *exitCode =
            finished && process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -1;
        return QString::fromUtf8(process.readAll());
    }

    std::unique_ptr<QProcess> startNode(const QString &dbUrl)
    {
        auto node = std::make_unique<QProcess>();
        node->setProcessEnvironment(environment());
        node->setProcessChannelMode(QProcess::MergedChannels);
        node->start(QStringLiteral(FERRY_BINARY),
                    {QStringLiteral("--headless"), QStringLiteral("--listen"),
                     QStringLiteral("127.0.0.1:0"), QStringLiteral("--data-dir"), dataDir(),
                     QStringLiteral("--db"), dbUrl, QStringLiteral("--poll-interval-ms"),
                     QStringLiteral("50"), QStringLiteral("--lease-seconds"), QStringLiteral("3"),
                     QStringLiteral("--max-concurrency"), QStringLiteral("4")});
        return node;
    }

    bool openDatabase(const QString &url)
    {
        m_db = Ferry::Test::openPostgres(url, QStringLiteral("check-%1").arg(++m_connections));
        return m_db.isOpen();
    }

    qint64 scalar(const QString &sql, const QVariantList &binds = {})
    {
        QSqlQuery query(m_db);
        query.prepare(sql);
        for (const QVariant &value : binds)
            query.addBindValue(value);
        if (!query.exec() || !query.next()) {
            qWarning() << "query failed:" << sql << query.lastError().text();
            return -1;
        }
        return query.value(0).toLongLong();
    }

    static QString nodePattern(const QProcess &process)
    {
        // makeNodeId(): host:pid:random.
        return QStringLiteral("%:%1:%").arg(process.processId());
    }

    QString writeCsv(const QString &name, int firstId, int count)
    {
        const QString path = m_dir.path() + QLatin1Char('/') + name;
        QFile file(path);
        if (!file.open(QIODevice::WriteOnly) || file.write(csvRows(firstId, count)) < 0)
            return {};
        return path;
    }

    QTemporaryDir m_dir;
    QSqlDatabase m_db;
    int m_connections = 0;

private Q_SLOTS:
    void init()
    {
        QVERIFY(m_dir.isValid());
        if (Ferry::Test::postgresTestUrl().isEmpty())
            QSKIP("no PostgreSQL test server (run through ctest, which starts one)");
    }

    void cleanup()
    {
        const QString name = m_db.connectionName();
        m_db = QSqlDatabase();
        QSqlDatabase::removeDatabase(name);
    }

    void killedNodesJobsFinishElsewhereExactlyOnce()
    {
        QString error;
        const QString url =
            Ferry::Test::createPostgresTestDatabase(QStringLiteral("failover"), &error);
        QVERIFY2(!url.isEmpty(), qPrintable(error));
        int code = 0;
        QString out = cli(
            url, {QStringLiteral("user"), QStringLiteral("add"), QStringLiteral("alice")}, &code);
        QVERIFY2(code == 0, qPrintable(out));
        QVERIFY(openDatabase(url));

        // 10,000 jobs: 12 migrations of 20,000 rows (ids unique across files), 300 short sleeps
        // (so nodes hold running jobs at the kill), the rest no-ops.
        constexpr int Files = 12;
        constexpr int RowsPerFile = 20'000;
        constexpr int Sleeps = 300;
        constexpr int Jobs = 10'000;
        constexpr int Noops = Jobs - Files - Sleeps;
        std::vector<std::unique_ptr<QProcess>> nodes;
        for (int i = 0; i < 3; ++i) {
            nodes.push_back(startNode(url));
            QVERIFY(nodes.back()->waitForStarted());
        }
        for (int f = 0; f < Files; ++f) {
            const QString csv =
                writeCsv(QStringLiteral("part%1.csv").arg(f), 1 + f * RowsPerFile, RowsPerFile);
            QVERIFY(!csv.isEmpty());
            out = cli(url,
                      {QStringLiteral("import"), csv, QStringLiteral("--dataset"),
                       QStringLiteral("people"), QStringLiteral("--user"), QStringLiteral("alice"),
                       QStringLiteral("--mapping"), Mapping},
                      &code);
            QVERIFY2(code == 0, qPrintable(out));
        }
        out = cli(url,
                  {QStringLiteral("enqueue"), QStringLiteral("sleep"), QStringLiteral("--user"),
                   QStringLiteral("alice"), QStringLiteral("--count"), QString::number(Sleeps),
                   QStringLiteral("--payload"), QStringLiteral("{\"ms\": 20}")},
                  &code);
        QVERIFY2(code == 0, qPrintable(out));
        out = cli(url,
                  {QStringLiteral("enqueue"), QStringLiteral("noop"), QStringLiteral("--user"),
                   QStringLiteral("alice"), QStringLiteral("--count"), QString::number(Noops)},
                  &code);
        QVERIFY2(code == 0, qPrintable(out));
        QCOMPARE(scalar(QStringLiteral("SELECT count(*) FROM jobs")), Jobs);

        // Kill the first node while it holds running jobs and the import is under way.
        QProcess &victim = *nodes.front();
        const QString victimNode = nodePattern(victim);
        QTRY_VERIFY_WITH_TIMEOUT(
            scalar(QStringLiteral("SELECT count(*) FROM jobs WHERE status = 'running' "
                                  "AND lease_owner LIKE ?"),
                   {victimNode}) > 0 &&
                scalar(QStringLiteral("SELECT count(*) FROM records")) > 0,
            RunTimeoutMs);
        // The victim's sessions are named after it (DatabaseConfig::sessionNameFor).
        const QString victimSessions = QStringLiteral("ferry/") + victimNode;
        const QString sessionCount =
            QStringLiteral("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                           "current_database() AND application_name LIKE ?");
        QVERIFY(scalar(sessionCount, {victimSessions}) > 0);
        const qint64 victimPid = victim.processId();
        victim.kill();
        QVERIFY(victim.waitForFinished(CommandTimeoutMs));
        QCOMPARE(victim.exitStatus(), QProcess::CrashExit);
        // A dispatch cycle is one statement: one the victim sent just before the kill still runs
        // and commits on the server (CI, under ASan: its settle finished jobs after the count).
        // Count what the victim held once none of its sessions is left.
        QTRY_COMPARE_WITH_TIMEOUT(scalar(sessionCount, {victimSessions}), 0, CommandTimeoutMs);
        const qint64 heldAtKill =
            scalar(QStringLiteral("SELECT count(*) FROM jobs WHERE status = 'running' "
                                  "AND lease_owner LIKE ?"),
                   {victimNode});
        qInfo() << "killed node pid" << victimPid << "holding" << heldAtKill << "running jobs";

        QTRY_COMPARE_WITH_TIMEOUT(
            scalar(
                QStringLiteral("SELECT count(*) FROM jobs WHERE status IN ('pending', 'running')")),
            0, RunTimeoutMs);

        // Every job terminal, and completed exactly once.
        QCOMPARE(scalar(QStringLiteral("SELECT count(*) FROM jobs WHERE status = 'completed'")),
                 Jobs);
        QCOMPARE(scalar(QStringLiteral("SELECT count(DISTINCT job_id) FROM job_attempts "
                                       "WHERE outcome = 'completed'")),
                 Jobs);
        QCOMPARE(scalar(QStringLiteral("SELECT count(*) FROM job_attempts "
                                       "WHERE outcome = 'completed'")),
                 Jobs);
        // The jobs the dead node held came back through a rescue: their attempts are 'lost'.
        if (heldAtKill > 0) {
            QVERIFY(scalar(QStringLiteral("SELECT count(*) FROM job_attempts "
                                          "WHERE outcome = 'lost' AND node LIKE ?"),
                           {victimNode}) >= heldAtKill);
        }
        // Every row exactly once.
        constexpr qint64 Rows = qint64(Files) * RowsPerFile;
        QCOMPARE(scalar(QStringLiteral("SELECT count(*) FROM records")), Rows);
        QCOMPARE(scalar(QStringLiteral("SELECT count(DISTINCT (doc::jsonb ->> 'id')) FROM "
                                       "records")),
                 Rows);
        QCOMPARE(scalar(QStringLiteral("SELECT min((doc::jsonb ->> 'id')::bigint) FROM records")),
                 1);
        QCOMPARE(scalar(QStringLiteral("SELECT max((doc::jsonb ->> 'id')::bigint) FROM records")),
                 Rows);
        // Both survivors did work.
        for (size_t i = 1; i < nodes.size(); ++i) {
            QVERIFY(scalar(QStringLiteral("SELECT count(*) FROM job_attempts WHERE node LIKE ?"),
                           {nodePattern(*nodes[i])}) > 0);
            nodes[i]->terminate();
        }
        for (size_t i = 1; i < nodes.size(); ++i) {
            QVERIFY(nodes[i]->waitForFinished(CommandTimeoutMs));
            QCOMPARE(nodes[i]->exitCode(), 0);
        }
    }

    void nodeCutOffFromTheDatabaseCommitsNothingItNoLongerHolds()
    {
        QString error;
        const QString url =
            Ferry::Test::createPostgresTestDatabase(QStringLiteral("cutoff"), &error);
        QVERIFY2(!url.isEmpty(), qPrintable(error));
        QVERIFY(openDatabase(url));
        int code = 0;
        QString out = cli(
            url, {QStringLiteral("user"), QStringLiteral("add"), QStringLiteral("alice")}, &code);
        QVERIFY2(code == 0, qPrintable(out));

        // Node A reaches the database only through the relay.
        FreezableRelay relay(quint16(QUrl(url).port()));
        QVERIFY(relay.listen());
        QUrl relayed(url);
        relayed.setPort(relay.port());
        auto nodeA = startNode(relayed.toString());
        QVERIFY(nodeA->waitForStarted());

        constexpr int Rows = 400'000;
        const QString csv = writeCsv(QStringLiteral("big.csv"), 1, Rows);
        QVERIFY(!csv.isEmpty());
        out = cli(url,
                  {QStringLiteral("import"), csv, QStringLiteral("--dataset"),
                   QStringLiteral("people"), QStringLiteral("--user"), QStringLiteral("alice"),
                   QStringLiteral("--mapping"), Mapping},
                  &code);
        QVERIFY2(code == 0, qPrintable(out));

        // A runs the import; cut it off once some of it is committed.
        QTRY_VERIFY_WITH_TIMEOUT(
            scalar(QStringLiteral("SELECT coalesce(max(rows_imported), 0) FROM "
                                  "migration_checkpoints")) > 0,
            RunTimeoutMs);
        QCOMPARE(scalar(QStringLiteral("SELECT count(*) FROM jobs WHERE lease_owner LIKE ?"),
                        {nodePattern(*nodeA)}),
                 1);
        relay.setFrozen(true);
        qInfo() << "relay frozen";
        const qint64 rowsAtCut = scalar(QStringLiteral("SELECT count(*) FROM records"));
        if (rowsAtCut >= Rows)
            QSKIP("the import finished before the cut; nothing to fence on this machine");

        // B takes the job over once A's lease has expired, resumes it and finishes it.
        auto nodeB = startNode(url);
        QVERIFY(nodeB->waitForStarted());
        QTRY_COMPARE_WITH_TIMEOUT(
            scalar(QStringLiteral("SELECT count(*) FROM jobs WHERE status = 'completed'")), 1,
            RunTimeoutMs);
        qInfo() << "node B finished the job";
        QCOMPARE(scalar(QStringLiteral("SELECT count(*) FROM job_attempts WHERE outcome = 'lost' "
                                       "AND node LIKE ?"),
                        {nodePattern(*nodeA)}),
                 1);

        // A comes back. Whatever it still had in flight must be refused by the lease token: let
        // it run until it has noticed (its log says so), then stop it, and only then count, so
        // anything it might still write is included.
        relay.setFrozen(false);
        qInfo() << "relay thawed";
        QByteArray logA;
        const bool noticed = QTest::qWaitFor(
            [&] { return (logA += nodeA->readAll()).contains("lost its lease"); }, 60'000);
        // A usually finds out at its next lease renewal and stops the job. Not always: when the
        // cut caught it inside a transaction, the server ended that session after 30 s idle,
        // A's import failed with a storage error and was handed back (refused by the token)
        // before any renewal. Either way nothing may be written, which is what is checked.
        qInfo() << "node A logged the lost lease:" << noticed;
        // Waits in the event loop, not in waitForFinished(): the relay must keep pumping.
        nodeA->terminate();
        QTRY_VERIFY_WITH_TIMEOUT(nodeA->state() == QProcess::NotRunning, CommandTimeoutMs);
        logA += nodeA->readAll();
        qInfo().noquote() << "node A after the cut:" << QString::fromUtf8(logA.right(2000));
        QCOMPARE(scalar(QStringLiteral("SELECT count(*) FROM records")), Rows);
        QCOMPARE(scalar(QStringLiteral("SELECT count(DISTINCT (doc::jsonb ->> 'id')) FROM "
                                       "records")),
                 Rows);
        QCOMPARE(scalar(QStringLiteral("SELECT count(*) FROM jobs WHERE status = 'completed'")), 1);
        QCOMPARE(scalar(QStringLiteral("SELECT count(*) FROM job_attempts "
                                       "WHERE outcome = 'completed'")),
                 1);
        QCOMPARE(scalar(QStringLiteral("SELECT count(*) FROM job_attempts WHERE outcome = "
                                       "'completed' AND node LIKE ?"),
                        {nodePattern(*nodeB)}),
                 1);
        QCOMPARE(
            scalar(QStringLiteral("SELECT (result::jsonb ->> 'rowsImported')::bigint FROM jobs")),
            Rows);

        nodeB->terminate();
        QVERIFY(nodeB->waitForFinished(CommandTimeoutMs));
    }
};

QTEST_GUILESS_MAIN(tst_ClusterFailover)
#include "tst_clusterfailover.moc"
