// A network thread never waits for the store (issue 12 item 11): the token lookup of a caller
// not yet in the cache, and the Idempotency-Key lookup of an upload, run on the API's workers
// while the one network thread goes on answering others. PostgreSQL: a table locked ACCESS
// EXCLUSIVE blocks even reads, so the lookup waits as long as the test holds the lock. (A SQLite
// reader never waits for a writer in WAL mode; there the test checks the answers only.)
#include "jobsapitestsupport.h"
#include "testbackend.h"

#include "store/databaseconfig.h"

#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QTcpSocket>

using namespace Ferry;
using namespace Ferry::Test;

namespace {

// A second session on the fixture's database that holds a table locked until release().
class TableLock
{
public:
    TableLock(const QString &location, const QString &table)
    {
        const auto config = DatabaseConfig::fromUrl(location);
        m_db = QSqlDatabase::addDatabase(QStringLiteral("QPSQL"), QStringLiteral("locker"));
        m_db.setHostName(config->host);
        m_db.setPort(config->port);
        m_db.setUserName(config->user);
        m_db.setPassword(config->password);
        m_db.setDatabaseName(config->database);
        if (!m_db.open())
            qFatal("cannot open the locking session: %s", qPrintable(m_db.lastError().text()));
        QSqlQuery lock(m_db);
        if (!lock.exec(QStringLiteral("BEGIN")) ||
            !lock.exec(QStringLiteral("LOCK TABLE %1 IN ACCESS EXCLUSIVE MODE").arg(table)))
            qFatal("cannot lock %s: %s", qPrintable(table), qPrintable(lock.lastError().text()));
    }
    ~TableLock()
    {
        release();
        m_db = QSqlDatabase();
        QSqlDatabase::removeDatabase(QStringLiteral("locker"));
    }
    // Sessions waiting for a lock: the request's lookup, once it reached the store.
    int waiting()
    {
        QSqlQuery q(m_db);
        q.exec(QStringLiteral("SELECT count(*) FROM pg_locks WHERE NOT granted"));
        return q.next() ? q.value(0).toInt() : -1;
    }
    void release()
    {
        if (m_db.isOpen()) {
            QSqlQuery(m_db).exec(QStringLiteral("ROLLBACK"));
            m_db.close();
        }
    }

private:
    QSqlDatabase m_db;
};

void sendRaw(QTcpSocket &socket, quint16 port, const QByteArray &request)
{
    socket.connectToHost(QHostAddress::LocalHost, port);
    if (!socket.waitForConnected(10'000))
        qFatal("cannot connect");
    socket.write(request);
    socket.flush();
}

bool answered(QTcpSocket &socket)
{
    return waitFor([&] { return socket.bytesAvailable() > 0; }, 20'000);
}

QByteArray statusLine(QTcpSocket &socket)
{
    return socket.readAll().split('\r').value(0);
}

const QByteArray Options = "OPTIONS /api/v1/tus HTTP/1.1\r\nHost: x\r\n\r\n";

} // namespace

class tst_ApiStoreWaits : public QObject
{
    Q_OBJECT

private:
    // The fixture's server again, with one network thread: a wait on it would hold everyone.
    static void oneNetworkThread(JobsApiFixture &f)
    {
        f.server.reset();
        Http::HttpLimits limits;
        limits.networkThreads = 1;
        f.server = std::make_unique<Http::HttpServer>(*f.handler, limits);
        f.port = *f.server->listen(QHostAddress::LocalHost, 0);
    }

private Q_SLOTS:
    // A token the API has not seen yet is looked up on a worker: while the users table is
    // locked the request waits there, and OPTIONS on the same network thread is answered.
    void tokenLookupDoesNotHoldTheNetworkThread()
    {
        JobsApiFixture f;
        oneNetworkThread(f);
        QTcpSocket jobs, options;
        const QByteArray request =
            "GET /api/v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + f.aliceToken +
            "\r\n\r\n";
        if (!onPostgres()) {
            sendRaw(jobs, f.port, request);
            QVERIFY(answered(jobs));
            QCOMPARE(statusLine(jobs), QByteArray("HTTP/1.1 200 OK"));
            return;
        }
        TableLock lock(f.t.location(), QStringLiteral("users"));
        sendRaw(jobs, f.port, request);
        QVERIFY(waitFor([&] { return lock.waiting() >= 1; })); // the lookup waits for the store
        sendRaw(options, f.port, Options);
        const bool optionsAnswered = answered(options);
        const bool jobsWaited = jobs.bytesAvailable() == 0;
        lock.release(); // before any verdict: the server goes on
        QVERIFY2(optionsAnswered, "a token lookup waiting for the store held the network thread");
        QVERIFY(statusLine(options).startsWith("HTTP/1.1 204"));
        QVERIFY(jobsWaited);
        QVERIFY(answered(jobs));
        QCOMPARE(statusLine(jobs), QByteArray("HTTP/1.1 200 OK"));
    }

    // An unknown token is refused (401) by the same path, after the store said so.
    void unknownTokenIsRefusedAfterTheLookup()
    {
        JobsApiFixture f;
        oneNetworkThread(f);
        QTcpSocket jobs;
        sendRaw(jobs, f.port,
                "GET /api/v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: bearer nope\r\n\r\n");
        QVERIFY(answered(jobs));
        QCOMPARE(statusLine(jobs), QByteArray("HTTP/1.1 401 Unauthorized"));
    }

    // On PostgreSQL the GET of one job (and of a session) is a round trip: it runs on a worker,
    // and waits there while the jobs table is locked.
    void jobReadDoesNotHoldTheNetworkThread()
    {
        JobsApiFixture f;
        oneNetworkThread(f);
        const qint64 id = f.enqueue(f.alice.id);
        QCOMPARE(f.get(QStringLiteral("/api/v1/jobs/%1").arg(id), f.aliceToken).status, 200);
        const QByteArray request = "GET /api/v1/jobs/" + QByteArray::number(id) +
                                   " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + f.aliceToken +
                                   "\r\n\r\n";
        if (!onPostgres())
            QSKIP(
                "SQLite: the GET of a job stays on the network thread (a WAL reader never waits)");
        QTcpSocket job, options;
        TableLock lock(f.t.location(), QStringLiteral("jobs"));
        sendRaw(job, f.port, request);
        QVERIFY(waitFor([&] { return lock.waiting() >= 1; }));
        sendRaw(options, f.port, Options);
        const bool optionsAnswered = answered(options);
        const bool jobWaited = job.bytesAvailable() == 0;
        lock.release();
        QVERIFY2(optionsAnswered, "a job read waiting for PostgreSQL held the network thread");
        QVERIFY(jobWaited);
        QVERIFY(answered(job));
        QCOMPARE(statusLine(job), QByteArray("HTTP/1.1 200 OK"));
    }

    // An upload's Idempotency-Key is looked up on a worker too, for a caller already in the
    // token cache: while idempotency_keys is locked the upload waits, and others are answered.
    void idempotencyLookupDoesNotHoldTheNetworkThread()
    {
        JobsApiFixture f;
        oneNetworkThread(f);
        QCOMPARE(f.get(QStringLiteral("/api/v1/jobs"), f.aliceToken).status, 200); // cached now
        const QByteArray csv = "name,age\nada,36\n";
        const QByteArray request = "POST /api/v1/uploads?dataset=people HTTP/1.1\r\nHost: x\r\n"
                                   "Authorization: Bearer " +
                                   f.aliceToken +
                                   "\r\nIdempotency-Key: k-1\r\nContent-Type: text/csv\r\n"
                                   "Content-Length: " +
                                   QByteArray::number(csv.size()) + "\r\n\r\n" + csv;
        QTcpSocket upload, options;
        if (!onPostgres()) {
            sendRaw(upload, f.port, request);
            QVERIFY(answered(upload));
            QCOMPARE(statusLine(upload), QByteArray("HTTP/1.1 202 Accepted"));
            return;
        }
        TableLock lock(f.t.location(), QStringLiteral("idempotency_keys"));
        sendRaw(upload, f.port, request);
        QVERIFY(waitFor([&] { return lock.waiting() >= 1; }));
        sendRaw(options, f.port, Options);
        const bool optionsAnswered = answered(options);
        const bool uploadWaited = upload.bytesAvailable() == 0;
        lock.release();
        QVERIFY2(optionsAnswered, "an idempotency lookup held the network thread");
        QVERIFY(uploadWaited);
        QVERIFY(answered(upload));
        QCOMPARE(statusLine(upload), QByteArray("HTTP/1.1 202 Accepted"));
    }
};

QTEST_GUILESS_MAIN(tst_ApiStoreWaits)
#include "tst_apistorewaits.moc"
