#include "uploads/tusuploads.h"

#include "migrate/jsonreader.h"
#include "migrate/mapping.h"
#include "migrate/migrationrequest.h"
#include "quota/tierpolicy.h"
#include "store/datasetstore.h"

#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QJsonDocument>
#include <QLoggingCategory>
#include <QRandomGenerator>
#include <QRegularExpression>
#include <QtConcurrent/QtConcurrentRun>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace Ferry {

Q_LOGGING_CATEGORY(lcTus, "ferry.tus")

namespace {

Error notFound(const QString &id)
{
    return makeError(ErrorCode::NotFound, QStringLiteral("You have no upload %1.").arg(id.left(40)),
                     QStringLiteral("Create one with POST /api/v1/tus; unfinished uploads expire "
                                    "after a day."));
}

QString newUploadId()
{
    quint32 words[4];
    QRandomGenerator::system()->fillRange(words);
    return QString::fromLatin1(
        QByteArray(reinterpret_cast<const char *>(words), sizeof(words)).toHex());
}

QJsonObject quotaJson(const QuotaReservation &reservation)
{
    return {{QStringLiteral("userId"), reservation.userId},
            {QStringLiteral("period"), reservation.period},
            {QStringLiteral("bytes"), reservation.bytes},
            {QStringLiteral("id"), reservation.id}};
}

QuotaReservation quotaFrom(const QJsonObject &json)
{
    QuotaReservation reservation;
    reservation.userId = json.value(u"userId").toInteger();
    reservation.period = json.value(u"period").toString();
    reservation.bytes = json.value(u"bytes").toInteger();
    reservation.id = json.value(u"id").toInteger();
    return reservation;
}

Error invalid(const QString &message, const QString &hint)
{
    return makeError(ErrorCode::InvalidArgument, message, hint);
}

// The metadata a migration needs, checked at creation so a client learns of a bad dataset name
// before sending gigabytes.
Result<void> validateMetadata(const QJsonObject &metadata)
{
    const QString dataset = metadata.value(u"dataset").toString();
    if (dataset.isEmpty()) {
        return invalid(QStringLiteral("Upload-Metadata has no dataset."),
                       QStringLiteral("Send 'dataset <base64 of the dataset name>' in "
                                      "Upload-Metadata."));
    }
    if (auto valid = validateDatasetName(dataset); !valid)
        return valid.error();
    const QString format = metadata.value(u"format").toString();
    if (!format.isEmpty() && formatFromName(format) == DataFormat::Unknown) {
        return invalid(QStringLiteral("Unknown format '%1'.").arg(format.left(40)),
                       QStringLiteral("Use csv, tsv, ndjson or json, or leave format out."));
    }
    if (metadata.contains(u"mapping")) {
        QJsonParseError error;
        const QJsonDocument document =
            QJsonDocument::fromJson(metadata.value(u"mapping").toString().toUtf8(), &error);
        if (error.error != QJsonParseError::NoError || !document.isObject()) {
            return invalid(QStringLiteral("The mapping in Upload-Metadata is not a JSON object."),
                           QStringLiteral("Send the mapping as JSON text, base64-encoded."));
        }
        if (auto mapping = Mapping::fromJson(document.object()); !mapping)
            return mapping.error();
    }
    const QString header = metadata.value(u"header").toString();
    if (!header.isEmpty() && header != u"true" && header != u"false") {
        return invalid(QStringLiteral("header must be true or false."),
                       QStringLiteral("Leave it out to let Ferry decide."));
    }
    return {};
}

MigrationRequest migrationRequest(const TusUploadRecord &upload)
{
    const QJsonObject &m = upload.metadata;
    MigrationRequest request;
    request.userId = upload.userId;
    request.dataset = m.value(u"dataset").toString();
    request.format = m.value(u"format").toString();
    request.key = m.value(u"key").toString();
    request.fileName =
        m.contains(u"filename") ? m.value(u"filename").toString() : m.value(u"name").toString();
    request.contentType = m.value(u"filetype").toString();
    request.delimiter = m.value(u"delimiter").toString();
    if (m.contains(u"header"))
        request.header = m.value(u"header").toString() == u"true";
    if (m.contains(u"quote"))
        request.quote = m.value(u"quote").toString();
    if (m.contains(u"mapping"))
        request.mapping = QJsonDocument::fromJson(m.value(u"mapping").toString().toUtf8()).object();
    return request;
}

} // namespace

TusUploads::TusUploads(Store &store,
                       JobQueue &queue,
                       BlobStore &blobs,
                       const Clock &clock,
                       UploadQuota *quota,
                       TusOptions options)
    : m_store(store)
    , m_queue(queue)
    , m_blobs(blobs)
    , m_gate(blobs, quota, options.maxSize)
    , m_clock(clock)
    , m_quota(quota)
    , m_options(std::move(options))
{}

