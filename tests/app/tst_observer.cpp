// `ferry --observe` (issue 16): a console on a cluster's PostgreSQL that does not join it as a
// worker. Two real `ferry --headless` nodes and an observer, on the test server:
// - the observer is registered with role 'observer', never takes the leader lease (not even
//   alone), runs no job and listens on no port (its process's sockets, read from /proc);
// - what the operator does in it (pause, resume, cancel, reprioritise, retry, a user's quota)
//   every node obeys, and a job that fails on a node is a notice in it;
// - its charts are the cluster's: both nodes' persisted samples, summed;
// - the real binary: `ferry --observe` registers as an observer, stops cleanly, and refuses
//   SQLite and --headless with a usage error.
// The observer runs in this process as `ferry --observe` builds it (app/enginehost, MainWindow).
#include "config/configloader.h"
#include "enginehost.h"
#include "httpclient.h"
#include "pgtestsupport.h"
#include "store/consolerecords.h"
#include "ui/attention/attention.h"
#include "ui/mainwindow.h"

#include <QAction>
#include <QApplication>
#include <QDateTime>
#include <QDir>
#include <QJsonDocument>
#include <QLabel>
#include <QNetworkAccessManager>
#include <QProcess>
#include <QSignalSpy>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTest>
#include <QUrl>

#include <unistd.h>

#include <memory>
#include <vector>

using namespace Ferry;
using namespace Ferry::Test;

namespace {

constexpr int CommandTimeoutMs = 120'000;

// Inodes of the TCP sockets in LISTEN state on this machine (/proc/net/tcp and tcp6).
QSet<QByteArray> listeningInodes()
{
    QSet<QByteArray> inodes;
    for (const char *table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
        QFile file(QString::fromLatin1(table));
        if (!file.open(QIODevice::ReadOnly))
            continue;
        file.readLine(); // the header
        while (!file.atEnd()) {
            const QList<QByteArray> fields = file.readLine().simplified().split(' ');
            if (fields.size() > 9 && fields.at(3) == "0A")
                inodes.insert(fields.at(9));
        }
    }
    return inodes;
}

// How many listening TCP sockets the process holds: its descriptors that are sockets
// ("socket:[inode]") in LISTEN state.
int listeningSocketsOf(qint64 pid)
{
    const QSet<QByteArray> listening = listeningInodes();
    const QDir fds(QStringLiteral("/proc/%1/fd").arg(pid));
    int count = 0;
    for (const QString &fd :
         fds.entryList(QDir::AllEntries | QDir::System | QDir::NoDotAndDotDot)) {
        char target[256];
        const QByteArray path = fds.filePath(fd).toLocal8Bit();
        const ssize_t length = ::readlink(path.constData(), target, sizeof(target) - 1);
        if (length <= 0)
            continue;
        const QByteArray link(target, int(length));
        if (link.startsWith("socket:[") && listening.contains(link.mid(8, link.size() - 9)))
            ++count;
    }
    return count;
}

} // namespace

