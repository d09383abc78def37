// Two real `ferry --headless` nodes on one fresh PostgreSQL database behind a real nginx
// (round-robin upstream, docs/deployment.md) on loopback: the per-IP rate limit holds across the
// nodes (exactly `limit` requests pass, the rest get 429 with Retry-After), both nodes served
// requests, and the limit keys on the real client (from X-Forwarded-For, nginx being the trusted
// proxy), not on nginx's address: a second client still has its whole quota.
//
// nginx connects to the nodes from 127.0.0.2 (proxy_bind) and only that address is trusted
// (--trust-proxy 127.0.0.2); clients connect to nginx from 127.0.0.1 and 127.0.0.3.
#include "httpclient.h"
#include "pgtestsupport.h"
#include "ratelimit/sharedratelimit.h"

#include <QDir>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QRegularExpression>
#include <QSet>
#include <QStandardPaths>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTest>

#include <memory>
#include <pwd.h>
#include <unistd.h>

namespace {

constexpr int Limit = 10;
constexpr int Requests = 25;
constexpr int TimeoutMs = 60'000;

// One GET over a fresh connection from `from` (a loopback address), answered in full.
Ferry::Test::HttpReply
get(const QHostAddress &from, quint16 port, const QByteArray &path, const QByteArray &token)
{
    return Ferry::Test::sendRawHttp(port,
                                    "GET " + path +
                                        " HTTP/1.1\r\nHost: ferry.test\r\nAuthorization: Bearer " +
                                        token + "\r\nConnection: close\r\n\r\n",
                                    from, TimeoutMs);
}

quint16 freePort()
{
    QTcpServer probe;
    return probe.listen(QHostAddress::LocalHost) ? probe.serverPort() : 0;
}

bool waitForPort(quint16 port)
{
    return QTest::qWaitFor(
        [&] {
            QTcpSocket socket;
            socket.connectToHost(QHostAddress::LocalHost, port);
            return socket.waitForConnected(200);
        },
        TimeoutMs);
}

} // namespace

class tst_NginxCluster : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup();
    void rateLimitHoldsAcrossTwoNodesBehindNginx();

private:
    QProcessEnvironment environment() const;
    std::unique_ptr<QProcess> startNode(int index, quint16 *port);
    bool startNginx(const QList<quint16> &upstreams, quint16 *port);

    std::unique_ptr<QTemporaryDir> m_dir;
    QString m_url;
    std::vector<std::unique_ptr<QProcess>> m_nodes;
    std::unique_ptr<QProcess> m_nginx;
};

void tst_NginxCluster::init()
{
    if (Ferry::Test::postgresTestUrl().isEmpty())
        QSKIP("no PostgreSQL test server (run through ctest, or set FERRY_TEST_PG_URL)");
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());
    QString error;
    m_url = Ferry::Test::createPostgresTestDatabase(QStringLiteral("nginxcluster"), &error);
    QVERIFY2(!m_url.isEmpty(), qPrintable(error));
}

