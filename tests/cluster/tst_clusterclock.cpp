// Issue 17 item 2, "one clock: the database's": real `ferry --headless` nodes on the test
// PostgreSQL whose clocks are wrong (libfaketime shifts every clock the process reads):
// - one node 5 minutes ahead and one 5 minutes behind run jobs that outlast their 3 s lease:
//   no lease is stolen or lost (one completed attempt per job, no `lost` one), neither node is
//   declared dead, heartbeats carry the database's time, and the leader stays the same one;
// - a node 40 days ahead counts its user's quota in the database's month, and its rate-limit
//   windows start at the database's now.
#include "httpclient.h"
#include "pgtestsupport.h"

#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QProcess>
#include <QRegularExpression>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QTest>
#include <QUrl>

#include <memory>
#include <vector>

namespace {

constexpr int TimeoutMs = 120'000;
const QString FakeTimeLibrary =
    QStringLiteral("/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1");
const QString DatabaseNowMs =
    QStringLiteral("(extract(epoch from clock_timestamp()) * 1000)::bigint");

} // namespace

class tst_ClusterClock : public QObject
{
    Q_OBJECT

private:
    QProcessEnvironment environment(const QString &shift) const
    {
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QStringLiteral("QT_QPA_PLATFORM"), QStringLiteral("offscreen"));
        env.insert(QStringLiteral("XDG_RUNTIME_DIR"), m_dir.path());
        env.insert(QStringLiteral("XDG_DATA_HOME"), m_dir.path() + QStringLiteral("/xdg"));
        env.insert(QStringLiteral("QT_LOGGING_RULES"), QStringLiteral("ferry.*.info=true"));
        if (!shift.isEmpty()) {
            env.insert(QStringLiteral("LD_PRELOAD"), FakeTimeLibrary);
            env.insert(QStringLiteral("FAKETIME"), shift);
        }
        return env;
    }

    // A command of the ferry binary with the machine's clock; its output.
    QByteArray cli(const QStringList &args)
    {
        QProcess process;
        process.setProcessEnvironment(environment({}));
        process.start(QStringLiteral(FERRY_BINARY),
                      QStringList{QStringLiteral("--db"), m_url, QStringLiteral("--data-dir"),
                                  m_dir.path() + QStringLiteral("/cli")} +
                          args);
        if (!process.waitForFinished(TimeoutMs) || process.exitCode() != 0) {
            qWarning("ferry %s failed: %s", qPrintable(args.join(u' ')),
                     process.readAllStandardError().constData());
            return {};
        }
        return process.readAllStandardOutput();
    }

    // A node whose clocks are shifted by `shift` (libfaketime's FAKETIME, e.g. "+5m"); its HTTP
    // port in *port once it listens (0 if it did not start).
    QProcess *startNode(const QString &shift, const QStringList &extra, quint16 *port)
    {
        auto node = std::make_unique<QProcess>();
        node->setProcessEnvironment(environment(shift));
        node->setProcessChannelMode(QProcess::MergedChannels);
        const QString dataDir = m_dir.path() + QStringLiteral("/node%1").arg(m_nodes.size());
        node->start(QStringLiteral(FERRY_BINARY),
                    QStringList{QStringLiteral("--headless"), QStringLiteral("--db"), m_url,
                                QStringLiteral("--data-dir"), dataDir, QStringLiteral("--blob-dir"),
                                m_dir.path() + QStringLiteral("/blobs"), QStringLiteral("--listen"),
                                QStringLiteral("127.0.0.1:0")} +
                        extra);
        static const QRegularExpression endpoint(
            QStringLiteral("HTTP endpoint on http://127\\.0\\.0\\.1:(\\d+)/api/v1/"));
        QByteArray &log = m_logs.emplace_back();
        *port = 0;
        (void)QTest::qWaitFor(
            [&] {
                log += node->readAll();
                *port = quint16(endpoint.match(QString::fromUtf8(log)).captured(1).toUInt());
                return *port != 0 || node->state() == QProcess::NotRunning;
            },
            TimeoutMs);
        if (*port == 0)
            qWarning("node did not start:\n%s", log.constData());
        m_nodes.push_back(std::move(node));
        return m_nodes.back().get();
    }

    // What node i logged so far.
    const QByteArray &log(size_t i)
    {
        m_logs[i] += m_nodes[i]->readAll();
        return m_logs[i];
    }

    // How far the node said its clock is off the database's (ms), from its start-up warning.
    qint64 reportedSkewMs(size_t i)
    {
        static const QRegularExpression warning(
            QStringLiteral("This machine's clock is (-?\\d+) ms off the database's"));
        const auto match = warning.match(QString::fromUtf8(log(i)));
        return match.hasMatch() ? match.captured(1).toLongLong() : 0;
    }

    bool openDatabase()
    {
        m_db = Ferry::Test::openPostgres(m_url, QStringLiteral("check"));
        return m_db.isOpen();
    }

    QVariant scalar(const QString &sql)
    {
        QSqlQuery query(m_db);
        if (!query.exec(sql) || !query.next()) {
            qWarning() << "query failed:" << sql << query.lastError().text();
            return {};
        }
        return query.value(0);
    }

    QByteArray addUser()
    {
        const QByteArray out = cli({QStringLiteral("user"), QStringLiteral("add"),
                                    QStringLiteral("alice"), QStringLiteral("--json")});
        return QJsonDocument::fromJson(out).object().value(u"token").toString().toUtf8();
    }

    QTemporaryDir m_dir;
    QString m_url;
    QSqlDatabase m_db;
    std::vector<std::unique_ptr<QProcess>> m_nodes;
    std::vector<QByteArray> m_logs;

