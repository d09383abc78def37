#include "migrationrequest.h"

#include "migrate/bytesource.h"
#include "migrate/jsonreader.h"

#include <QJsonObject>
#include <QUuid>

namespace Ferry {

namespace {

Result<BlobInfo> storeContent(BlobStore &blobs, QIODevice &content, qint64 expectedSize)
{
    auto writer = blobs.create(expectedSize);
    if (!writer)
        return writer.error();
    QByteArray buffer(1 << 16, Qt::Uninitialized);
    while (true) {
        const qint64 n = content.read(buffer.data(), buffer.size());
        if (n < 0) {
            return makeError(
                ErrorCode::Storage,
                QStringLiteral("Reading the upload failed: %1").arg(content.errorString()));
        }
        if (n == 0)
            break;
        if (auto written = (*writer)->write(buffer.constData(), n); !written)
            return written.error();
    }
    if ((*writer)->written() == 0) {
        return makeError(ErrorCode::InvalidArgument, QStringLiteral("The upload is empty."),
                         QStringLiteral("Send a CSV, TSV, NDJSON or JSON file with data in it."));
    }
    return (*writer)->commit();
}

// The first bytes of the content, decompressed when it is gzip, for sniffing.
QByteArray firstBytes(BlobStore &blobs, const QString &blobId)
{
    auto source = ByteSource::openBlob(blobs, blobId, {});
    if (!source)
        return {};
    QByteArray head;
    while (head.size() < 4096) {
        const std::string_view chunk = (*source)->read(4096 - head.size());
        if (chunk.empty())
            break;
        head.append(chunk.data(), qsizetype(chunk.size()));
    }
    return head;
}

// The dataset name, the reading options and the named format (Unknown: detect it), before
// anything is stored.
Result<DataFormat> checkRequest(const MigrationRequest &request)
{
    if (auto valid = validateDatasetName(request.dataset); !valid)
        return valid.error();
    if (!request.delimiter.isEmpty()) {
        if (auto valid = checkCsvCharacter(u"delimiter", request.delimiter); !valid)
            return valid.error();
    }
    if (request.quote && !request.quote->isEmpty()) {
        if (auto valid = checkCsvCharacter(u"quote", *request.quote); !valid)
            return valid.error();
    }
    if (request.format.isEmpty())
        return DataFormat::Unknown;
    const DataFormat format = formatFromName(request.format);
    if (format == DataFormat::Unknown) {
        return makeError(ErrorCode::InvalidArgument,
                         QStringLiteral("Unknown format '%1'.").arg(request.format.left(40)),
                         QStringLiteral("Use csv, tsv, ndjson or json."));
    }
    return format;
}

} // namespace

Result<QString> checkCsvCharacter(QStringView option, const QString &text)
{
    if (text == u"tab" || text == u"\\t")
        return QStringLiteral("\t");
    if (option == u"quote" && text == u"none")
        return QString();
    if (text.size() == 1 && text.at(0).unicode() < 128 && text.at(0) != u'\n' &&
        text.at(0) != u'\r') {
        return text;
    }
    return makeError(
        ErrorCode::InvalidArgument,
        QStringLiteral("%1 must be one ASCII character other than a line end, or 'tab'%2; got "
                       "'%3'.")
            .arg(option, option == u"quote" ? QStringLiteral(" or 'none'") : QString(),
                 text.left(20)),
        option == u"delimiter"
            ? QStringLiteral("For a semicolon write delimiter=%3B in a URL (';' must be "
                             "percent-encoded there).")
            : QString());
}

Result<SubmittedMigration> submitMigration(JobQueue &queue,
                                           BlobStore &blobs,
                                           const Clock &clock,
                                           const MigrationRequest &request,
                                           QIODevice &content,
                                           qint64 expectedSize)
{
    if (auto valid = checkRequest(request); !valid)
        return valid.error();
    auto blob = storeContent(blobs, content, expectedSize);
    if (!blob)
        return blob.error();
    auto submitted = submitStoredMigration(queue, blobs, clock, request, *blob);
    if (!submitted) {
        // Shared blobs (the same content uploaded before) stay for their other sessions.
        if (auto referenced = queue.store().blobReferenced(blob->id); referenced && !*referenced)
            (void)blobs.remove(blob->id, blob->lease);
    }
    return submitted;
}

Result<SubmittedMigration> submitStoredMigration(JobQueue &queue,
                                                 BlobStore &blobs,
                                                 const Clock &clock,
                                                 const MigrationRequest &request,
                                                 const BlobInfo &stored)
{
    auto requested = checkRequest(request);
    if (!requested)
        return requested.error();
    DataFormat format = *requested;
    const BlobInfo *blob = &stored;
    if (format == DataFormat::Unknown) {
        const QByteArray head = firstBytes(blobs, blob->id);
        format = detectFormat(request.contentType, request.fileName,
                              std::string_view(head.constData(), size_t(head.size())));
        if (format == DataFormat::Unknown) {
            return makeError(ErrorCode::InvalidArgument,
                             QStringLiteral("Cannot tell the format of '%1': it does not look like "
                                            "CSV, TSV, NDJSON or JSON text.")
                                 .arg(request.fileName.left(80)),
                             QStringLiteral("Name the format (format=csv, tsv, ndjson or json), or "
                                            "check that this is the right file."));
        }
    }

    QJsonObject payload{{QStringLiteral("blob"), blob->id},
                        {QStringLiteral("format"), formatName(format)},
                        {QStringLiteral("dataset"), request.dataset}};
    if (!request.mapping.isUndefined() && !request.mapping.isNull())
        payload.insert(QStringLiteral("mapping"), request.mapping);
    if (!request.key.isEmpty())
        payload.insert(QStringLiteral("key"), request.key);
    if (request.header)
        payload.insert(QStringLiteral("header"), *request.header);
    if (!request.delimiter.isEmpty())
        payload.insert(QStringLiteral("delimiter"),
                       *checkCsvCharacter(u"delimiter", request.delimiter));
    if (request.quote) {
        payload.insert(QStringLiteral("quote"), request.quote->isEmpty()
                                                    ? QString()
                                                    : *checkCsvCharacter(u"quote", *request.quote));
    }

    UploadSession session;
    session.id = QUuid::createUuid().toString(QUuid::WithoutBraces);
    session.userId = request.userId;
    session.fileName = request.fileName;
    session.contentType = request.contentType;
    session.sizeBytes = blob->size;
    session.blobId = blob->id;
    session.createdAt = clock.nowMs();

    NewJob job;
    job.userId = request.userId;
    job.type = QStringLiteral("migrate");
    job.payload = payload;
    job.priority = request.priority;
    job.session = session;
    job.completesTusUpload = request.completesTusUpload;
    auto enqueued = queue.enqueue(job);
    if (!enqueued)
        return enqueued.error();
    return SubmittedMigration{session.id, enqueued->id, *blob, formatName(format)};
}

} // namespace Ferry