class tst_Observer : public QObject
{
    Q_OBJECT

private:
    QProcessEnvironment environment() const
    {
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QStringLiteral("QT_QPA_PLATFORM"), QStringLiteral("offscreen"));
        env.insert(QStringLiteral("XDG_RUNTIME_DIR"), m_dir.path());
        env.insert(QStringLiteral("XDG_CONFIG_HOME"), m_dir.path() + QStringLiteral("/config"));
        env.insert(QStringLiteral("XDG_DATA_HOME"), m_dir.path() + QStringLiteral("/xdg"));
        return env;
    }
    QString dataDir(const QString &name) const { return m_dir.path() + u'/' + name; }

    // Standard output and error together, or (stdoutOnly) standard output alone.
    QString cli(const QStringList &args, int *exitCode, bool stdoutOnly = false)
    {
        QProcess process;
        process.setProcessEnvironment(environment());
        if (!stdoutOnly)
            process.setProcessChannelMode(QProcess::MergedChannels);
        process.start(QStringLiteral(FERRY_BINARY),
                      QStringList{QStringLiteral("--data-dir"), dataDir(QStringLiteral("cli"))} +
                          args);
        const bool finished = process.waitForFinished(CommandTimeoutMs);
        *exitCode =
            finished && process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -1;
        return QString::fromUtf8(process.readAll());
    }

    // A worker node: its own data directory (uploads live in the database).
    std::unique_ptr<QProcess> startNode(const QString &name)
    {
        auto node = std::make_unique<QProcess>();
        node->setProcessEnvironment(environment());
        node->setProcessChannelMode(QProcess::MergedChannels);
        node->start(QStringLiteral(FERRY_BINARY),
                    {QStringLiteral("--headless"), QStringLiteral("--listen"),
                     QStringLiteral("127.0.0.1:0"), QStringLiteral("--data-dir"), dataDir(name),
                     QStringLiteral("--db"), m_url, QStringLiteral("--poll-interval-ms"),
                     QStringLiteral("50"), QStringLiteral("--max-concurrency"),
                     QStringLiteral("4")});
        return node;
    }

    bool openDatabase()
    {
        m_db = openPostgres(m_url, QStringLiteral("check"));
        return m_db.isOpen();
    }

    QVariant value(const QString &sql, const QVariantList &binds = {})
    {
        QSqlQuery query(m_db);
        query.prepare(sql);
        for (const QVariant &bind : binds)
            query.addBindValue(bind);
        if (!query.exec() || !query.next())
            return {};
        return query.value(0);
    }
    qint64 count(const QString &sql, const QVariantList &binds = {})
    {
        const QVariant v = value(sql, binds);
        return v.isValid() ? v.toLongLong() : -1;
    }

    QString enqueue(const QString &type, int n, const QString &payload = QStringLiteral("{}"))
    {
        int code = 0;
        const QString out =
            cli({QStringLiteral("--db"), m_url, QStringLiteral("enqueue"), type,
                 QStringLiteral("--user"), QStringLiteral("alice"), QStringLiteral("--count"),
                 QString::number(n), QStringLiteral("--payload"), payload},
                &code);
        return code == 0 ? QString() : out;
    }

    QTemporaryDir m_dir;
    QString m_url;
    QSqlDatabase m_db;

