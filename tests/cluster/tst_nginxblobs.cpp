// Uploads stored in PostgreSQL (issue 17): two real `ferry --headless` nodes on one fresh
// database, each with its own data directory and no --blob-dir (they share no directory at
// all), behind a real nginx (round-robin, as tst_nginxcluster). Plain, multipart and gzip
// uploads and tus uploads whose PATCHes alternate between the nodes (one of them interrupted)
// are imported by whichever node claims the job, and the exports give back the rows; two
// PATCHes at once to one upload get one 204 and one 409; a node killed (SIGKILL) in the middle
// of a PATCH leaves what it committed, and the upload resumes on the other node once the dead
// PATCH's hold runs out.
#include "gzip.h"
#include "httpclient.h"
#include "pgtestsupport.h"
#include "testsupport.h"

#include <QDir>
#include <QDirIterator>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QProcess>
#include <QRegularExpression>
#include <QSet>
#include <QStandardPaths>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTest>

#include <memory>
#include <signal.h>
#include <unistd.h>

using Ferry::Test::HttpReply;

namespace {

constexpr int TimeoutMs = 60'000;

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

// "id,name" rows: first..first+count-1.
QByteArray csvRows(int first, int count)
{
    QByteArray csv = "id,name\n";
    for (int i = first; i < first + count; ++i)
        csv += QByteArray::number(i) + ",name-" + QByteArray::number(i) + "\n";
    return csv;
}

// The data lines of a CSV (without its header), as a set: an export's order is its own.
QSet<QByteArray> dataLines(const QByteArray &csv)
{
    QList<QByteArray> lines = csv.split('\n');
    lines.removeFirst();
    QSet<QByteArray> set;
    for (const QByteArray &line : std::as_const(lines)) {
        if (!line.trimmed().isEmpty())
            set.insert(line.trimmed());
    }
    return set;
}

QByteArray tusMetadata(const QByteArray &dataset)
{
    return "dataset " + dataset.toBase64() + ",filename " + QByteArray("rows.csv").toBase64();
}

} // namespace

class tst_NginxBlobs : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup();
    void uploadsLiveInTheDatabaseAcrossTwoNodes();

private:
    QProcessEnvironment environment() const;
    std::unique_ptr<QProcess> startNode(int index, quint16 *port);
    bool startNginx(const QList<quint16> &upstreams, quint16 *port);

    // One request on a fresh connection to 127.0.0.1:port, with the user's token.
    HttpReply send(quint16 port,
                   const QByteArray &method,
                   const QByteArray &path,
                   const QList<QByteArray> &headers = {},
                   const std::optional<QByteArray> &body = std::nullopt);
    QString createTus(quint16 port, const QByteArray &dataset, qint64 length);
    HttpReply patch(quint16 port, const QString &id, qint64 offset, const QByteArray &data);
    qint64 tusOffset(quint16 port, const QString &id);
    // The job's final status, waiting for it.
    QString finalStatus(quint16 port, const QByteArray &jobId);
    QByteArray exportCsv(quint16 port, const QByteArray &dataset);
    qint64 count(const QString &sql);

    std::unique_ptr<QTemporaryDir> m_dir;
    QString m_url;
    QByteArray m_token;
    std::vector<std::unique_ptr<QProcess>> m_nodes;
    std::unique_ptr<QProcess> m_nginx;
};

void tst_NginxBlobs::init()
{
    if (Ferry::Test::postgresTestUrl().isEmpty())
        QSKIP("no PostgreSQL test server (run through ctest, or set FERRY_TEST_PG_URL)");
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());
    QString error;
    m_url = Ferry::Test::createPostgresTestDatabase(QStringLiteral("nginxblobs"), &error);
    QVERIFY2(!m_url.isEmpty(), qPrintable(error));
}

void tst_NginxBlobs::cleanup()
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

QProcessEnvironment tst_NginxBlobs::environment() const
{
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(QStringLiteral("QT_QPA_PLATFORM"), QStringLiteral("offscreen"));
    env.insert(QStringLiteral("XDG_DATA_HOME"), m_dir->path() + QStringLiteral("/xdg-data"));
    env.insert(QStringLiteral("QT_LOGGING_RULES"), QStringLiteral("ferry.*.info=true"));
    return env;
}

