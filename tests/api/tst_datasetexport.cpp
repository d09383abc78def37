// Dataset exports over real HTTP (issue 12, items 3 and 7): a wide CSV export runs off the
// network thread and in linear time, its columns come from every record, a dataset too wide for
// CSV is refused before the status line, and an export that fails half-way aborts the connection
// instead of ending the body as if it were complete.
#include "jobsapitestsupport.h"

#include <QElapsedTimer>
#include <QMutex>
#include <QNetworkReply>
#include <QTcpSocket>

using namespace Ferry;
using namespace Ferry::Test;

namespace {

// Warnings of the export, whatever thread logs them.
QMutex s_logMutex;
QStringList s_log;
QtMessageHandler s_previousHandler = nullptr;

void captureLog(QtMsgType type, const QMessageLogContext &context, const QString &message)
{
    {
        QMutexLocker lock(&s_logMutex);
        s_log.append(message);
    }
    s_previousHandler(type, context, message);
}

QByteArray wideDocument(int keys)
{
    QByteArray line = "{";
    for (int i = 0; i < keys; ++i) {
        if (i)
            line += ',';
        line += "\"key" + QByteArray::number(i) + "\":" + QByteArray::number(i);
    }
    return line + "}\n";
}

// One request on a connection of its own; the whole response as it came over the wire.
struct RawExchange
{
    QByteArray received;
    bool closed = false;
    qint64 elapsedMs = 0;
};

RawExchange rawGet(quint16 port, const QByteArray &path, const QByteArray &token, int timeoutMs)
{
    QTcpSocket socket;
    QElapsedTimer timer;
    timer.start();
    socket.connectToHost(QHostAddress::LocalHost, port);
    RawExchange result;
    if (!socket.waitForConnected(timeoutMs))
        return result;
    QByteArray request = "GET " + path + " HTTP/1.1\r\nHost: test\r\nConnection: close\r\n";
    if (!token.isEmpty())
        request += "Authorization: Bearer " + token + "\r\n";
    socket.write(request + "\r\n");
    result.closed = QTest::qWaitFor(
        [&] {
            result.received += socket.readAll();
            return socket.state() == QAbstractSocket::UnconnectedState;
        },
        timeoutMs);
    result.received += socket.readAll();
    result.elapsedMs = timer.elapsed();
    return result;
}

} // namespace

class tst_DatasetExport : public QObject
{
    Q_OBJECT

    std::unique_ptr<JobsApiFixture> m_api;

    // The fixture with one network thread, so an export and a health check share it.
    void startOneNetworkThread()
    {
        m_api = std::make_unique<JobsApiFixture>();
        m_api->server.reset();
        Http::HttpLimits limits;
        limits.networkThreads = 1;
        m_api->server = std::make_unique<Http::HttpServer>(*m_api->handler, limits);
        m_api->port = *m_api->server->listen(QHostAddress::LocalHost, 0);
    }