TusUploads::~TusUploads()
{
    m_pool.waitForDone();
}

QFuture<TusUploads::BeginResult>
TusUploads::beginAppendLater(const QString &id, qint64 userId, qint64 offset)
{
    return QtConcurrent::run(&m_pool, [this, id, userId, offset]() -> BeginResult {
        auto begun = beginAppend(id, userId, offset);
        if (!begun)
            return {nullptr, begun.error()};
        return {std::shared_ptr<TusAppend>(std::move(*begun)), {}};
    });
}

void TusUploads::keepLater(QFuture<BeginResult> begin, QByteArray pending)
{
    // A continuation, not a blocked thread: the begin may still be queued on the same pool.
    begin.then(&m_pool, [pending = std::move(pending)](const BeginResult &begun) {
        if (!begun.append)
            return;
        if (!pending.isEmpty())
            (void)begun.append->write(pending);
        begun.append->keep();
    });
}

bool TusUploads::takePendingBudget(qint64 bytes)
{
    if (m_pendingBytes.fetch_add(bytes) + bytes <= m_options.maxPendingBytesTotal)
        return true;
    m_pendingBytes.fetch_sub(bytes);
    return false;
}

void TusUploads::returnPendingBudget(qint64 bytes)
{
    m_pendingBytes.fetch_sub(bytes);
}

bool TusUploads::isUploadId(QByteArrayView id)
{
    if (id.size() != 32)
        return false;
    for (char c : id) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    return true;
}

Result<QJsonObject> TusUploads::parseMetadata(const QByteArray &header)
{
    QJsonObject metadata;
    for (const QByteArray &rawPair : header.split(',')) {
        const QByteArray pair = rawPair.trimmed();
        if (pair.isEmpty())
            continue;
        const qsizetype space = pair.indexOf(' ');
        const QByteArray key = space < 0 ? pair : pair.left(space);
        const QByteArray value = space < 0 ? QByteArray() : pair.mid(space + 1).trimmed();
        static const QRegularExpression keyPattern(
            QRegularExpression::anchoredPattern(QStringLiteral("[A-Za-z0-9_.\\-]{1,64}")));
        if (!keyPattern.match(QString::fromLatin1(key)).hasMatch()) {
            return invalid(QStringLiteral("Upload-Metadata has an invalid key '%1'.")
                               .arg(QString::fromLatin1(key.left(40))),
                           QStringLiteral("Keys are ASCII letters, digits, '_', '.' or '-'."));
        }
        const auto decoded =
            QByteArray::fromBase64Encoding(value, QByteArray::AbortOnBase64DecodingErrors);
        if (!decoded) {
            return invalid(QStringLiteral("The Upload-Metadata value of '%1' is not base64.")
                               .arg(QString::fromLatin1(key)),
                           QStringLiteral("Send 'key base64value' pairs separated by commas."));
        }
        if (metadata.contains(QString::fromLatin1(key))) {
            return invalid(QStringLiteral("Upload-Metadata repeats the key '%1'.")
                               .arg(QString::fromLatin1(key)),
                           QStringLiteral("Send each key once."));
        }
        metadata.insert(QString::fromLatin1(key), QString::fromUtf8(*decoded));
    }
    return metadata;
}

Result<TusCreation> TusUploads::create(qint64 userId, qint64 length, const QJsonObject &metadata)
{
    if (length <= 0) {
        return invalid(QStringLiteral("The upload is empty."),
                       QStringLiteral("Send a CSV, TSV, NDJSON or JSON file with data in it."));
    }
    if (auto valid = validateMetadata(metadata); !valid)
        return valid.error();
    TusCreation creation;
    TusUploadRecord upload;
    upload.id = newUploadId();
    upload.userId = userId;
    upload.length = length;
    upload.metadata = metadata;
    upload.createdAt = upload.updatedAt = m_clock.nowMs();
    // The checks a plain upload passes: size, free-disk floor, quota (owned by this upload, so
    // it outlives a restart and goes when the upload does).
    auto admission = m_gate.admit(userId, length, upload.id);
    if (!admission)
        return admission.error();
    if (admission->refused == UploadAdmission::Refusal::TooLarge) {
        creation.tooLarge = admission->message;
        return creation;
    }
    if (admission->refused == UploadAdmission::Refusal::Quota) {
        creation.refused = admission->quota;
        return creation;
    }
    if (m_quota)
        upload.quota = quotaJson(admission->quota.reservation);
    auto fail = [&](Error error) -> Result<TusCreation> {
        releaseQuota(upload);
        QFile::remove(partPath(upload.id));
        return error;
    };
    if (m_options.parts) {
        // In the database: the row first, then room for its bytes (createPart names the row).
        if (auto inserted = m_store.insertTusUpload(upload); !inserted)
            return fail(inserted.error());
        if (auto made = m_options.parts->createPart(upload.id); !made) {
            (void)m_store.deleteTusUpload(upload.id);
            return fail(made.error());
        }
        creation.upload = upload;
        return creation;
    }
    if (!QDir().mkpath(m_options.directory)) {
        return fail(makeError(ErrorCode::Storage,
                              QStringLiteral("Cannot create %1.").arg(m_options.directory)));
    }
    QFile part(partPath(upload.id));
    if (!part.open(QIODevice::WriteOnly | QIODevice::NewOnly)) {
        return fail(makeError(
            ErrorCode::Storage,
            QStringLiteral("Cannot create the upload's file: %1").arg(part.errorString())));
    }
    part.close();
    if (auto inserted = m_store.insertTusUpload(upload); !inserted)
        return fail(inserted.error());
    creation.upload = upload;
    return creation;
}