private Q_SLOTS:
    void init()
    {
        if (Ferry::Test::postgresTestUrl().isEmpty())
            QSKIP("no PostgreSQL test server (run through ctest, which starts one)");
        // Not a skip: CI installs it (scripts/install-deps.sh), and without it nothing is tested.
        QVERIFY2(QFileInfo::exists(FakeTimeLibrary),
                 "libfaketime is missing: run scripts/install-deps.sh (package faketime)");
        QVERIFY(m_dir.isValid());
        QString error;
        m_url = Ferry::Test::createPostgresTestDatabase(QStringLiteral("clock"), &error);
        QVERIFY2(!m_url.isEmpty(), qPrintable(error));
        QVERIFY(openDatabase());
    }

    void cleanup()
    {
        for (size_t i = 0; i < m_nodes.size(); ++i) {
            QProcess &node = *m_nodes[i];
            if (node.state() != QProcess::NotRunning) {
                node.terminate();
                if (!node.waitForFinished(30'000))
                    node.kill();
                node.waitForFinished(30'000);
            }
            if (QTest::currentTestFailed())
                qInfo("node %zu output:\n%s", i, log(i).constData());
        }
        m_nodes.clear();
        m_logs.clear();
        m_db = QSqlDatabase();
        QSqlDatabase::removeDatabase(QStringLiteral("check"));
    }

    void skewedNodesNeitherStealNorLoseLeases()
    {
        QVERIFY(!addUser().isEmpty());
        // A 3 s lease renewed every second, jobs of 2.5 s: with each node's own clock the node
        // behind would write leases and heartbeats that are already 5 minutes old to the other
        // one, which would take its jobs and declare it dead.
        const QStringList options{QStringLiteral("--lease-seconds"),    QStringLiteral("3"),
                                  QStringLiteral("--poll-interval-ms"), QStringLiteral("50"),
                                  QStringLiteral("--max-concurrency"),  QStringLiteral("4")};
        quint16 ahead = 0, behind = 0;
        startNode(QStringLiteral("+5m"), options, &ahead);
        QVERIFY(ahead != 0);
        startNode(QStringLiteral("-5m"), options, &behind);
        QVERIFY(behind != 0);
        // The shift is real: each node found its clock 5 minutes off the database's.
        QVERIFY2(qAbs(reportedSkewMs(0) - 300'000) < 30'000, log(0).constData());
        QVERIFY2(qAbs(reportedSkewMs(1) + 300'000) < 30'000, log(1).constData());

        constexpr int Jobs = 24;
        QVERIFY(!cli({QStringLiteral("enqueue"), QStringLiteral("sleep"), QStringLiteral("--user"),
                      QStringLiteral("alice"), QStringLiteral("--count"), QString::number(Jobs),
                      QStringLiteral("--payload"), QStringLiteral("{\"ms\": 2500}")})
                     .isNull());
        QTRY_VERIFY_WITH_TIMEOUT(scalar(QStringLiteral("SELECT count(*) FROM jobs WHERE status IN "
                                                       "('pending', 'running')"))
                                         .toLongLong() == 0,
                                 TimeoutMs);
        // Both ran jobs while the other did (otherwise nothing was put to the test), and every
        // job ran exactly once: no attempt was lost to a rescue, none ran twice.
        QCOMPARE(scalar(QStringLiteral("SELECT count(DISTINCT node) FROM job_attempts")).toInt(),
                 2);
        QCOMPARE(scalar(QStringLiteral("SELECT count(*) FROM jobs WHERE status = 'completed' "
                                       "AND attempts = 1"))
                     .toInt(),
                 Jobs);
        QCOMPARE(scalar(QStringLiteral("SELECT count(*) FROM job_attempts")).toInt(), Jobs);
        QCOMPARE(scalar(QStringLiteral("SELECT count(*) FROM job_attempts "
                                       "WHERE outcome <> 'completed'"))
                     .toInt(),
                 0);
        // Neither was declared dead; their heartbeats carry the database's time.
        QCOMPARE(scalar(QStringLiteral("SELECT count(*) FROM nodes")).toInt(), 2);
        QVERIFY(
            scalar(
                QStringLiteral("SELECT max(abs(heartbeat_at - %1)) FROM nodes").arg(DatabaseNowMs))
                .toLongLong() < 10'000);
        // One leader from start to end: it never passed to the other node.
        const QByteArray logs = log(0) + log(1);
        QCOMPARE(logs.count("is now the leader"), qsizetype(1));
        QCOMPARE(logs.count("is no longer the leader"), qsizetype(0));
        QCOMPARE(logs.count("nodes without a heartbeat"), qsizetype(0));
    }

    void quotaAndRateLimitCountInTheDatabasesTime()
    {
        const QByteArray token = addUser();
        QVERIFY(!token.isEmpty());
        // 40 days ahead: always another calendar month than the database's.
        quint16 port = 0;
        startNode(QStringLiteral("+40d"),
                  {QStringLiteral("--rate-limit"), QStringLiteral("100"),
                   QStringLiteral("--rate-window-seconds"), QStringLiteral("600")},
                  &port);
        QVERIFY(port != 0);
        QVERIFY2(reportedSkewMs(0) > 39LL * 86'400'000, log(0).constData());
        const QString month =
            scalar(QStringLiteral("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM')"))
                .toString();

        QNetworkAccessManager network;
        const QString base = QStringLiteral("http://127.0.0.1:%1").arg(port);
        const auto upload = Ferry::Test::sendHttp(
            network, "POST", QUrl(base + QStringLiteral("/api/v1/uploads?dataset=people")), token,
            {{"Content-Type", "text/csv"}}, QByteArray("id,name\n1,Ann\n2,Bo\n"));
        QVERIFY2(upload.status == 202, upload.body.constData());
        const auto quota = Ferry::Test::sendHttp(
            network, "GET", QUrl(base + QStringLiteral("/api/v1/quota")), token);
        QCOMPARE(quota.status, 200);
        QCOMPARE(quota.json.value(u"quota").toObject().value(u"period").toString(), month);
        // The upload was counted in the database's month, and only there.
        QCOMPARE(scalar(QStringLiteral("SELECT string_agg(period, ',') FROM quota_usage "
                                       "WHERE uploads > 0"))
                     .toString(),
                 month);
        // The shared rate limit's windows run from the database's now: a key's reset is at most
        // one window (600 s) after it, not 40 days. (The node takes from it on a pool thread.)
        QTRY_VERIFY_WITH_TIMEOUT(
            scalar(QStringLiteral("SELECT count(*) FROM rate_limits")).toLongLong() > 0, TimeoutMs);
        const qint64 resetIn =
            scalar(QStringLiteral("SELECT max(reset_at - %1) FROM rate_limits").arg(DatabaseNowMs))
                .toLongLong();
        QVERIFY2(resetIn > 0 && resetIn <= 600'000, qPrintable(QString::number(resetIn)));
    }
};

QTEST_GUILESS_MAIN(tst_ClusterClock)
#include "tst_clusterclock.moc"