    void importNdjson(const QString &dataset, const QByteArray &content)
    {
        MigrationRequest request;
        request.userId = m_api->alice.id;
        request.dataset = dataset;
        request.format = QStringLiteral("ndjson");
        request.fileName = QStringLiteral("data.ndjson");
        QBuffer buffer;
        buffer.setData(content);
        buffer.open(QIODevice::ReadOnly);
        auto submitted = submitMigration(*m_api->queue, m_api->blobs, m_api->clock, request, buffer,
                                         content.size());
        QVERIFY2(submitted.ok(), qPrintable(submitted.error().toString()));
        m_api->startDispatcher();
        const qint64 id = submitted->jobId;
        QVERIFY(waitFor(
            [&] { return isTerminal((*m_api->t.store->job(id, std::nullopt))->status); }, 120'000));
        const Job job = **m_api->t.store->job(id, std::nullopt);
        QVERIFY2(job.status == JobStatus::Completed, qPrintable(job.error));
    }

private Q_SLOTS:
    void init() { startOneNetworkThread(); }
    void cleanup() { m_api.reset(); }

    // 80,000 keys in one record: the CSV export finishes in linear time, and a health check on
    // the same network thread answers while it runs (the export's work is on pools).
    void wideCsvExportLeavesTheNetworkThreadFree()
    {
        constexpr int Keys = 80'000;
        importNdjson(QStringLiteral("wide"), wideDocument(Keys));
        QElapsedTimer timer;
        timer.start();
        QNetworkRequest request(QUrl(QStringLiteral("http://127.0.0.1:%1/api/v1/datasets/wide/"
                                                    "records?format=csv")
                                         .arg(m_api->port)));
        request.setRawHeader("Authorization", "Bearer " + m_api->aliceToken);
        QNetworkReply *reply = m_api->network.get(request);
        QTest::qWait(200); // the export is under way
        qint64 slowestHealth = 0;
        int healthChecks = 0;
        while (!reply->isFinished() || healthChecks == 0) {
            const RawExchange health = rawGet(m_api->port, "/api/v1/health", {}, 60'000);
            QVERIFY(health.received.startsWith("HTTP/1.1 200"));
            slowestHealth = qMax(slowestHealth, health.elapsedMs);
            ++healthChecks;
            if (timer.elapsed() > 120'000)
                break;
        }
        QVERIFY(QTest::qWaitFor([&] { return reply->isFinished(); }, 120'000));
        QVERIFY2(timer.elapsed() < 60'000, qPrintable(QString::number(timer.elapsed())));
        QVERIFY2(slowestHealth < 5'000,
                 qPrintable(QStringLiteral("a health check waited %1 ms").arg(slowestHealth)));
        QCOMPARE(reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt(), 200);
        const QByteArray csv = reply->readAll();
        reply->deleteLater();
        const QList<QByteArray> lines = csv.split('\n');
        QCOMPARE(lines.size(), 3); // header, the record, and the empty rest after the last CRLF
        QCOMPARE(lines.at(0).count(',') + 1, Keys);
        QCOMPARE(lines.at(1).count(',') + 1, Keys);
        QVERIFY(lines.at(0).contains("key79999"));
    }

    // A key that first appears after the first page of records is a column too.
    void lateKeyIsAColumn()
    {
        QByteArray content;
        for (int i = 1; i <= 1500; ++i) {
            const QByteArray extra = i == 1200 ? QByteArray(",\"late\":\"here\"") : QByteArray();
            content += "{\"id\":" + QByteArray::number(i) + extra + "}\n";
        }
        importNdjson(QStringLiteral("late"), content);
        const JobsReply reply = m_api->get(
            QStringLiteral("/api/v1/datasets/late/records?format=csv"), m_api->aliceToken);
        QCOMPARE(reply.status, 200);
        const QList<QByteArray> lines = reply.body.split('\n');
        QCOMPARE(lines.at(0), QByteArray("id,late\r"));
        QCOMPARE(lines.at(1), QByteArray("1,\r"));
        QCOMPARE(lines.at(1200), QByteArray("1200,here\r"));
        QCOMPARE(lines.size(), 1502);
    }

    // More distinct keys than a CSV export has columns: 422 with what to do, before any 200.
    void tooWideForCsvIsRefusedBeforeTheStatusLine()
    {
        importNdjson(QStringLiteral("huge"), wideDocument(int(MaxCsvColumns) + 1));
        QElapsedTimer timer;
        timer.start();
        const JobsReply reply = m_api->get(
            QStringLiteral("/api/v1/datasets/huge/records?format=csv"), m_api->aliceToken);
        QVERIFY2(timer.elapsed() < 60'000, qPrintable(QString::number(timer.elapsed())));
        QCOMPARE(reply.status, 422);
        QCOMPARE(reply.json.value(u"success").toBool(true), false);
        QCOMPARE(reply.json.value(u"code").toString(), QStringLiteral("too_many_columns"));
        QVERIFY2(reply.json.value(u"message").toString().contains(u"format=ndjson"),
                 qPrintable(reply.json.value(u"message").toString()));
        // NDJSON has no columns: the same dataset exports.
        QCOMPARE(
            m_api->get(QStringLiteral("/api/v1/datasets/huge/records"), m_api->aliceToken).status,
            200);
    }

    // The store fails half-way through an export: the client sees the connection end without
    // the last chunk (never a body that looks complete), and the log says why.
    void failedExportAbortsTheConnection()
    {
        QByteArray content;
        const QByteArray filler(180, 'x');
        for (int i = 1; i <= 100'000; ++i)
            content += "{\"id\":" + QByteArray::number(i) + ",\"pad\":\"" + filler + "\"}\n";
        importNdjson(QStringLiteral("big"), content);
        {
            QMutexLocker lock(&s_logMutex);
            s_log.clear();
        }
        s_previousHandler = qInstallMessageHandler(captureLog);

        QTcpSocket socket;
        socket.setReadBufferSize(16 * 1024); // read slowly: the server stops at its high water
        socket.connectToHost(QHostAddress::LocalHost, m_api->port);
        QVERIFY(socket.waitForConnected(10'000));
        socket.write("GET /api/v1/datasets/big/records HTTP/1.1\r\nHost: test\r\n"
                     "Authorization: Bearer " +
                     m_api->aliceToken + "\r\n\r\n");
        QByteArray received;
        QVERIFY(QTest::qWaitFor(
            [&] {
                received += socket.read(4096);
                return received.size() > 8192;
            },
            30'000));
        QVERIFY(received.startsWith("HTTP/1.1 200"));
        QTest::qWait(200); // the server's buffers fill; the rest of the 20 MB is not read yet
        QString error;
        writeRows(m_api->t.location(), QStringLiteral("ALTER TABLE records RENAME TO gone"),
                  &error);
        QVERIFY2(error.isEmpty(), qPrintable(error));
        socket.setReadBufferSize(0);
        QVERIFY(QTest::qWaitFor(
            [&] {
                received += socket.readAll();
                return socket.state() == QAbstractSocket::UnconnectedState;
            },
            60'000));
        received += socket.readAll();
        qInstallMessageHandler(s_previousHandler);

        QVERIFY2(!received.endsWith("\r\n0\r\n\r\n"), "the failed export ended like a whole one");
        QVERIFY(received.size() < 100'000 * 200);
        QMutexLocker lock(&s_logMutex);
        const bool logged = std::any_of(s_log.cbegin(), s_log.cend(), [](const QString &line) {
            return line.contains(u"export of dataset big failed") && line.contains(u"aborted");
        });
        QVERIFY2(logged, qPrintable(s_log.join(u'\n')));
    }
};

QTEST_GUILESS_MAIN(tst_DatasetExport)

#include "tst_datasetexport.moc"
