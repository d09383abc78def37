// POST /api/v1/uploads end to end: a real server on loopback, real HTTP over QTcpSocket, a real
// SQLite store and blob directory, and a running dispatcher with the migrate handler, so an
// accepted upload's job completes and its records can be read back.
#include "api/apihandler.h"
#include "api/jobroutes.h"
#include "api/uploadroutes.h"
#include "http/httpserver.h"
#include "migrate/migratehandler.h"
#include "queue/builtinhandlers.h"
#include "queue/dispatcher.h"
#include "storage/fileblobstore.h"
#include "testsupport.h"

#include <QDateTime>
#include <QDirIterator>
#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QMutex>
#include <QStorageInfo>
#include <QTcpSocket>
#include <QTest>
#include <QTimeZone>
#include <QUrl>

#include <zlib.h>

using namespace Ferry;
using namespace Ferry::Test;

namespace {

// 2026-11-29 12:00 UTC: the month resets 36 hours later.
const qint64 s_now =
    QDateTime(QDate(2026, 11, 29), QTime(12, 0), QTimeZone::utc()).toMSecsSinceEpoch();
constexpr qint64 s_secondsToNextMonth = 36 * 3600;

const QByteArray s_csv = "id,name,active\n1,Ada,1\n2,Grace,0\n3,Linus,yes\n";
const QByteArray s_mapping = "{\"fields\": [{\"name\": \"id\", \"type\": \"integer\", "
                             "\"required\": true}, {\"name\": \"name\"}, {\"name\": \"active\", "
                             "\"type\": \"boolean\"}], \"key\": \"id\"}";

QList<QJsonObject> expectedPeople()
{
    auto person = [](int id, const char *name, bool active) {
        return QJsonObject{{QStringLiteral("id"), id},
                           {QStringLiteral("name"), QString::fromLatin1(name)},
                           {QStringLiteral("active"), active}};
    };
    return {person(1, "Ada", true), person(2, "Grace", false), person(3, "Linus", true)};
}

QByteArray gzip(const QByteArray &data)
{
    z_stream stream{};
    deflateInit2(&stream, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    QByteArray out(qsizetype(deflateBound(&stream, uLong(data.size()))) + 64, Qt::Uninitialized);
    stream.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(data.constData()));
    stream.avail_in = uInt(data.size());
    stream.next_out = reinterpret_cast<Bytef *>(out.data());
    stream.avail_out = uInt(out.size());
    deflate(&stream, Z_FINISH);
    out.resize(qsizetype(stream.total_out));
    deflateEnd(&stream);
    return out;
}

QByteArray encoded(const QByteArray &text)
{
    return QUrl::toPercentEncoding(QString::fromUtf8(text));
}

// A form as curl -F sends it (CRLFs, curl's boundary style); fields before and after the file.
struct FormPart
{
    QByteArray name;
    QByteArray value;
    QByteArray fileName; // non-empty: a file part
};

QByteArray form(const QByteArray &boundary, const QList<FormPart> &parts)
{
    QByteArray body;
    for (const FormPart &part : parts) {
        body += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + part.name + '"';
        if (!part.fileName.isEmpty())
            body +=
                "; filename=\"" + part.fileName + "\"\r\nContent-Type: application/octet-stream";
        body += "\r\n\r\n" + part.value + "\r\n";
    }
    return body + "--" + boundary + "--\r\n";
}

QByteArray formType(const QByteArray &boundary)
{
    return "multipart/form-data; boundary=" + boundary;
}

const QByteArray s_boundary = "------------------------d74496d66958873e";

// An UploadQuota for these tests: an interface double standing in for the real QuotaLedger (which
// lives elsewhere), implemented for real in memory: per user, at most maxUploads uploads and
// maxBytes bytes a calendar month, reservations included.
class TestQuota final : public UploadQuota
{
public:
    struct Usage
    {
        int uploads = 0;
        qint64 bytes = 0;
        int heldUploads = 0;
        qint64 heldBytes = 0;
    };

    explicit TestQuota(const Clock &clock) : m_clock(clock) {}

    Result<QuotaDecision> reserve(qint64 userId, qint64 bytes) override
    {
        QMutexLocker lock(&m_mutex);
        ++m_reserveCalls;
        m_lastReserved = bytes;
        Usage &usage = m_usage[userId];
        QuotaDecision decision;
        decision.resetsAtMs = nextPeriodMs();
        if (usage.uploads + usage.heldUploads + 1 > maxUploads ||
            usage.bytes + usage.heldBytes + bytes > maxBytes) {
            decision.message = QStringLiteral("Monthly upload limit exceeded");
            return decision;
        }
        ++usage.heldUploads;
        usage.heldBytes += bytes;
        decision.granted = true;
        decision.reservation = QuotaReservation{userId, period(), bytes, ++m_nextId};
        m_held.insert(decision.reservation.id, decision.reservation);
        return decision;
    }

    Result<QuotaDecision> settle(const QuotaReservation &reservation, qint64 actualBytes) override
    {
        QMutexLocker lock(&m_mutex);
        if (!m_held.contains(reservation.id))
            return makeError(ErrorCode::Internal,
                             QStringLiteral("settle of an unheld reservation"));
        m_held.remove(reservation.id);
        Usage &usage = m_usage[reservation.userId];
        --usage.heldUploads;
        usage.heldBytes -= reservation.bytes;
        QuotaDecision decision;
        decision.resetsAtMs = nextPeriodMs();
        if (usage.bytes + actualBytes > maxBytes) {
            decision.message = QStringLiteral("Monthly upload limit exceeded");
            return decision;
        }
        ++usage.uploads;
        usage.bytes += actualBytes;
        decision.granted = true;
        decision.reservation = reservation;
        decision.reservation.bytes = actualBytes;
        m_settled.insert(reservation.id, decision.reservation);
        return decision;
    }

    void release(const QuotaReservation &reservation) override
    {
        QMutexLocker lock(&m_mutex);
        Usage &usage = m_usage[reservation.userId];
        if (m_held.contains(reservation.id)) {
            --usage.heldUploads;
            usage.heldBytes -= m_held.take(reservation.id).bytes;
        } else if (m_settled.contains(reservation.id)) {
            --usage.uploads;
            usage.bytes -= m_settled.take(reservation.id).bytes;
        }
    }