void tst_NginxCluster::cleanup()
{
    auto dump = [](QProcess *process, const char *name) {
        if (!process)
            return;
        if (process->state() != QProcess::NotRunning) {
            process->terminate();
            if (!process->waitForFinished(30'000)) {
                process->kill();
                process->waitForFinished(30'000);
            }
        }
        if (QTest::currentTestFailed())
            qInfo("%s output:\n%s", name, process->readAll().constData());
    };
    for (size_t i = 0; i < m_nodes.size(); ++i)
        dump(m_nodes[i].get(), i == 0 ? "node 1" : "node 2");
    dump(m_nginx.get(), "nginx");
    if (m_dir && QTest::currentTestFailed()) {
        QFile log(m_dir->path() + QStringLiteral("/nginx/error.log"));
        if (log.open(QIODevice::ReadOnly))
            qInfo("nginx error.log:\n%s", log.readAll().constData());
    }
    m_nodes.clear();
    m_nginx.reset();
    m_dir.reset();
}

QProcessEnvironment tst_NginxCluster::environment() const
{
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(QStringLiteral("QT_QPA_PLATFORM"), QStringLiteral("offscreen"));
    env.insert(QStringLiteral("XDG_DATA_HOME"), m_dir->path() + QStringLiteral("/xdg-data"));
    env.insert(QStringLiteral("QT_LOGGING_RULES"), QStringLiteral("ferry.*.info=true"));
    return env;
}

std::unique_ptr<QProcess> tst_NginxCluster::startNode(int index, quint16 *port)
{
    auto node = std::make_unique<QProcess>();
    node->setProcessEnvironment(environment());
    node->setProcessChannelMode(QProcess::MergedChannels);
    const QString dataDir = m_dir->path() + QStringLiteral("/node%1").arg(index);
    node->start(
        QStringLiteral(FERRY_BINARY),
        {QStringLiteral("--headless"), QStringLiteral("--db"), m_url, QStringLiteral("--data-dir"),
         dataDir, QStringLiteral("--blob-dir"), m_dir->path() + QStringLiteral("/shared-blobs"),
         QStringLiteral("--listen"), QStringLiteral("127.0.0.1:0"), QStringLiteral("--trust-proxy"),
         QStringLiteral("127.0.0.2"), QStringLiteral("--rate-limit"), QString::number(Limit),
         QStringLiteral("--rate-window-seconds"), QStringLiteral("3600")});
    static const QRegularExpression endpoint(
        QStringLiteral("HTTP endpoint on http://127\\.0\\.0\\.1:(\\d+)/api/v1/"));
    QByteArray log;
    *port = 0;
    (void)QTest::qWaitFor(
        [&] {
            log += node->readAll();
            *port = quint16(endpoint.match(QString::fromUtf8(log)).captured(1).toUInt());
            return *port != 0 || node->state() == QProcess::NotRunning;
        },
        TimeoutMs);
    if (*port == 0)
        qWarning("node %d did not start:\n%s", index, log.constData());
    return node;
}

bool tst_NginxCluster::startNginx(const QList<quint16> &upstreams, quint16 *port)
{
    QString nginx = QStandardPaths::findExecutable(QStringLiteral("nginx"));
    if (nginx.isEmpty())
        nginx =
            QStandardPaths::findExecutable(QStringLiteral("nginx"), {QStringLiteral("/usr/sbin")});
    if (nginx.isEmpty()) {
        qWarning("nginx is not installed: run scripts/install-deps.sh");
        return false;
    }
    const QString prefix = m_dir->path() + QStringLiteral("/nginx");
    if (!QDir().mkpath(prefix + QStringLiteral("/temp")))
        return false;
    *port = freePort();
    QString servers;
    for (quint16 upstream : upstreams)
        servers += QStringLiteral("    server 127.0.0.1:%1;\n").arg(upstream);
    // As root, nginx's workers would run as `nobody`, who cannot use the temp directory here:
    // they run as root then (a throwaway server on loopback).
    QString user;
    if (geteuid() == 0)
        user = QStringLiteral("user root root;\n");
    const QString config =
        user + QStringLiteral("daemon off;\n"
                              "worker_processes 1;\n"
                              "pid %1/nginx.pid;\n"
                              "error_log %1/error.log info;\n"
                              "events { worker_connections 256; }\n"
                              "http {\n"
                              "  access_log %1/access.log;\n"
                              "  client_body_temp_path %1/temp/body;\n"
                              "  proxy_temp_path %1/temp/proxy;\n"
                              "  fastcgi_temp_path %1/temp/fastcgi;\n"
                              "  uwsgi_temp_path %1/temp/uwsgi;\n"
                              "  scgi_temp_path %1/temp/scgi;\n"
                              "  upstream ferry {\n%2  }\n"
                              "  server {\n"
                              "    listen 127.0.0.1:%3;\n"
                              "    location / {\n"
                              "      proxy_pass http://ferry;\n"
                              "      proxy_bind 127.0.0.2;\n"
                              "      proxy_http_version 1.1;\n"
                              "      proxy_set_header Connection \"\";\n"
                              "      proxy_set_header Host $host;\n"
                              "      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
                              "      proxy_request_buffering off;\n"
                              "      client_max_body_size 0;\n"
                              "      add_header X-Ferry-Upstream $upstream_addr always;\n"
                              "    }\n"
                              "  }\n"
                              "}\n")
                   .arg(prefix, servers)
                   .arg(*port);
    QFile file(prefix + QStringLiteral("/nginx.conf"));
    if (!file.open(QIODevice::WriteOnly) || file.write(config.toUtf8()) < 0)
        return false;
    file.close();
    m_nginx = std::make_unique<QProcess>();
    m_nginx->setProcessChannelMode(QProcess::MergedChannels);
    m_nginx->start(nginx, {QStringLiteral("-p"), prefix, QStringLiteral("-c"),
                           prefix + QStringLiteral("/nginx.conf"), QStringLiteral("-e"),
                           prefix + QStringLiteral("/error.log")});
    if (!m_nginx->waitForStarted(TimeoutMs))
        return false;
    return waitForPort(*port) && m_nginx->state() == QProcess::Running;
}

void tst_NginxCluster::rateLimitHoldsAcrossTwoNodesBehindNginx()
{
    // The user, created through the command line on the cluster's database (this migrates it).
    QProcess add;
    add.setProcessEnvironment(environment());
    add.start(QStringLiteral(FERRY_BINARY),
              {QStringLiteral("--db"), m_url, QStringLiteral("--data-dir"),
               m_dir->path() + QStringLiteral("/cli"), QStringLiteral("user"),
               QStringLiteral("add"), QStringLiteral("alice"), QStringLiteral("--json")});
    QVERIFY(add.waitForFinished(TimeoutMs));
    const QByteArray output = add.readAllStandardOutput();
    QVERIFY2(add.exitCode() == 0, QByteArray(output + add.readAllStandardError()).constData());
    const QByteArray token =
        QJsonDocument::fromJson(output).object().value(u"token").toString().toUtf8();
    QVERIFY2(!token.isEmpty(), output.constData());

    QList<quint16> nodePorts;
    for (int i = 1; i <= 2; ++i) {
        quint16 port = 0;
        m_nodes.push_back(startNode(i, &port));
        QVERIFY(port != 0);
        nodePorts.append(port);
    }
    quint16 nginxPort = 0;
    QVERIFY2(startNginx(nodePorts, &nginxPort), "nginx did not start");

    const QHostAddress client(QStringLiteral("127.0.0.1"));
    int passed = 0;
    int refused = 0;
    QSet<QByteArray> upstreams;
    for (int i = 0; i < Requests; ++i) {
        const Ferry::Test::HttpReply answer = get(client, nginxPort, "/api/v1/quota", token);
        upstreams.insert(answer.headers.value("x-ferry-upstream"));
        if (answer.status == 200) {
            ++passed;
            // Counted down across both nodes, as far as the answering node knows (its share's
            // last word from the database: docs/architecture.md, "Rate limit").
            const QByteArray header = answer.headers.value("ratelimit");
            QVERIFY2(header.startsWith("\"default\";r="), header.constData());
            QVERIFY2(header.mid(13).split(';').value(0).toInt() < Limit, header.constData());
        } else {
            QCOMPARE(answer.status, 429);
            ++refused;
            const int retryAfter = answer.headers.value("retry-after").toInt();
            QVERIFY2(retryAfter >= 1, answer.headers.value("retry-after").constData());
            // Before the quota is spent, a refusal says "the node is still asking the database"
            // (its credit is out while a refill is in flight): one second, then on.
            if (passed < Limit && retryAfter == 1)
                QTest::qWait(1'100);
        }
    }
    // The quota, and at most `credit` more per node (SharedRateLimit: let through before the
    // node's refill said the quota was spent).
    const int credit = int(Ferry::SharedShareSizes::forLimit(Limit).credit);
    QVERIFY2(passed >= Limit && passed <= Limit + 2 * credit, qPrintable(QString::number(passed)));
    QCOMPARE(refused, Requests - passed);
    // Round robin: both nodes answered (nginx names the upstream that served each request).
    upstreams.remove(QByteArray());
    QCOMPARE(upstreams.size(), 2);

    // The limit is per client, not per proxy: another address still has its whole quota.
    const Ferry::Test::HttpReply other =
        get(QHostAddress(QStringLiteral("127.0.0.3")), nginxPort, "/api/v1/quota", token);
    QCOMPARE(other.status, 200);
    const QByteArray expected = "\"default\";r=" + QByteArray::number(Limit - 1) + ";t=";
    QVERIFY2(other.headers.value("ratelimit").startsWith(expected),
             other.headers.value("ratelimit").constData());
}

QTEST_GUILESS_MAIN(tst_NginxCluster)
#include "tst_nginxcluster.moc"