private Q_SLOTS:
    void init()
    {
        QVERIFY(m_dir.isValid());
        if (postgresTestUrl().isEmpty())
            QSKIP("no PostgreSQL test server (run through ctest, which starts one)");
        QString error;
        m_url = createPostgresTestDatabase(QStringLiteral("observer"), &error);
        QVERIFY2(!m_url.isEmpty(), qPrintable(error));
    }

    void cleanup()
    {
        m_db = QSqlDatabase();
        QSqlDatabase::removeDatabase(QStringLiteral("check"));
    }

    void observerSteersTheClusterAndRunsNothing()
    {
        int code = 0;
        QString out =
            cli({QStringLiteral("--db"), m_url, QStringLiteral("user"), QStringLiteral("add"),
                 QStringLiteral("alice"), QStringLiteral("--json")},
                &code, true);
        QVERIFY2(code == 0, qPrintable(out));
        const QByteArray token =
            QJsonDocument::fromJson(out.toUtf8()).object().value(u"token").toString().toUtf8();
        QVERIFY(!token.isEmpty());
        QVERIFY(openDatabase());

        // The observer, as `ferry --observe --db URL` builds it; alone on the cluster at first.
        auto config =
            ConfigLoader::load({{QStringLiteral("db"), m_url},
                                {QStringLiteral("data-dir"), dataDir(QStringLiteral("observer"))}},
                               QProcessEnvironment());
        QVERIFY2(config.ok(), qPrintable(config.error().toString()));
        auto host = EngineHost::create(*config, EngineHost::Role::Observer);
        QVERIFY2(host.ok(), qPrintable(host.error().toString()));
        EngineHost &observer = **host;
        QVERIFY(observer.start().ok());
        QVERIFY(!observer.dispatcher());
        QCOMPARE(observer.httpPort(), quint16(0));
        QCOMPARE(listeningSocketsOf(QCoreApplication::applicationPid()), 0);
        QCOMPARE(value(QStringLiteral("SELECT role FROM nodes WHERE id = ?"), {observer.nodeId()})
                     .toString(),
                 QStringLiteral("observer"));
        QCOMPARE(
            value(QStringLiteral("SELECT address FROM nodes WHERE id = ?"), {observer.nodeId()})
                .toString(),
            QString());
        // Several heartbeats (2 s apart) alone: it never takes the leader lease.
        QTest::qWait(4'500);
        QCOMPARE(count(QStringLiteral("SELECT count(*) FROM cluster_leases WHERE holder = ?"),
                       {observer.nodeId()}),
                 0);
        QVERIFY(!observer.cluster()->isLeader());

        ConsoleContext context{observer.store(),   observer.queue(),  observer.dispatcher(),
                               observer.users(),   observer.quotas(), observer.monitor(),
                               &observer.config(), QString()};
        context.settings = &observer.settings();
        context.reruns = &observer.reruns();
        context.metrics = observer.metrics();
        context.nodeId = observer.nodeId();
        MainWindow window(context);
        window.resize(1280, 800);
        window.show();
        QVERIFY(window.windowTitle().contains(u"observing"));
        QVERIFY(!window.findChild<QWidget *>(QStringLiteral("concurrency"))); // no node's own

        // Two workers join; one of them leads.
        std::vector<std::unique_ptr<QProcess>> nodes;
        for (const QString &name : {QStringLiteral("node-a"), QStringLiteral("node-b")}) {
            nodes.push_back(startNode(name));
            QVERIFY(nodes.back()->waitForStarted());
        }
        QTRY_COMPARE_WITH_TIMEOUT(
            count(QStringLiteral("SELECT count(*) FROM nodes WHERE role = 'worker'")), 2, 30'000);
        QTRY_COMPARE_WITH_TIMEOUT(count(QStringLiteral("SELECT count(*) FROM cluster_leases "
                                                       "WHERE holder <> ? AND name = 'leader'"),
                                        {observer.nodeId()}),
                                  1, 30'000);
        for (const auto &node : nodes) // the check above sees listening sockets where they are
            QTRY_VERIFY_WITH_TIMEOUT(listeningSocketsOf(node->processId()) >= 1, 30'000);

        // The Nodes page lists the three and marks this console.
        window.showPage(MainWindow::Nodes);
        auto *table = window.findChild<QTableWidget *>(QStringLiteral("nodesTable"));
        QVERIFY(table);
        QTRY_COMPARE_WITH_TIMEOUT(table->rowCount(), 3, 10'000);
        int observerRows = 0;
        for (int row = 0; row < table->rowCount(); ++row) {
            if (table->item(row, 1)->text() == u"observer") {
                ++observerRows;
                QCOMPARE(table->item(row, 0)->text(),
                         observer.nodeId() + QStringLiteral(" (this node)"));
            }
        }
        QCOMPARE(observerRows, 1);

        // Jobs run on the workers only.
        QCOMPARE(enqueue(QStringLiteral("sleep"), 40, QStringLiteral("{\"ms\": 20}")), QString());
        QTRY_COMPARE_WITH_TIMEOUT(
            count(QStringLiteral("SELECT count(*) FROM jobs WHERE status = 'completed'")), 40,
            60'000);
        QCOMPARE(count(QStringLiteral("SELECT count(*) FROM job_attempts WHERE node = ?"),
                       {observer.nodeId()}),
                 0);
        QCOMPARE(count(QStringLiteral("SELECT count(*) FROM job_attempts a WHERE NOT EXISTS "
                                      "(SELECT 1 FROM nodes n WHERE n.id = a.node AND "
                                      "n.role = 'worker')")),
                 0);

        // Pause in the observer's window: no node starts anything.
        QAction *pause = window.findChild<QAction *>(QStringLiteral("pauseAction"));
        QVERIFY(pause);
        pause->trigger();
        QTRY_VERIFY(observer.queue().isPaused());
        QTest::qWait(1'000); // the nodes hear it (NOTIFY) well within this
        QCOMPARE(enqueue(QStringLiteral("noop"), 10), QString());
        QTest::qWait(3'000); // 60 polls of each node
        QCOMPARE(count(QStringLiteral("SELECT count(*) FROM jobs WHERE status = 'pending'")), 10);
        // Resume: they run.
        pause->trigger();
        QTRY_VERIFY(!observer.queue().isPaused());
        QTRY_COMPARE_WITH_TIMEOUT(
            count(QStringLiteral("SELECT count(*) FROM jobs WHERE status = 'completed'")), 50,
            30'000);

        // Cancel from the observer: the node running the job stops it.
        QCOMPARE(enqueue(QStringLiteral("sleep"), 1, QStringLiteral("{\"ms\": 120000}")),
                 QString());
        QTRY_COMPARE_WITH_TIMEOUT(
            count(QStringLiteral("SELECT count(*) FROM jobs WHERE status = 'running'")), 1, 30'000);
        const qint64 longJob =
            count(QStringLiteral("SELECT id FROM jobs WHERE status = 'running'"));
        QVERIFY(observer.queue().cancel(longJob, std::nullopt).ok());
        QTRY_COMPARE_WITH_TIMEOUT(
            value(QStringLiteral("SELECT status FROM jobs WHERE id = ?"), {longJob}).toString(),
            QStringLiteral("cancelled"), 30'000);

        // Reprioritise from the observer: the nodes claim that job first. 3,000 jobs queue while
        // paused; the last one, raised to priority 100, would come last (a claim takes at most
        // 1,024 of them on a node).
        pause->trigger();
        QTRY_VERIFY(observer.queue().isPaused());
        QTest::qWait(1'000);
        const qint64 before = count(QStringLiteral("SELECT max(id) FROM jobs"));
        QCOMPARE(enqueue(QStringLiteral("noop"), 3'000), QString());
        const qint64 raised = count(QStringLiteral("SELECT max(id) FROM jobs"));
        ConsoleJobFilter onlyRaised;
        onlyRaised.ids = QList<qint64>{raised};
        auto reprioritised = observer.store().applyConsoleAction(
            onlyRaised, ConsoleBulkAction::SetPriority, 100, QDateTime::currentMSecsSinceEpoch());
        QVERIFY(reprioritised.ok());
        QCOMPARE(reprioritised->changed, 1);
        pause->trigger();
        QTRY_COMPARE_WITH_TIMEOUT(
            count(QStringLiteral("SELECT count(*) FROM jobs WHERE status = 'completed'")), 3'050,
            60'000);
        // On the node that ran it, nothing of the batch started before it. Only that node's own
        // starts are compared: `started_at` is each node's clock, taken as its claim is sent, so
        // the other node's claim that ran beside the one that took the raised job (and skipped
        // it, locked) may carry a millisecond earlier. The node's first claim after the resume
        // is the one that took it (that claim saw it first in line, or locked by the other
        // node), and its later claims are sent after that one answered.
        QCOMPARE(count(QStringLiteral("SELECT count(*) FROM job_attempts a JOIN job_attempts r "
                                      "ON r.job_id = ? AND a.node = r.node WHERE a.job_id > ? "
                                      "AND a.started_at < r.started_at"),
                       {raised, before}),
                 0);
        QVERIFY(count(QStringLiteral("SELECT count(*) FROM jobs WHERE id > ? AND started_at > "
                                     "(SELECT started_at FROM jobs WHERE id = ?)"),
                      {before, raised}) > 0); // not all in one claim: the order was tested

        // A job that fails on a node is news in the observer (read from the database, once),
        // and a retry from the observer runs it again on a node.
        const QString nodeAddress =
            value(QStringLiteral("SELECT address FROM nodes WHERE role = 'worker' LIMIT 1"))
                .toString();
        QNetworkAccessManager network;
        const HttpHeaders csv{{"Content-Type", "text/csv"}};
        QSignalSpy notices(&window.attention(), &Attention::notice);
        QTRY_VERIFY(window.attention().knowsWhereFailuresStand());
        const auto keyed = [&](const char *key) {
            return QUrl(QStringLiteral("http://%1/api/v1/uploads?dataset=keyed&key=%2")
                            .arg(nodeAddress, QString::fromLatin1(key)));
        };
        QCOMPARE(sendHttp(network, "POST", keyed("id"), token, csv, "id,name\n1,Ann\n").status,
                 202);
        QTRY_COMPARE_WITH_TIMEOUT(
            count(QStringLiteral("SELECT count(*) FROM jobs WHERE status = 'completed'")), 3'051,
            30'000);
        // Another key than the dataset's: the import fails for good.
        QCOMPARE(sendHttp(network, "POST", keyed("name"), token, csv, "id,name\n2,Bo\n").status,
                 202);
        QTRY_COMPARE_WITH_TIMEOUT(
            count(QStringLiteral("SELECT count(*) FROM jobs WHERE status = 'failed'")), 1, 30'000);
        const qint64 failed = count(QStringLiteral("SELECT id FROM jobs WHERE status = 'failed'"));
        QTRY_COMPARE_WITH_TIMEOUT(notices.count(), 1, 30'000);
        QCOMPARE(notices.at(0).at(0).toString(), QStringLiteral("A job failed"));
        QVERIFY(observer.queue().retry(failed, std::nullopt).ok());
        QTRY_COMPARE_WITH_TIMEOUT(
            count(QStringLiteral("SELECT count(*) FROM job_attempts WHERE job_id = ?"), {failed}),
            2, 30'000);
        QTRY_COMPARE_WITH_TIMEOUT(
            value(QStringLiteral("SELECT status FROM jobs WHERE id = ?"), {failed}).toString(),
            QStringLiteral("failed"), 30'000);
        QTRY_COMPARE_WITH_TIMEOUT(notices.count(), 2, 30'000);
        QCOMPARE(count(QStringLiteral("SELECT count(*) FROM job_attempts WHERE node = ?"),
                       {observer.nodeId()}),
                 0);

        // A quota set in the observer is the one every node enforces.
        const QUrl uploads(
            QStringLiteral("http://%1/api/v1/uploads?dataset=people").arg(nodeAddress));
        auto alice = observer.users().findByName(QStringLiteral("alice"));
        QVERIFY(alice.ok());
        QVERIFY(observer.quotas().setLimits(alice->id, 0, std::nullopt).ok());
        HttpReply refused = sendHttp(network, "POST", uploads, token, csv, "id,name\n1,Ann\n");
        QCOMPARE(refused.status, 429);
        QCOMPARE(refused.code(), QStringLiteral("quota_exceeded"));
        QVERIFY(observer.quotas().setLimits(alice->id, -1, std::nullopt).ok());
        HttpReply accepted = sendHttp(network, "POST", uploads, token, csv, "id,name\n1,Ann\n");
        QCOMPARE(accepted.status, 202);

        // The charts are the cluster's: both workers' samples summed (each allows 4 at most).
        MetricFeed *feed = observer.metrics();
        QVERIFY(feed);
        QTRY_VERIFY_WITH_TIMEOUT(feed->latest() && feed->latest()->configuredMax == 8, 60'000);
        window.showPage(MainWindow::Overview);
        QTRY_VERIFY(window.findChild<QLabel *>(QStringLiteral("limit"))
                        ->text()
                        .contains(QStringLiteral("no jobs run here")));
        // For the README and for a look: build/tests/app/screenshots/observer-<page>.png.
        const QString shots =
            QCoreApplication::applicationDirPath() + QStringLiteral("/screenshots");
        QDir().mkpath(shots);
        QTest::qWait(500);
        QVERIFY(window.grab().save(shots + QStringLiteral("/observer-overview.png")));
        window.showPage(MainWindow::Nodes);
        QTest::qWait(500);
        QVERIFY(window.grab().save(shots + QStringLiteral("/observer-nodes.png")));

        // Closing the observer stops nothing on the nodes, and its row goes.
        const QString id = observer.nodeId();
        observer.stop();
        QCOMPARE(count(QStringLiteral("SELECT count(*) FROM nodes WHERE id = ?"), {id}), 0);
        QCOMPARE(count(QStringLiteral("SELECT count(*) FROM nodes WHERE role = 'worker'")), 2);
        for (auto &node : nodes) {
            node->terminate();
            QVERIFY(node->waitForFinished(30'000));
        }
    }

    // The real binary: registered as an observer, no listening socket, gone once stopped.
    void theBinaryObservesAndRefusesWhatItCannotDo()
    {
        QVERIFY(openDatabase());
        QProcess console;
        console.setProcessEnvironment(environment());
        console.setProcessChannelMode(QProcess::MergedChannels);
        console.start(QStringLiteral(FERRY_BINARY),
                      {QStringLiteral("--observe"), QStringLiteral("--db"), m_url,
                       QStringLiteral("--data-dir"), dataDir(QStringLiteral("console"))});
        QVERIFY(console.waitForStarted());
        const QString pattern = QStringLiteral("%:%1:%").arg(console.processId());
        QTRY_COMPARE_WITH_TIMEOUT(
            value(QStringLiteral("SELECT role FROM nodes WHERE id LIKE ?"), {pattern}).toString(),
            QStringLiteral("observer"), 30'000);
        QCOMPARE(listeningSocketsOf(console.processId()), 0);
        console.terminate();
        QVERIFY(console.waitForFinished(30'000));
        QCOMPARE(console.exitCode(), 0);
        QCOMPARE(count(QStringLiteral("SELECT count(*) FROM nodes WHERE id LIKE ?"), {pattern}), 0);

        int code = 0;
        QString out = cli({QStringLiteral("--observe")}, &code); // SQLite: the default store
        QCOMPARE(code, 2);
        QVERIFY2(out.contains(u"--observe needs a cluster's PostgreSQL"), qPrintable(out));
        out = cli({QStringLiteral("--observe"), QStringLiteral("--headless"),
                   QStringLiteral("--db"), m_url},
                  &code);
        QCOMPARE(code, 2);
        QVERIFY2(out.contains(u"cannot run --headless"), qPrintable(out));
    }
};

QTEST_MAIN(tst_Observer)
#include "tst_observer.moc"