std::unique_ptr<QProcess> tst_NginxBlobs::startNode(int index, quint16 *port)
{
    auto node = std::make_unique<QProcess>();
    node->setProcessEnvironment(environment());
    node->setProcessChannelMode(QProcess::MergedChannels);
    // Its own data directory, and no --blob-dir: nothing on disk is shared.
    const QString dataDir = m_dir->path() + QStringLiteral("/node%1").arg(index);
    node->start(QStringLiteral(FERRY_BINARY),
                {QStringLiteral("--headless"), QStringLiteral("--db"), m_url,
                 QStringLiteral("--data-dir"), dataDir, QStringLiteral("--listen"),
                 QStringLiteral("127.0.0.1:0"), QStringLiteral("--trust-proxy"),
                 QStringLiteral("127.0.0.2"), QStringLiteral("--rate-limit"),
                 QStringLiteral("100000"), QStringLiteral("--poll-interval-ms"),
                 QStringLiteral("200"), QStringLiteral("--lease-seconds"), QStringLiteral("5")});
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

bool tst_NginxBlobs::startNginx(const QList<quint16> &upstreams, quint16 *port)
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
    QString user;
    if (geteuid() == 0)
        user = QStringLiteral("user root root;\n");
    // As docs/deployment.md: bodies streamed to the node as they arrive (tus PATCHes),
    // round-robin per request.
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
                              "      proxy_buffering off;\n"
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

HttpReply tst_NginxBlobs::send(quint16 port,
                               const QByteArray &method,
                               const QByteArray &path,
                               const QList<QByteArray> &headers,
                               const std::optional<QByteArray> &body)
{
    QByteArray request = method + " " + path +
                         " HTTP/1.1\r\nHost: ferry.test\r\nAuthorization: Bearer " + m_token +
                         "\r\nConnection: close\r\n";
    for (const QByteArray &header : headers)
        request += header + "\r\n";
    if (body)
        request += "Content-Length: " + QByteArray::number(body->size()) + "\r\n";
    request += "\r\n";
    if (body)
        request += *body;
    return Ferry::Test::sendRawHttp(port, request, {}, TimeoutMs);
}

QString tst_NginxBlobs::createTus(quint16 port, const QByteArray &dataset, qint64 length)
{
    const HttpReply created =
        send(port, "POST", "/api/v1/tus",
             {"Tus-Resumable: 1.0.0", "Upload-Length: " + QByteArray::number(length),
              "Upload-Metadata: " + tusMetadata(dataset)},
             QByteArray());
    if (created.status != 201) {
        qWarning("tus creation: %d %s", created.status, created.body.constData());
        return {};
    }
    return QString::fromLatin1(created.header("location").split('/').last());
}

HttpReply
tst_NginxBlobs::patch(quint16 port, const QString &id, qint64 offset, const QByteArray &data)
{
    return send(port, "PATCH", "/api/v1/tus/" + id.toLatin1(),
                {"Tus-Resumable: 1.0.0", "Upload-Offset: " + QByteArray::number(offset),
                 "Content-Type: application/offset+octet-stream"},
                data);
}

qint64 tst_NginxBlobs::tusOffset(quint16 port, const QString &id)
{
    const HttpReply head =
        send(port, "HEAD", "/api/v1/tus/" + id.toLatin1(), {"Tus-Resumable: 1.0.0"});
    return head.status == 200 ? head.header("upload-offset").toLongLong() : -1;
}

QString tst_NginxBlobs::finalStatus(quint16 port, const QByteArray &jobId)
{
    QString status;
    (void)QTest::qWaitFor(
        [&] {
            const HttpReply job = send(port, "GET", "/api/v1/jobs/" + jobId + "?wait=10");
            status = job.json.value(u"job").toObject().value(u"status").toString();
            return status == u"completed" || status == u"failed" || status == u"dead";
        },
        TimeoutMs);
    return status;
}

QByteArray tst_NginxBlobs::exportCsv(quint16 port, const QByteArray &dataset)
{
    QNetworkAccessManager network;
    const HttpReply exported = Ferry::Test::sendHttp(
        network, "GET",
        QUrl(QStringLiteral("http://127.0.0.1:%1/api/v1/datasets/%2/records?format=csv")
                 .arg(port)
                 .arg(QString::fromLatin1(dataset))),
        m_token, {}, std::nullopt, TimeoutMs);
    return exported.status == 200 ? exported.body : QByteArray();
}

qint64 tst_NginxBlobs::count(const QString &sql)
{
    QString error;
    const auto rows = Ferry::Test::readRows(m_url, sql, &error);
    return rows.isEmpty() ? -1 : rows.first().first().toLongLong();
}

void tst_NginxBlobs::uploadsLiveInTheDatabaseAcrossTwoNodes()
{
    QProcess add;
    add.setProcessEnvironment(environment());
    add.start(QStringLiteral(FERRY_BINARY),
              {QStringLiteral("--db"), m_url, QStringLiteral("--data-dir"),
               m_dir->path() + QStringLiteral("/cli"), QStringLiteral("user"),
               QStringLiteral("add"), QStringLiteral("alice"), QStringLiteral("--json")});
    QVERIFY(add.waitForFinished(TimeoutMs));
    const QByteArray output = add.readAllStandardOutput();
    QVERIFY2(add.exitCode() == 0, QByteArray(output + add.readAllStandardError()).constData());
    m_token = QJsonDocument::fromJson(output).object().value(u"token").toString().toUtf8();
    QVERIFY2(!m_token.isEmpty(), output.constData());

    QList<quint16> nodePorts;
    for (int i = 1; i <= 2; ++i) {
        quint16 port = 0;
        m_nodes.push_back(startNode(i, &port));
        QVERIFY(port != 0);
        nodePorts.append(port);
    }
    quint16 lb = 0;
    QVERIFY2(startNginx(nodePorts, &lb), "nginx did not start");

    QHash<QByteArray, QByteArray> expected; // dataset -> the CSV it was given
    QHash<QByteArray, QByteArray> jobs;     // dataset -> its job
    QSet<QByteArray> upstreams;

    // A plain body, a multipart form, a gzip body.
    expected["plain"] = csvRows(1, 2000);
    HttpReply plain = send(lb, "POST", "/api/v1/uploads?dataset=plain", {"Content-Type: text/csv"},
                           expected["plain"]);
    QVERIFY2(plain.status == 202, plain.body.constData());
    jobs["plain"] = plain.json.value(u"jobId").toString().toLatin1();
    upstreams.insert(plain.header("x-ferry-upstream"));

    expected["multipart"] = csvRows(5000, 1500);
    const QByteArray boundary = "ferry-test-boundary";
    const QByteArray form =
        "--" + boundary +
        "\r\nContent-Disposition: form-data; name=\"dataset\"\r\n\r\nmultipart\r\n--" + boundary +
        "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"m.csv\"\r\n"
        "Content-Type: text/csv\r\n\r\n" +
        expected["multipart"] + "\r\n--" + boundary + "--\r\n";
    HttpReply multipart = send(lb, "POST", "/api/v1/uploads",
                               {"Content-Type: multipart/form-data; boundary=" + boundary}, form);
    QVERIFY2(multipart.status == 202, multipart.body.constData());
    jobs["multipart"] = multipart.json.value(u"jobId").toString().toLatin1();
    upstreams.insert(multipart.header("x-ferry-upstream"));

    expected["gzipped"] = csvRows(9000, 3000);
    HttpReply gzipped = send(lb, "POST", "/api/v1/uploads?dataset=gzipped",
                             {"Content-Type: text/csv", "Content-Encoding: gzip"},
                             Ferry::Test::gzip(expected["gzipped"]));
    QVERIFY2(gzipped.status == 202, gzipped.body.constData());
    jobs["gzipped"] = gzipped.json.value(u"jobId").toString().toLatin1();
    upstreams.insert(gzipped.header("x-ferry-upstream"));

    // A tus upload in four PATCHes, round-robin: they alternate between the nodes.
    expected["tus"] = csvRows(20000, 40000); // ~0.6 MiB
    const QByteArray &tusData = expected["tus"];
    const QString tusId = createTus(lb, "tus", tusData.size());
    QVERIFY(!tusId.isEmpty());
    QSet<QByteArray> patchedBy;
    const qint64 step = tusData.size() / 4 + 1;
    HttpReply last;
    for (qint64 at = 0; at < tusData.size(); at += step) {
        last = patch(lb, tusId, at, tusData.mid(at, step));
        QVERIFY2(last.status == 204, last.body.constData());
        QCOMPARE(last.header("upload-offset").toLongLong(),
                 std::min<qint64>(at + step, tusData.size()));
        patchedBy.insert(last.header("x-ferry-upstream"));
    }
    QCOMPARE(patchedBy.size(), 2); // both nodes appended to the one upload
    jobs["tus"] = last.header("ferry-job-id");
    QVERIFY(!jobs["tus"].isEmpty());

    // An interrupted PATCH: the client goes away half-way; what reached the node is kept, and
    // the upload resumes (through the other node, as it happens) from the offset HEAD reports.
    expected["interrupted"] = csvRows(100000, 30000);
    const QByteArray &cut = expected["interrupted"];
    const QString cutId = createTus(lb, "interrupted", cut.size());
    QVERIFY(!cutId.isEmpty());
    {
        QTcpSocket socket;
        socket.connectToHost(QHostAddress::LocalHost, lb);
        QVERIFY(socket.waitForConnected(TimeoutMs));
        socket.write("PATCH /api/v1/tus/" + cutId.toLatin1() +
                     " HTTP/1.1\r\nHost: ferry.test\r\nAuthorization: Bearer " + m_token +
                     "\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\nContent-Type: "
                     "application/offset+octet-stream\r\nContent-Length: " +
                     QByteArray::number(cut.size()) + "\r\n\r\n");
        socket.write(cut.left(cut.size() / 2));
        QVERIFY(socket.waitForBytesWritten(TimeoutMs));
        while (socket.bytesToWrite() > 0)
            QVERIFY(socket.waitForBytesWritten(TimeoutMs));
        QTest::qWait(300); // for nginx to pass the bytes on; the offset is read, not assumed
        socket.abort();
    }
    qint64 kept = 0;
    QVERIFY(QTest::qWaitFor(
        [&] {
            kept = tusOffset(lb, cutId);
            return kept > 0 && count(QStringLiteral("SELECT count(*) FROM tus_uploads WHERE id = "
                                                    "'%1' AND append_token IS NULL")
                                         .arg(cutId)) == 1;
        },
        TimeoutMs));
    QVERIFY2(kept <= cut.size() / 2, qPrintable(QString::number(kept)));
    HttpReply resumed = patch(lb, cutId, kept, cut.mid(kept));
    QVERIFY2(resumed.status == 204, resumed.body.constData());
    jobs["interrupted"] = resumed.header("ferry-job-id");
    QVERIFY(!jobs["interrupted"].isEmpty());

    // Two PATCHes at once to one upload (one per node): one 204, one 409.
    const QByteArray race = csvRows(1, 100);
    const QString raceId = createTus(lb, "race", race.size());
    QVERIFY(!raceId.isEmpty());
    QTcpSocket first;
    first.connectToHost(QHostAddress::LocalHost, nodePorts[0]);
    QVERIFY(first.waitForConnected(TimeoutMs));
    first.write("PATCH /api/v1/tus/" + raceId.toLatin1() +
                " HTTP/1.1\r\nHost: ferry.test\r\nAuthorization: Bearer " + m_token +
                "\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\nContent-Type: "
                "application/offset+octet-stream\r\nConnection: close\r\nContent-Length: " +
                QByteArray::number(race.size()) + "\r\n\r\n" + race.left(10));
    QVERIFY(first.waitForBytesWritten(TimeoutMs));
    // The first holds the upload (the database says so) ...
    QVERIFY(QTest::qWaitFor(
        [&] {
            return count(QStringLiteral("SELECT count(*) FROM tus_uploads WHERE id = '%1' AND "
                                        "append_token IS NOT NULL")
                             .arg(raceId)) == 1;
        },
        TimeoutMs));
    // ... so the second, on the other node, is refused.
    const HttpReply second = patch(nodePorts[1], raceId, 0, race);
    QCOMPARE(second.status, 409);
    first.write(race.mid(10));
    const HttpReply firstAnswer = Ferry::Test::readHttpReply(first, TimeoutMs);
    QCOMPARE(firstAnswer.status, 204);
    QCOMPARE(firstAnswer.header("upload-offset").toLongLong(), race.size());
    jobs["race"] = firstAnswer.header("ferry-job-id");
    expected["race"] = race;

    // A node killed in the middle of a PATCH (sent to node 2 itself, so the test knows which
    // one dies): what it committed stays, and node 1 resumes once the dead PATCH's hold ran out.
    expected["killed"] = csvRows(1000000, 250000); // ~4 MiB: several chunks
    const QByteArray &big = expected["killed"];
    const QString bigId = createTus(nodePorts[0], "killed", big.size());
    QVERIFY(!bigId.isEmpty());
    QTcpSocket doomed;
    doomed.connectToHost(QHostAddress::LocalHost, nodePorts[1]);
    QVERIFY(doomed.waitForConnected(TimeoutMs));
    doomed.write("PATCH /api/v1/tus/" + bigId.toLatin1() +
                 " HTTP/1.1\r\nHost: ferry.test\r\nAuthorization: Bearer " + m_token +
                 "\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\nContent-Type: "
                 "application/offset+octet-stream\r\nContent-Length: " +
                 QByteArray::number(big.size()) + "\r\n\r\n" + big.left(big.size() * 3 / 4));
    while (doomed.bytesToWrite() > 0)
        QVERIFY(doomed.waitForBytesWritten(TimeoutMs));
    QVERIFY(
        QTest::qWaitFor([&] { return tusOffset(nodePorts[0], bigId) >= (2 << 20); }, TimeoutMs));
    ::kill(pid_t(m_nodes[1]->processId()), SIGKILL);
    QVERIFY(m_nodes[1]->waitForFinished(TimeoutMs));
    doomed.abort();
    // Refused (409) while the dead PATCH's hold lasts, then taken; the offset is asked each time,
    // as a tus client does (a statement the dead node sent may still commit after it died).
    HttpReply rest;
    qint64 committed = 0;
    (void)QTest::qWaitFor(
        [&] {
            committed = tusOffset(nodePorts[0], bigId);
            rest = patch(nodePorts[0], bigId, committed, big.mid(committed));
            if (rest.status == 204)
                return true;
            QTest::qWait(500);
            return false;
        },
        TimeoutMs);
    QVERIFY2(committed >= (2 << 20) && committed <= big.size() * 3 / 4,
             qPrintable(QString::number(committed)));
    QVERIFY2(rest.status == 204, rest.body.constData());
    jobs["killed"] = rest.header("ferry-job-id");
    QVERIFY(!jobs["killed"].isEmpty());

    // Every import succeeds (on node 1 now, or on either before), and every export gives the
    // rows back.
    for (auto it = jobs.cbegin(); it != jobs.cend(); ++it)
        QVERIFY2(finalStatus(nodePorts[0], it.value()) == u"completed", it.key().constData());
    for (auto it = expected.cbegin(); it != expected.cend(); ++it) {
        const QByteArray exported = exportCsv(nodePorts[0], it.key());
        QVERIFY2(dataLines(exported) == dataLines(it.value()), it.key().constData());
    }

    // Nothing was stored under either node's data directory: the uploads are rows.
    for (const QString &node : {QStringLiteral("node1"), QStringLiteral("node2")}) {
        QDirIterator files(m_dir->path() + u'/' + node + QStringLiteral("/blobs"), QDir::Files,
                           QDirIterator::Subdirectories);
        QVERIFY2(!files.hasNext(), qPrintable(files.hasNext() ? files.next() : QString()));
    }
    QCOMPARE(count(QStringLiteral("SELECT count(*) FROM blobs")), qint64(expected.size()));
}

QTEST_GUILESS_MAIN(tst_NginxBlobs)
#include "tst_nginxblobs.moc"
