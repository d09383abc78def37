#pragma once

// The upload route's test fixture (POST /api/v1/uploads end to end): a real server on loopback,
// real HTTP over QTcpSocket (tests/support/httpclient.h), a real store (SQLite or PostgreSQL,
// tests/support/testbackend.h) and blob directory, and a running dispatcher with the migrate
// handler, so an accepted upload's job completes and its records can be read back. Shared by
// tst_uploads (the body formats), tst_uploadrefusals (what is refused, and what a refusal
// leaves), tst_uploadreplay (Idempotency-Key) and tst_uploadquota.
#include "api/apihandler.h"
#include "api/jobroutes.h"
#include "api/uploadroutes.h"
#include "gzip.h"
#include "http/httpserver.h"
#include "httpclient.h"
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

namespace Ferry::Test {

// 2026-11-29 12:00 UTC: the month resets 36 hours later.
inline const qint64 s_now =
    QDateTime(QDate(2026, 11, 29), QTime(12, 0), QTimeZone::utc()).toMSecsSinceEpoch();
inline constexpr qint64 s_secondsToNextMonth = 36 * 3600;

inline const QByteArray s_csv = "id,name,active\n1,Ada,1\n2,Grace,0\n3,Linus,yes\n";
inline const QByteArray s_mapping =
    "{\"fields\": [{\"name\": \"id\", \"type\": \"integer\", "
    "\"required\": true}, {\"name\": \"name\"}, {\"name\": \"active\", "
    "\"type\": \"boolean\"}], \"key\": \"id\"}";

inline QList<QJsonObject> expectedPeople()
{
    auto person = [](int id, const char *name, bool active) {
        return QJsonObject{{QStringLiteral("id"), id},
                           {QStringLiteral("name"), QString::fromLatin1(name)},
                           {QStringLiteral("active"), active}};
    };
    return {person(1, "Ada", true), person(2, "Grace", false), person(3, "Linus", true)};
}

inline QByteArray encoded(const QByteArray &text)
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

inline QByteArray form(const QByteArray &boundary, const QList<FormPart> &parts)
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

inline QByteArray formType(const QByteArray &boundary)
{
    return "multipart/form-data; boundary=" + boundary;
}

inline const QByteArray s_boundary = "------------------------d74496d66958873e";

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

using Reply = HttpReply;

inline QByteArray requestHead(const QByteArray &target,
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
    Result<std::unique_ptr<BlobReader>> open(const QString &id) override { return m_disk.open(id); }
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

struct UploadsFixtureOptions
{
    qint64 maxUploadBytes = qint64(8) << 20;
    qint64 freeDiskFloor = 0;
    qint64 diskRoomBytes = -1; // >= 0: uploads run out of disk after this many bytes
};

struct UploadsFixture
{
    explicit UploadsFixture(UploadsFixtureOptions options = {})
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
        keys = std::make_unique<IdempotencyKeys>(*t.store, t.clock, QStringLiteral("test-node"));
        uploads = std::make_unique<UploadRoutes>(
            *queue, filling ? static_cast<BlobStore &>(*filling) : blobs, t.clock, &quota, *keys,
            uploadOptions);
        api->addRoutes(*jobs);
        api->addRoutes(*uploads);
        server = std::make_unique<Http::HttpServer>(*api);
        port = *server->listen(QHostAddress::LocalHost, 0);
        if (!dispatcher->start())
            qFatal("the dispatcher did not start");
    }

    ~UploadsFixture()
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
        return sendRawHttp(port, head + body);
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

    // Waits until Alice holds no quota reservation and has `counted` uploads counted. A refused
    // upload's release (or the refund of one stored, then refused) runs on the quota's pool
    // after the answer: a network thread never waits for the database.
    bool waitForAliceQuota(int counted)
    {
        return waitFor([&] {
            const TestQuota::Usage usage = quota.usage(alice);
            return usage.heldUploads == 0 && usage.uploads == counted;
        });
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
    std::unique_ptr<IdempotencyKeys> keys;
    std::unique_ptr<UploadRoutes> uploads;
    std::unique_ptr<ApiHandler> api;
    std::unique_ptr<Http::HttpServer> server;
    quint16 port = 0;
    qint64 alice = 0, bob = 0;
    QByteArray aliceToken, bobToken;
};

// The uploads target with the people mapping.
inline QByteArray peopleTarget(const QByteArray &dataset = "people")
{
    return "/api/v1/uploads?dataset=" + dataset + "&mapping=" + encoded(s_mapping);
}

} // namespace Ferry::Test