    Usage usage(qint64 userId)
    {
        QMutexLocker lock(&m_mutex);
        return m_usage.value(userId);
    }
    int reserveCalls()
    {
        QMutexLocker lock(&m_mutex);
        return m_reserveCalls;
    }
    qint64 lastReserved()
    {
        QMutexLocker lock(&m_mutex);
        return m_lastReserved;
    }

    int maxUploads = 1000;
    qint64 maxBytes = qint64(1) << 40;

private:
    QString period() const
    {
        return QDateTime::fromMSecsSinceEpoch(m_clock.nowMs(), QTimeZone::utc())
            .toString(QStringLiteral("yyyy-MM"));
    }
    qint64 nextPeriodMs() const
    {
        const QDate today =
            QDateTime::fromMSecsSinceEpoch(m_clock.nowMs(), QTimeZone::utc()).date();
        const QDate next = QDate(today.year(), today.month(), 1).addMonths(1);
        return QDateTime(next, QTime(0, 0), QTimeZone::utc()).toMSecsSinceEpoch();
    }

    const Clock &m_clock;
    QMutex m_mutex;
    QHash<qint64, Usage> m_usage;
    QHash<qint64, QuotaReservation> m_held;
    QHash<qint64, QuotaReservation> m_settled;
    qint64 m_nextId = 0;
    int m_reserveCalls = 0;
    qint64 m_lastReserved = -1;
};

struct Reply
{
    int status = 0;
    QHash<QByteArray, QByteArray> headers; // names lowercased
    QByteArray body;
    QJsonObject json;
};

// Reads one response (the server runs on its own thread, so blocking here is fine).
Reply readReply(QTcpSocket &socket, int timeoutMs = 30'000)
{
    QElapsedTimer timer;
    timer.start();
    QByteArray data;
    auto more = [&] {
        if (socket.bytesAvailable() == 0 &&
            !socket.waitForReadyRead(int(std::max<qint64>(1, timeoutMs - timer.elapsed()))))
            return false;
        data += socket.readAll();
        return true;
    };
    qsizetype headerEnd = -1;
    while ((headerEnd = data.indexOf("\r\n\r\n")) < 0) {
        if (!more())
            return {};
    }
    Reply reply;
    const QList<QByteArray> lines = data.left(headerEnd).split('\n');
    reply.status = lines.value(0).split(' ').value(1).toInt();
    for (qsizetype i = 1; i < lines.size(); ++i) {
        const QByteArray line = lines[i].trimmed();
        const qsizetype colon = line.indexOf(':');
        if (colon > 0)
            reply.headers.insert(line.left(colon).toLower(), line.mid(colon + 1).trimmed());
    }
    const qsizetype length = reply.headers.value("content-length").toLongLong();
    while (data.size() < headerEnd + 4 + length) {
        if (!more())
            break;
    }
    reply.body = data.mid(headerEnd + 4, length);
    reply.json = QJsonDocument::fromJson(reply.body).object();
    return reply;
}

QByteArray requestHead(const QByteArray &target,
                       const QByteArray &token,
                       const QByteArray &contentType,
                       qint64 contentLength,
                       const QList<std::pair<QByteArray, QByteArray>> &extra = {})
{
    QByteArray head = "POST " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    if (!token.isEmpty())
        head += "Authorization: Bearer " + token + "\r\n";
    if (!contentType.isEmpty())
        head += "Content-Type: " + contentType + "\r\n";
    if (contentLength >= 0)
        head += "Content-Length: " + QByteArray::number(contentLength) + "\r\n";
    for (const auto &[name, value] : extra)
        head += name + ": " + value + "\r\n";
    return head + "\r\n";
}

// The file blob store with a disk that fills up after `room` bytes of uploads: its writers refuse
// as FileBlobStore's do when a write would cross the free-disk floor, without filling a disk.
class FillingBlobStore final : public BlobStore
{
public:
    FillingBlobStore(BlobStore &disk, qint64 room) : m_disk(disk), m_room(room) {}

    Result<std::unique_ptr<BlobWriter>> create(qint64 expectedSize) override
    {
        auto writer = m_disk.create(expectedSize);
        if (!writer)
            return writer.error();
        return std::unique_ptr<BlobWriter>(new Writer(std::move(*writer), m_room, &commits));
    }
    Result<void> checkSpace(qint64 bytes) override { return m_disk.checkSpace(bytes); }
    Result<BlobInfo> adopt(const QString &path) override { return m_disk.adopt(path); }
    Result<QString> localPath(const QString &id) override { return m_disk.localPath(id); }
    bool contains(const QString &id) override { return m_disk.contains(id); }
    Result<void> remove(const QString &id, qint64 lease) override
    {
        return m_disk.remove(id, lease);
    }
    Result<BlobCollection>
    collect(const std::function<Result<bool>(const QString &)> &referenced) override
    {
        return m_disk.collect(referenced);
    }

private:
    struct Writer final : BlobWriter
    {
        Writer(std::unique_ptr<BlobWriter> disk, qint64 room, std::atomic<int> *commits)
            : m_inner(std::move(disk)), m_room(room), m_commits(commits)
        {}
        Result<void> write(const char *data, qint64 size) override
        {
            if (m_inner->written() + size > m_room) {
                return makeError(ErrorCode::InsufficientStorage,
                                 QStringLiteral("Not enough free disk space for uploads."),
                                 QStringLiteral("Free some space."));
            }
            return m_inner->write(data, size);
        }
        QString contentId() const override { return m_inner->contentId(); }
        Result<BlobInfo> commit() override
        {
            auto committed = m_inner->commit();
            if (committed)
                ++*m_commits;
            return committed;
        }
        qint64 written() const override { return m_inner->written(); }
        std::unique_ptr<BlobWriter> m_inner;
        qint64 m_room;
        std::atomic<int> *m_commits;
    };

public:
    std::atomic<int> commits = 0; // bodies stored into the blob store

private:
    BlobStore &m_disk;
    qint64 m_room;
};

struct FixtureOptions
{
    qint64 maxUploadBytes = qint64(8) << 20;
    qint64 freeDiskFloor = 0;
    qint64 diskRoomBytes = -1; // >= 0: uploads run out of disk after this many bytes
};

struct Fixture
{
    explicit Fixture(FixtureOptions options = {})
        : blobs(t.dir.path() + QStringLiteral("/blobs"), options.freeDiskFloor), quota(t.clock)
    {
        t.clock.set(s_now);
        registerBuiltinHandlers(handlers);
        handlers.add(QStringLiteral("migrate"),
                     std::make_shared<MigrateHandler>(t.store->datasets(), blobs, engineClock,
                                                      MigrateConfig{}));
        QueueConfig config;
        config.pollIntervalMs = 20;
        config.backoffBaseMs = 10;
        config.maxConcurrency = 2;
        queue = std::make_unique<JobQueue>(*t.store, handlers, engineClock, config);
        dispatcher =
            std::make_unique<Dispatcher>(*queue, handlers, engineClock, QStringLiteral("test"));
        users = std::make_unique<UserDirectory>(*t.store, t.clock);
        auto a = users->addUser(QStringLiteral("alice"));
        auto b = users->addUser(QStringLiteral("bob"));
        alice = a->user.id;
        bob = b->user.id;
        aliceToken = a->token.toUtf8();
        bobToken = b->token.toUtf8();
        RateLimitPolicy policy;
        policy.limit = 1'000'000;
        policy.window = std::chrono::seconds(60);
        limiter = std::move(RateLimiter::create(policy, t.clock).value());
        api = std::make_unique<ApiHandler>(*users, *limiter, ClientAddress(), &log);
        jobs = std::make_unique<JobRoutes>(*t.store, *queue);
        UploadRoutes::Options uploadOptions;
        uploadOptions.maxUploadBytes = options.maxUploadBytes;
        if (options.diskRoomBytes >= 0)
            filling = std::make_unique<FillingBlobStore>(blobs, options.diskRoomBytes);
        uploads = std::make_unique<UploadRoutes>(
            *queue, filling ? static_cast<BlobStore &>(*filling) : blobs, t.clock, &quota,
            uploadOptions);
        api->addRoutes(*jobs);
        api->addRoutes(*uploads);
        server = std::make_unique<Http::HttpServer>(*api);
        port = *server->listen(QHostAddress::LocalHost, 0);
        if (!dispatcher->start())
            qFatal("the dispatcher did not start");
    }

    ~Fixture()
    {
        // Jobs still queued or running would outlive the store otherwise.
        waitFor([&] {
            return count(QStringLiteral("jobs WHERE status IN ('pending', 'running')")) == 0;
        });
        server.reset();
        api.reset(); // waits for its workers
        dispatcher->stop();
    }

    QByteArray tokenOf(qint64 user) const { return user == bob ? bobToken : aliceToken; }

    // One request on a fresh connection; the whole body at once.
    Reply send(const QByteArray &head, const QByteArray &body = {})
    {
        QTcpSocket socket;
        socket.connectToHost(QHostAddress::LocalHost, port);
        if (!socket.waitForConnected(10'000))
            qFatal("cannot connect");
        socket.write(head + body);
        socket.flush();
        return readReply(socket);
    }

    Reply post(const QByteArray &target,
               const QByteArray &contentType,
               const QByteArray &body,
               const QList<std::pair<QByteArray, QByteArray>> &extra = {},
               qint64 user = 0)
    {
        return send(requestHead(target, tokenOf(user), contentType, body.size(), extra), body);
    }

    Reply get(const QByteArray &target, qint64 user = 0)
    {
        return send("GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " +
                    tokenOf(user) + "\r\n\r\n");
    }

    Job job(qint64 id) { return **t.store->job(id, std::nullopt); }
    bool finished(qint64 id)
    {
        return waitFor([&] { return isTerminal(job(id).status); });
    }

    QList<QJsonObject> records(qint64 user, const QString &dataset)
    {
        QList<QJsonObject> result;
        auto info = t.store->datasets().dataset(user, dataset);
        if (!info || !info->has_value())
            return result;
        (void)t.store->datasets().forEachRecord((*info)->id, [&](std::string_view doc) {
            result.append(
                QJsonDocument::fromJson(QByteArray(doc.data(), qsizetype(doc.size()))).object());
            return true;
        });
        return result;
    }

    qint64 count(const QString &table)
    {
        QString error;
        const auto rows =
            readRows(t.location(), QStringLiteral("SELECT count(*) FROM ") + table, &error);
        if (!error.isEmpty())
            qFatal("%s", qPrintable(error));
        return rows.value(0).value(0).toLongLong();
    }

    // Every file under the blob directory, finished or temporary.
    int blobFiles()
    {
        int files = 0;
        QDirIterator it(blobs.root(), QDir::Files, QDirIterator::Subdirectories);
        while (it.hasNext()) {
            it.next();
            ++files;
        }
        return files;
    }

    // An accepted upload whose job completed: its job id, or 0 after a failed check.
    qint64 completedJob(const Reply &reply)
    {
        if (reply.status != 202)
            return 0;
        const qint64 id = reply.json.value(u"jobId").toString().toLongLong();
        if (id <= 0 || !finished(id) || job(id).status != JobStatus::Completed)
            return 0;
        return id;
    }

    TempStore t;
    SystemClock engineClock; // the dispatcher's; the routes and quota run on t.clock
    FileBlobStore blobs;
    std::unique_ptr<FillingBlobStore> filling; // the uploads' view of blobs, when set
    TestQuota quota;
    HandlerRegistry handlers;
    std::unique_ptr<JobQueue> queue;
    std::unique_ptr<Dispatcher> dispatcher;
    std::unique_ptr<UserDirectory> users;
    std::unique_ptr<RateLimiter> limiter;
    AccessLog log{AccessLog::Format::Off};
    std::unique_ptr<JobRoutes> jobs; // outlive the handler: it calls them
    std::unique_ptr<UploadRoutes> uploads;
    std::unique_ptr<ApiHandler> api;
    std::unique_ptr<Http::HttpServer> server;
    quint16 port = 0;
    qint64 alice = 0, bob = 0;
    QByteArray aliceToken, bobToken;
};

// The uploads target with the people mapping.
QByteArray peopleTarget(const QByteArray &dataset = "people")
{
    return "/api/v1/uploads?dataset=" + dataset + "&mapping=" + encoded(s_mapping);
}

} // namespace

class tst_Uploads : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void rawCsvIsImported();
    void ndjsonIsImported();
    void multipartWithFieldsBeforeAndAfterTheFile();
    void gzipBodiesAreImported();
    void chunkedBodyIsSettledAtItsSize();
    void badRequestsCreateNothing_data();
    void badRequestsCreateNothing();
    void badFieldBeforeTheFileIsAnsweredWithoutTheFile();
    void tooLargeIsRefusedBeforeTheBody();
    void unsupportedMediaType();
    void insufficientStorage();
    void diskFillingUpMidBodyIs507();
    void idempotentReplay();
    void concurrentRequestsWithOneKeyCreateOneJob();
    void concurrentRequestsWithOneKeyStoreOnce();
    void quotaExceeded();
    void failedUploadReleasesItsReservation();
    void disconnectMidBodyLeavesNothing();
};

void tst_Uploads::rawCsvIsImported()
{
    Fixture f;
    const Reply reply = f.post(peopleTarget() + "&priority=7", "text/csv", s_csv);
    QVERIFY2(reply.status == 202, reply.body.constData());
    QCOMPARE(reply.json.value(u"success"), QJsonValue(true));
    QCOMPARE(reply.json.value(u"status").toString(), QStringLiteral("pending"));
    const QString sessionId = reply.json.value(u"sessionId").toString();
    QVERIFY(!sessionId.isEmpty());
    const QByteArray jobId = reply.json.value(u"jobId").toString().toUtf8();
    QCOMPARE(reply.headers.value("location"), "/api/v1/jobs/" + jobId);
    QCOMPARE(reply.json.value(u"priority").toInt(), 7); // the priority the job got
    QCOMPARE(reply.json.keys().size(), 5);

    const qint64 id = f.completedJob(reply);
    QVERIFY(id > 0);
    const Job job = f.job(id);
    QCOMPARE(job.type, QStringLiteral("migrate"));
    QCOMPARE(job.priority, 7);
    QCOMPARE(job.sessionId, sessionId);
    QCOMPARE(job.userId, f.alice);
    QCOMPARE(f.records(f.alice, QStringLiteral("people")), expectedPeople());
    // The job is the caller's, over HTTP too.
    const Reply status = f.get(reply.headers.value("location"));
    QCOMPARE(status.status, 200);
    QCOMPARE(status.json[u"job"][u"status"].toString(), QStringLiteral("completed"));
    QCOMPARE(status.json[u"job"][u"result"][u"rowsImported"].toInt(), 3);
    QCOMPARE(f.get(reply.headers.value("location"), f.bob).status, 404);
    // Counted once, at its size.
    QCOMPARE(f.quota.usage(f.alice).uploads, 1);
    QCOMPARE(f.quota.usage(f.alice).bytes, qint64(s_csv.size()));
    QCOMPARE(f.quota.usage(f.alice).heldUploads, 0);
    QCOMPARE(f.quota.lastReserved(), qint64(s_csv.size()));
    auto session = f.t.store->session(sessionId, f.alice);
    QVERIFY(session.ok() && session->has_value());
    QCOMPARE((*session)->sizeBytes, qint64(s_csv.size()));
    QCOMPARE((*session)->contentType, QStringLiteral("text/csv"));
}

void tst_Uploads::ndjsonIsImported()
{
    Fixture f;
    const QByteArray ndjson =
        "{\"id\": 1, \"tags\": [\"a\"]}\n{\"id\": 2, \"nested\": {\"x\": true}}\n";
    const Reply reply = f.post("/api/v1/uploads?dataset=events", "application/x-ndjson", ndjson);
    QVERIFY2(reply.status == 202, reply.body.constData());
    QVERIFY(f.completedJob(reply) > 0);
    const auto records = f.records(f.alice, QStringLiteral("events"));
    QCOMPARE(records.size(), 2);
    QCOMPARE(records[0], QJsonDocument::fromJson(ndjson.split('\n')[0]).object());
    QCOMPARE(records[1], QJsonDocument::fromJson(ndjson.split('\n')[1]).object());
}

void tst_Uploads::multipartWithFieldsBeforeAndAfterTheFile()
{
    Fixture f;
    const QByteArray body = form(s_boundary, {{"dataset", "people", {}},
                                              {"file", s_csv, "people.csv"},
                                              {"mapping", s_mapping, {}},
                                              {"priority", "-5", {}}});
    const Reply reply = f.post("/api/v1/uploads", formType(s_boundary), body);
    QVERIFY2(reply.status == 202, reply.body.constData());
    const qint64 id = f.completedJob(reply);
    QVERIFY(id > 0);
    QCOMPARE(f.job(id).priority, -5);
    QCOMPARE(f.records(f.alice, QStringLiteral("people")), expectedPeople());
    auto session = f.t.store->session(reply.json.value(u"sessionId").toString(), f.alice);
    QCOMPARE((*session)->fileName, QStringLiteral("people.csv"));
    QCOMPARE((*session)->sizeBytes, qint64(s_csv.size())); // the file, not the form around it

    // Every field after the file, the dataset in the query instead.
    const QByteArray after =
        form(s_boundary, {{"file", s_csv, "more.csv"}, {"mapping", s_mapping, {}}});
    const Reply second = f.post("/api/v1/uploads?dataset=later", formType(s_boundary), after);
    QVERIFY2(second.status == 202, second.body.constData());
    QVERIFY(f.completedJob(second) > 0);
    QCOMPARE(f.records(f.alice, QStringLiteral("later")), expectedPeople());
}

void tst_Uploads::gzipBodiesAreImported()
{
    Fixture f;
    const QByteArray compressed = gzip(s_csv);
    const Reply raw =
        f.post(peopleTarget("zipped"), "text/csv", compressed, {{"Content-Encoding", "gzip"}});
    QVERIFY2(raw.status == 202, raw.body.constData());
    QVERIFY(f.completedJob(raw) > 0);
    QCOMPARE(f.records(f.alice, QStringLiteral("zipped")), expectedPeople());

    // A gzip file inside a form: detected by its magic bytes, named by its file name.
    const QByteArray body = form(s_boundary, {{"dataset", "zipform", {}},
                                              {"mapping", s_mapping, {}},
                                              {"file", compressed, "people.csv.gz"}});
    const Reply multipart = f.post("/api/v1/uploads", formType(s_boundary), body);
    QVERIFY2(multipart.status == 202, multipart.body.constData());
    QVERIFY(f.completedJob(multipart) > 0);
    QCOMPARE(f.records(f.alice, QStringLiteral("zipform")), expectedPeople());

    // Saying gzip about a body that is not: refused, nothing left behind.
    const int blobsBefore = f.blobFiles();
    const Reply lying =
        f.post(peopleTarget("lie"), "text/csv", s_csv, {{"Content-Encoding", "gzip"}});
    QCOMPARE(lying.status, 400);
    QCOMPARE(lying.json.value(u"code").toString(), QStringLiteral("invalid_encoding"));
    QVERIFY(waitFor([&] { return f.quota.usage(f.alice).heldUploads == 0; }));
    QCOMPARE(f.blobFiles(), blobsBefore);
}

void tst_Uploads::chunkedBodyIsSettledAtItsSize()
{
    Fixture f;
    QByteArray chunked;
    for (qsizetype at = 0; at < s_csv.size(); at += 10) {
        const QByteArray piece = s_csv.mid(at, 10);
        chunked += QByteArray::number(piece.size(), 16) + "\r\n" + piece + "\r\n";
    }
    chunked += "0\r\n\r\n";
    const Reply reply = f.send(requestHead(peopleTarget(), f.aliceToken, "text/csv", -1,
                                           {{"Transfer-Encoding", "chunked"}}),
                               chunked);
    QVERIFY2(reply.status == 202, reply.body.constData());
    QVERIFY(f.completedJob(reply) > 0);
    QCOMPARE(f.records(f.alice, QStringLiteral("people")), expectedPeople());
    QCOMPARE(f.quota.lastReserved(), qint64(0)); // the size was not announced
    QCOMPARE(f.quota.usage(f.alice).bytes, qint64(s_csv.size()));
}

void tst_Uploads::badRequestsCreateNothing_data()
{
    QTest::addColumn<QByteArray>("target");
    QTest::addColumn<QByteArray>("contentType");
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<QString>("code");
    QTest::addColumn<QString>("says");

    const QByteArray badMapping = "{\"fields\": [{\"name\": \"id\"},]}";
    QJsonParseError error;
    QJsonDocument::fromJson(badMapping, &error);
    const QString position = QStringLiteral("offset %1").arg(error.offset);

    QTest::newRow("missing dataset")
        << QByteArray("/api/v1/uploads") << QByteArray("text/csv") << s_csv
        << QStringLiteral("missing_dataset") << QStringLiteral("dataset=NAME");
    QTest::newRow("bad dataset name")
        << QByteArray("/api/v1/uploads?dataset=a%20b") << QByteArray("text/csv") << s_csv
        << QStringLiteral("invalid_dataset") << QStringLiteral("letters, digits");
    QTest::newRow("unknown format")
        << QByteArray("/api/v1/uploads?dataset=x&format=xml") << QByteArray("text/csv") << s_csv
        << QStringLiteral("invalid_format") << QStringLiteral("csv, tsv, ndjson or json");
    QTest::newRow("mapping not JSON")
        << QByteArray("/api/v1/uploads?dataset=x&mapping=" + encoded(badMapping))
        << QByteArray("text/csv") << s_csv << QStringLiteral("invalid_mapping") << position;
    QTest::newRow("mapping without fields")
        << QByteArray("/api/v1/uploads?dataset=x&mapping=" + encoded("{\"key\": \"id\"}"))
        << QByteArray("text/csv") << s_csv << QStringLiteral("invalid_mapping")
        << QStringLiteral("\"fields\"");
    QTest::newRow("priority out of range")
        << QByteArray("/api/v1/uploads?dataset=x&priority=101") << QByteArray("text/csv") << s_csv
        << QStringLiteral("invalid_priority") << QStringLiteral("-100 to 100");
    QTest::newRow("empty body") << QByteArray("/api/v1/uploads?dataset=x") << QByteArray("text/csv")
                                << QByteArray() << QStringLiteral("empty_upload")
                                << QStringLiteral("empty");
    QTest::newRow("form without dataset")
        << QByteArray("/api/v1/uploads") << formType(s_boundary)
        << form(s_boundary, {{"file", s_csv, "people.csv"}}) << QStringLiteral("missing_dataset")
        << QStringLiteral("dataset=NAME");
    QTest::newRow("form with a bad mapping after the file")
        << QByteArray("/api/v1/uploads?dataset=x") << formType(s_boundary)
        << form(s_boundary, {{"file", s_csv, "people.csv"}, {"mapping", badMapping, {}}})
        << QStringLiteral("invalid_mapping") << position;
    QTest::newRow("form with a bad format before the file")
        << QByteArray("/api/v1/uploads") << formType(s_boundary)
        << form(s_boundary,
                {{"dataset", "x", {}}, {"format", "xls", {}}, {"file", s_csv, "people.csv"}})
        << QStringLiteral("invalid_format") << QStringLiteral("csv, tsv, ndjson or json");
    QTest::newRow("form without file")
        << QByteArray("/api/v1/uploads") << formType(s_boundary)
        << form(s_boundary, {{"dataset", "x", {}}}) << QStringLiteral("invalid_form")
        << QStringLiteral("'file'");
    QTest::newRow("form cut short")
        << QByteArray("/api/v1/uploads?dataset=x") << formType(s_boundary)
        << form(s_boundary, {{"file", s_csv, "people.csv"}}).chopped(8)
        << QStringLiteral("invalid_form") << QStringLiteral("closing boundary");
    QTest::newRow("form without boundary")
        << QByteArray("/api/v1/uploads?dataset=x") << QByteArray("multipart/form-data")
        << form(s_boundary, {{"file", s_csv, "people.csv"}}) << QStringLiteral("invalid_form")
        << QStringLiteral("boundary");
    QTest::newRow("undetectable format")
        << QByteArray("/api/v1/uploads?dataset=x") << formType(s_boundary)
        << form(s_boundary, {{"file", QByteArray("\x01\x02\x03\x00\xff", 5), "data.bin"}})
        << QStringLiteral("invalid_argument") << QStringLiteral("Cannot tell the format");
}

void tst_Uploads::badRequestsCreateNothing()
{
    QFETCH(QByteArray, target);
    QFETCH(QByteArray, contentType);
    QFETCH(QByteArray, body);
    QFETCH(QString, code);
    QFETCH(QString, says);
    Fixture f;
    const Reply reply = f.post(target, contentType, body);
    QCOMPARE(reply.status, 400);
    QCOMPARE(reply.json.value(u"success"), QJsonValue(false));
    QCOMPARE(reply.json.value(u"code").toString(), code);
    QVERIFY2(reply.json.value(u"message").toString().contains(says), reply.body.constData());
    if (code == u"invalid_mapping" && says.startsWith(u"offset")) {
        QCOMPARE(QStringLiteral("offset %1").arg(reply.json.value(u"position").toInt()), says);
    }
    QCOMPARE(f.count(QStringLiteral("upload_sessions")), 0);
    QCOMPARE(f.count(QStringLiteral("jobs")), 0);
    QVERIFY(waitFor([&] { return f.quota.usage(f.alice).heldUploads == 0; }));
    QCOMPARE(f.quota.usage(f.alice).uploads, 0);
    QCOMPARE(f.blobFiles(), 0);
}

void tst_Uploads::badFieldBeforeTheFileIsAnsweredWithoutTheFile()
{
    Fixture f;
    QTcpSocket socket;
    socket.connectToHost(QHostAddress::LocalHost, f.port);
    QVERIFY(socket.waitForConnected(10'000));
    const QByteArray start = form(s_boundary, {{"dataset", "x", {}}, {"priority", "1000", {}}});
    // The form as far as the start of its file; the rest (4 MiB announced) never comes.
    socket.write(requestHead("/api/v1/uploads", f.aliceToken, formType(s_boundary), 4 << 20) +
                 start.left(start.lastIndexOf(QByteArray("--" + s_boundary))) + "--" + s_boundary +
                 "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\n\r\n"
                 "id\n1\n");
    const Reply reply = readReply(socket, 10'000);
    QCOMPARE(reply.status, 400);
    QCOMPARE(reply.json.value(u"code").toString(), QStringLiteral("invalid_priority"));
    QVERIFY(waitFor([&] { return f.quota.usage(f.alice).heldUploads == 0; }));
    QCOMPARE(f.blobFiles(), 0);
}

void tst_Uploads::tooLargeIsRefusedBeforeTheBody()
{
    FixtureOptions options;
    options.maxUploadBytes = qint64(1) << 20;
    Fixture f(options);
    // Only the headers are sent: the answer must not wait for a body.
    QTcpSocket socket;
    socket.connectToHost(QHostAddress::LocalHost, f.port);
    QVERIFY(socket.waitForConnected(10'000));
    socket.write(requestHead(peopleTarget(), f.aliceToken, "text/csv", (qint64(1) << 20) + 1));
    const Reply reply = readReply(socket);
    QCOMPARE(reply.status, 413);
    QCOMPARE(reply.json.value(u"code").toString(), QStringLiteral("body_too_large"));
    QVERIFY(reply.json.value(u"message").toString().contains(u"1 MB"));
    QCOMPARE(f.quota.reserveCalls(), 0); // refused before anything was reserved

    // A chunked body is stopped as soon as it passes the limit; its reservation comes back.
    QTcpSocket chunked;
    chunked.connectToHost(QHostAddress::LocalHost, f.port);
    QVERIFY(chunked.waitForConnected(10'000));
    chunked.write(requestHead(peopleTarget(), f.aliceToken, "text/csv", -1,
                              {{"Transfer-Encoding", "chunked"}}));
    const QByteArray piece(64 * 1024, 'x');
    for (int i = 0; i < 20 && chunked.state() == QAbstractSocket::ConnectedState; ++i) {
        chunked.write(QByteArray::number(piece.size(), 16) + "\r\n" + piece + "\r\n");
        chunked.waitForBytesWritten(10'000);
    }
    const Reply stopped = readReply(chunked);
    QCOMPARE(stopped.status, 413);
    QVERIFY(waitFor([&] { return f.quota.usage(f.alice).heldUploads == 0; }));
    QVERIFY(waitFor([&] { return f.blobFiles() == 0; }));
    QCOMPARE(f.count(QStringLiteral("upload_sessions")), 0);
}

void tst_Uploads::unsupportedMediaType()
{
    Fixture f;
    for (const QByteArray &type : {QByteArray("text/plain"), QByteArray()}) {
        const Reply reply = f.post(peopleTarget(), type, s_csv);
        QCOMPARE(reply.status, 415);
        QCOMPARE(reply.json.value(u"code").toString(), QStringLiteral("unsupported_media_type"));
        const QString message = reply.json.value(u"message").toString();
        for (const char *accepted :
             {"text/csv", "text/tab-separated-values", "application/x-ndjson", "application/json",
              "multipart/form-data"})
            QVERIFY2(message.contains(QLatin1String(accepted)), qPrintable(message));
        QVERIFY(reply.headers.value("accept-post").contains("text/csv"));
    }
    const Reply brotli = f.post(peopleTarget(), "text/csv", s_csv, {{"Content-Encoding", "br"}});
    QCOMPARE(brotli.status, 415);
    QVERIFY(brotli.json.value(u"message").toString().contains(u"gzip"));
    QCOMPARE(f.quota.reserveCalls(), 0);
}

void tst_Uploads::insufficientStorage()
{
    FixtureOptions options;
    QTemporaryDir probe;
    options.freeDiskFloor = QStorageInfo(probe.path()).bytesAvailable() + (qint64(1) << 40);
    Fixture f(options);
    const Reply reply = f.post(peopleTarget(), "text/csv", s_csv);
    QCOMPARE(reply.status, 507);
    QCOMPARE(reply.json.value(u"code").toString(), QStringLiteral("insufficient_storage"));
    QVERIFY(reply.json.value(u"message").toString().contains(u"free disk space"));
    QCOMPARE(f.quota.usage(f.alice).heldUploads, 0);
    QCOMPARE(f.quota.usage(f.alice).uploads, 0);
    QCOMPARE(f.blobFiles(), 0);
}

void tst_Uploads::diskFillingUpMidBodyIs507()
{
    FixtureOptions options;
    options.diskRoomBytes = 256 * 1024;
    Fixture f(options);
    QByteArray csv = "id,name,active\n";
    while (csv.size() < 1024 * 1024)
        csv += "1,somebody,1\n";
    // The body is refused as soon as it no longer fits, with 507 rather than a generic 500.
    const Reply reply = f.post(peopleTarget(), "text/csv", csv);
    QCOMPARE(reply.status, 507);
    QCOMPARE(reply.json.value(u"code").toString(), QStringLiteral("insufficient_storage"));
    QVERIFY(waitFor([&] { return f.quota.usage(f.alice).heldUploads == 0; }));
    QCOMPARE(f.quota.usage(f.alice).uploads, 0);
    QCOMPARE(f.blobFiles(), 0);
    QCOMPARE(f.count(QStringLiteral("upload_sessions")), 0);
    // What fits still goes through.
    QCOMPARE(f.post(peopleTarget(), "text/csv", s_csv).status, 202);
}

void tst_Uploads::idempotentReplay()
{
    Fixture f;
    const QList<std::pair<QByteArray, QByteArray>> key{{"Idempotency-Key", "upload-0001"}};
    const Reply first = f.post(peopleTarget(), "text/csv", s_csv, key);
    QVERIFY2(first.status == 202, first.body.constData());
    QVERIFY(f.completedJob(first) > 0);

    const Reply again = f.post(peopleTarget(), "text/csv", s_csv, key);
    QCOMPARE(again.status, 202);
    QCOMPARE(again.json, first.json); // same session, same job
    QCOMPARE(again.headers.value("location"), first.headers.value("location"));
    QCOMPARE(again.headers.value("idempotent-replayed"), QByteArray("true"));
    QCOMPARE(f.count(QStringLiteral("jobs")), 1);
    QCOMPARE(f.count(QStringLiteral("upload_sessions")), 1);
    QCOMPARE(f.quota.usage(f.alice).uploads, 1); // not counted again
    QCOMPARE(f.quota.reserveCalls(), 1);

    // The same key with another body, or other parameters: 422.
    const Reply otherBody = f.post(peopleTarget(), "text/csv", s_csv + "4,Barbara,1\n", key);
    QCOMPARE(otherBody.status, 422);
    QCOMPARE(otherBody.json.value(u"code").toString(), QStringLiteral("idempotency_key_reused"));
    QCOMPARE(f.post(peopleTarget("elsewhere"), "text/csv", s_csv, key).status, 422);
    QCOMPARE(f.count(QStringLiteral("jobs")), 1);

    // Another user's same key is theirs alone.
    const Reply bobs = f.post(peopleTarget(), "text/csv", s_csv, key, f.bob);
    QCOMPARE(bobs.status, 202);
    QVERIFY(bobs.json.value(u"jobId") != first.json.value(u"jobId"));
    QVERIFY(bobs.json.value(u"sessionId") != first.json.value(u"sessionId"));
    QVERIFY(!bobs.headers.contains("idempotent-replayed"));

    // A form is the same request whatever boundary the client picked this time.
    const QList<std::pair<QByteArray, QByteArray>> formKey{{"Idempotency-Key", "form-1"}};
    const QList<FormPart> parts{{"dataset", "formed", {}}, {"file", s_csv, "people.csv"}};
    const Reply formFirst =
        f.post("/api/v1/uploads", formType("boundary-one"), form("boundary-one", parts), formKey);
    QCOMPARE(formFirst.status, 202);
    const Reply formAgain =
        f.post("/api/v1/uploads", formType("boundary-two"), form("boundary-two", parts), formKey);
    QCOMPARE(formAgain.status, 202);
    QCOMPARE(formAgain.json, formFirst.json);

    // Keys are kept 24 hours; then the key is free again.
    f.t.clock.advance(IdempotencyKeys::KeepMs + 1000);
    const Reply later = f.post(peopleTarget(), "text/csv", s_csv + "4,Barbara,1\n", key);
    QCOMPARE(later.status, 202);
    QVERIFY(later.json.value(u"jobId") != first.json.value(u"jobId"));
}

void tst_Uploads::concurrentRequestsWithOneKeyCreateOneJob()
{
    Fixture f;
    QByteArray csv = "id,name,active\n";
    for (int i = 1; i <= 20'000; ++i)
        csv += QByteArray::number(i) + ",person " + QByteArray::number(i) + ",1\n";
    const QByteArray head = requestHead(peopleTarget(), f.aliceToken, "text/csv", csv.size(),
                                        {{"Idempotency-Key", "same-key"}});
    // Both requests get past their headers (nothing holds the key yet) before either ends.
    QTcpSocket a, b;
    for (QTcpSocket *socket : {&a, &b}) {
        socket->connectToHost(QHostAddress::LocalHost, f.port);
        QVERIFY(socket->waitForConnected(10'000));
        socket->write(head + csv.left(csv.size() / 2));
        socket->flush();
    }
    QVERIFY(waitFor([&] { return f.quota.usage(f.alice).heldUploads == 2; }));
    for (QTcpSocket *socket : {&a, &b}) {
        socket->write(csv.mid(csv.size() / 2));
        socket->flush();
    }
    const QList<Reply> replies{readReply(a), readReply(b)};
    QJsonObject accepted;
    for (const Reply &reply : replies) {
        QVERIFY2(reply.status == 202 || reply.status == 409, reply.body.constData());
        if (reply.status == 409) {
            QCOMPARE(reply.json.value(u"code").toString(),
                     QStringLiteral("idempotency_key_in_progress"));
            continue;
        }
        if (accepted.isEmpty())
            accepted = reply.json;
        QCOMPARE(reply.json, accepted); // every 202 names the same session and job
    }
    QVERIFY(!accepted.isEmpty());
    QCOMPARE(f.count(QStringLiteral("jobs")), 1);
    QCOMPARE(f.count(QStringLiteral("upload_sessions")), 1);
    QVERIFY(waitFor([&] { return f.quota.usage(f.alice).heldUploads == 0; }));
    QCOMPARE(f.quota.usage(f.alice).uploads, 1);
    // The loser did not take the winner's (identical) file with it.
    Reply winner;
    winner.status = 202;
    winner.json = accepted;
    QVERIFY(f.completedJob(winner) > 0);
    QCOMPARE(f.records(f.alice, QStringLiteral("people")).size(), 20'000);
    QCOMPARE(f.blobFiles(), 1);
}

// Issue 12 item 12: the key is claimed before the body is stored, so of two requests with one
// key (both past their headers) only one stores its body; the other's temporary file goes.
void tst_Uploads::concurrentRequestsWithOneKeyStoreOnce()
{
    FixtureOptions options;
    options.diskRoomBytes = qint64(1) << 30; // the counting view of the blob store
    Fixture f(options);
    QByteArray csv = "id,name,active\n";
    for (int i = 1; i <= 5'000; ++i)
        csv += QByteArray::number(i) + ",person " + QByteArray::number(i) + ",1\n";
    const QByteArray head = requestHead(peopleTarget(), f.aliceToken, "text/csv", csv.size(),
                                        {{"Idempotency-Key", "store-once"}});
    QTcpSocket a, b;
    for (QTcpSocket *socket : {&a, &b}) {
        socket->connectToHost(QHostAddress::LocalHost, f.port);
        QVERIFY(socket->waitForConnected(10'000));
        socket->write(head + csv.left(csv.size() / 2));
        socket->flush();
    }
    QVERIFY(waitFor([&] { return f.quota.usage(f.alice).heldUploads == 2; }));
    for (QTcpSocket *socket : {&a, &b}) {
        socket->write(csv.mid(csv.size() / 2));
        socket->flush();
    }
    const QList<Reply> replies{readReply(a), readReply(b)};
    int accepted = 0;
    for (const Reply &reply : replies) {
        QVERIFY2(reply.status == 202 || reply.status == 409, reply.body.constData());
        accepted += reply.status == 202 ? 1 : 0;
    }
    QVERIFY(accepted >= 1);
    QCOMPARE(f.filling->commits.load(), 1);
    QCOMPARE(f.count(QStringLiteral("jobs")), 1);
    QVERIFY(waitFor([&] { return f.quota.usage(f.alice).heldUploads == 0; }));
    QCOMPARE(f.quota.usage(f.alice).uploads, 1);
    QCOMPARE(f.blobFiles(), 1); // nothing left in tmp either
}

void tst_Uploads::quotaExceeded()
{
    Fixture f;
    f.quota.maxUploads = 1;
    QCOMPARE(f.post(peopleTarget(), "text/csv", s_csv).status, 202);
    // Refused once the body is in: the reservation is made on a worker while it streams (a
    // network thread never waits for the database), and settle() returns the refusal.
    QTcpSocket socket;
    socket.connectToHost(QHostAddress::LocalHost, f.port);
    QVERIFY(socket.waitForConnected(10'000));
    socket.write(requestHead(peopleTarget(), f.aliceToken, "text/csv", s_csv.size()) + s_csv);
    const Reply refused = readReply(socket);
    QCOMPARE(refused.status, 429);
    const QJsonObject expected{
        {QStringLiteral("success"), false},
        {QStringLiteral("error"), QStringLiteral("Quota exceeded")},
        {QStringLiteral("message"), QStringLiteral("Monthly upload limit exceeded")},
        {QStringLiteral("code"), QStringLiteral("quota_exceeded")}};
    QCOMPARE(refused.json.value(u"code"), expected.value(u"code"));
    QVERIFY(refused.json.value(u"message").toString().startsWith(u"Monthly upload limit exceeded"));
    QCOMPARE(refused.headers.value("retry-after"), QByteArray::number(s_secondsToNextMonth));
    QCOMPARE(f.count(QStringLiteral("jobs")), 1);
    // Bob's quota is his own.
    QCOMPARE(f.post(peopleTarget(), "text/csv", s_csv, {}, f.bob).status, 202);
}

void tst_Uploads::failedUploadReleasesItsReservation()
{
    Fixture f;
    f.quota.maxUploads = 1;
    // Stored, then refused (the format cannot be told): the one allowed upload is not used up.
    const Reply failed =
        f.post("/api/v1/uploads?dataset=x", formType(s_boundary),
               form(s_boundary, {{"file", QByteArray("\x01\x02\x03\x00\xff", 5), "data.bin"}}));
    QCOMPARE(failed.status, 400);
    QVERIFY(waitFor([&] { return f.quota.usage(f.alice).heldUploads == 0; }));
    QCOMPARE(f.quota.usage(f.alice).uploads, 0);
    QCOMPARE(f.blobFiles(), 0);
    const Reply ok = f.post(peopleTarget(), "text/csv", s_csv);
    QCOMPARE(ok.status, 202);
    QCOMPARE(f.quota.usage(f.alice).uploads, 1);
}

void tst_Uploads::disconnectMidBodyLeavesNothing()
{
    Fixture f;
    QTcpSocket socket;
    socket.connectToHost(QHostAddress::LocalHost, f.port);
    QVERIFY(socket.waitForConnected(10'000));
    socket.write(requestHead(peopleTarget(), f.aliceToken, "text/csv", 4 << 20,
                             {{"Idempotency-Key", "gone"}}));
    QByteArray part = "id,name,active\n";
    while (part.size() < 512 * 1024)
        part += "1,somebody,1\n";
    socket.write(part);
    socket.flush();
    // The upload is under way: reserved, and its bytes going to a temporary file (unnamed on
    // Linux, O_TMPFILE, so it cannot be listed; it gets a name only when committed).
    QVERIFY(waitFor([&] { return f.quota.usage(f.alice).heldUploads == 1; }));
    socket.abort();
    QVERIFY(waitFor([&] { return f.quota.usage(f.alice).heldUploads == 0; }));
    QVERIFY(waitFor([&] { return f.blobFiles() == 0; }));
    QCOMPARE(f.quota.usage(f.alice).uploads, 0);
    QCOMPARE(f.count(QStringLiteral("upload_sessions")), 0);
    QCOMPARE(f.count(QStringLiteral("jobs")), 0);
    QCOMPARE(f.count(QStringLiteral("idempotency_keys")), 0);
    // The key was never used: a retry runs.
    const Reply retry = f.post(peopleTarget(), "text/csv", s_csv, {{"Idempotency-Key", "gone"}});
    QCOMPARE(retry.status, 202);
}

QTEST_GUILESS_MAIN(tst_Uploads)
#include "tst_uploads.moc"