Result<std::optional<TusUploadRecord>> TusUploads::find(const QString &id, qint64 userId)
{
    if (!isUploadId(id.toLatin1()))
        return std::optional<TusUploadRecord>();
    return m_store.tusUpload(id, userId);
}

Result<std::unique_ptr<TusAppend>>
TusUploads::beginAppend(const QString &id, qint64 userId, qint64 offset)
{
    if (!isUploadId(id.toLatin1()))
        return notFound(id);
    auto found = m_store.tusUpload(id, userId);
    if (!found)
        return found.error();
    if (!found->has_value())
        return notFound(id);
    if (!tryLock(id)) {
        return makeError(
            ErrorCode::Conflict,
            QStringLiteral("Upload %1 is being written by another request.").arg(id),
            QStringLiteral("Wait for it to finish (or time out), then ask HEAD for the "
                           "offset and resume from there."));
    }
    auto unlocked = [&](Error error) -> Result<std::unique_ptr<TusAppend>> {
        unlock(id);
        return error;
    };
    TusUploadRecord upload = **found;
    if (upload.complete() || upload.offset == upload.length) {
        // All bytes are here: nothing is written (the file may already be the blob's, linked),
        // a zero-byte PATCH at the end completes it, or repeats the answer.
        if (offset != upload.length) {
            return unlocked(makeError(
                ErrorCode::Conflict,
                QStringLiteral("Upload %1 has all its %2 bytes.").arg(id).arg(upload.length),
                QStringLiteral("Nothing more can be appended.")));
        }
        return std::unique_ptr<TusAppend>(new TusAppend(*this, upload, -1));
    }
    // The free-disk floor, as for a plain upload: the rest must fit.
    if (auto room = m_blobs.checkSpace(upload.length - upload.offset); !room)
        return unlocked(room.error());
    if (m_options.parts) {
        // In the database: the hold on the upload is the store's, across nodes (the lock above
        // only answers a second PATCH on this node sooner).
        auto part = m_options.parts->beginPartAppend(id, offset, m_clock.nowMs());
        if (!part)
            return unlocked(part.error());
        return std::unique_ptr<TusAppend>(new TusAppend(*this, upload, std::move(*part)));
    }
    const QString path = partPath(id);
    const int fd = ::open(QFile::encodeName(path).constData(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        return unlocked(makeError(ErrorCode::Storage,
                                  QStringLiteral("The data of upload %1 is gone.").arg(id),
                                  QStringLiteral("Terminate it and upload again.")));
    }
    // Uploads reachable from every node: the in-process lock above does not see another node's
    // append to the same file in a shared --blob-dir; a lock on the file does (flock, which Linux
    // maps to a lock of the whole file on NFS). Held until the append closes the file.
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        ::close(fd);
        return unlocked(
            makeError(ErrorCode::Conflict,
                      QStringLiteral("Upload %1 is being written by another request.").arg(id),
                      QStringLiteral("Wait for it to finish (or time out), then ask HEAD for the "
                                     "offset and resume from there.")));
    }
    // The store's offset is what was made durable; bytes past it (a crash between the write and
    // the record) are dropped, and a file shorter than it (lost writes) lowers it.
    struct stat info
    {};
    if (::fstat(fd, &info) != 0 ||
        (info.st_size > upload.offset && ::ftruncate(fd, upload.offset))) {
        ::close(fd);
        return unlocked(makeError(ErrorCode::Storage,
                                  QStringLiteral("Cannot prepare the data of upload %1.").arg(id)));
    }
    if (info.st_size < upload.offset) {
        upload.offset = info.st_size;
        (void)m_store.setTusOffset(id, upload.offset, m_clock.nowMs());
    }
    if (offset != upload.offset) {
        ::close(fd);
        return unlocked(
            makeError(ErrorCode::Conflict,
                      QStringLiteral("Upload-Offset %1 is not the upload's offset %2.")
                          .arg(offset)
                          .arg(upload.offset),
                      QStringLiteral("Ask HEAD for the offset and resume from there.")));
    }
    if (::lseek(fd, upload.offset, SEEK_SET) < 0) {
        ::close(fd);
        return unlocked(makeError(ErrorCode::Storage,
                                  QStringLiteral("Cannot seek in the data of upload %1.").arg(id)));
    }
    return std::unique_ptr<TusAppend>(new TusAppend(*this, upload, fd));
}

Result<void> TusUploads::terminate(const QString &id, qint64 userId)
{
    if (!isUploadId(id.toLatin1()))
        return notFound(id);
    auto found = m_store.tusUpload(id, userId);
    if (!found)
        return found.error();
    if (!found->has_value())
        return notFound(id);
    if (!tryLock(id)) {
        return makeError(ErrorCode::Conflict,
                         QStringLiteral("Upload %1 is being written by another request.").arg(id),
                         QStringLiteral("Try again once that request finished."));
    }
    discard(**found);
    unlock(id);
    return {};
}

bool TusUploads::tryLock(const QString &id)
{
    QMutexLocker lock(&m_mutex);
    if (m_busy.contains(id))
        return false;
    m_busy.insert(id);
    return true;
}

void TusUploads::unlock(const QString &id)
{
    QMutexLocker lock(&m_mutex);
    m_busy.remove(id);
}

QString TusUploads::partPath(const QString &id) const
{
    Q_ASSERT(isUploadId(id.toLatin1()));
    return m_options.directory + u'/' + id + QStringLiteral(".part");
}

void TusUploads::releaseQuota(const TusUploadRecord &upload)
{
    if (m_quota && !upload.quota.isEmpty())
        m_quota->release(quotaFrom(upload.quota));
}

void TusUploads::discard(const TusUploadRecord &upload)
{
    if (auto deleted = m_store.deleteTusUpload(upload.id); !deleted) {
        qCWarning(lcTus) << deleted.error().toString();
        return; // keep the file for the row that is still there
    }
    if (!upload.complete())
        releaseQuota(upload);
    QFile::remove(partPath(upload.id));
}

// Exactly once per upload, whatever crashes or repeats: the .part file is linked into the blob
// store (not copied), then the session, the job and the upload's "complete" mark are written in
// one transaction. A repeat (an empty PATCH after a lost answer, another node) finds the mark and
// answers the same job; a failure before the commit leaves the .part file for the retry.
Result<TusUploadRecord> TusUploads::complete(TusUploadRecord upload)
{
    // Ranked as every upload by a user (POST /api/v1/uploads, a re-run): the tier's base and a
    // size step, so a small tus upload does not wait behind a plain one of the same size.
    auto owner = m_store.userById(upload.userId);
    if (!owner)
        return owner.error(); // kept: a zero-byte PATCH at the end tries again
    auto blob = m_options.parts ? m_options.parts->completePart(upload.id)
                                : m_blobs.adopt(partPath(upload.id));
    if (!blob)
        return blob.error(); // kept: a zero-byte PATCH at the end tries again
    MigrationRequest request = migrationRequest(upload);
    request.completesTusUpload = upload.id;
    request.priority = uploadPriority(*owner ? (*owner)->tier : QString(), upload.length, {});
    auto submitted = submitStoredMigration(m_queue, m_blobs, m_clock, request, *blob);
    if (!submitted) {
        if (submitted.error().code == ErrorCode::Conflict) {
            // Completed meanwhile (by a request that raced this one): its job is the answer.
            auto current = m_store.tusUpload(upload.id, std::nullopt);
            if (current && current->has_value() && (*current)->complete()) {
                QFile::remove(partPath(upload.id));
                return **current;
            }
            return submitted.error();
        }
        // Shared blobs (the same content uploaded before) stay for their other sessions. In the
        // database the blob is the upload's own bytes, which a retry needs: its lease and
        // collect() decide.
        if (!m_options.parts) {
            if (auto referenced = m_store.blobReferenced(blob->id); referenced && !*referenced)
                (void)m_blobs.remove(blob->id, blob->lease);
        }
        // Content that cannot be imported will not become importable by trying again.
        if (submitted.error().code == ErrorCode::InvalidArgument)
            discard(upload);
        return submitted.error();
    }
    if (m_quota && !upload.quota.isEmpty()) {
        auto settled = m_quota->settle(quotaFrom(upload.quota), upload.length);
        if (!settled)
            qCWarning(lcTus) << "settling the quota of upload" << upload.id
                             << settled.error().toString();
    }
    upload.sessionId = submitted->sessionId;
    upload.jobId = submitted->jobId;
    upload.offset = upload.length;
    upload.quota = {};
    upload.updatedAt = m_clock.nowMs();
    QFile::remove(partPath(upload.id)); // the blob keeps the bytes (a link to the same file)
    return upload;
}

} // namespace Ferry
