#include "uploadreruns.h"

#include "migrate/cancellablesource.h"
#include "queue/jobqueue.h"
#include "storage/blobstore.h"
#include "store/sharedrows.h"

namespace Ferry {

namespace {

// Up to 4 KiB of the content from its start (decompressed), to tell its format.
QByteArray headOf(ByteSource &source)
{
    QByteArray head;
    while (head.size() < 4096) {
        const std::string_view chunk = source.read(4096 - head.size());
        if (chunk.empty())
            break;
        head.append(chunk.data(), qsizetype(chunk.size()));
    }
    return head;
}

ByteSource::Options sourceOptions()
{
    ByteSource::Options options;
    options.maxDecompressedBytes = qint64(1) << 30; // a dry run reads a few rows
    return options;
}

// The payload's format, detected from the content when it names none.
Result<void> settleFormat(QJsonObject &payload,
                          const QString &contentType,
                          const QString &fileName,
                          const QByteArray &head)
{
    if (payload.contains(u"format"))
        return {};
    const DataFormat format = detectFormat(contentType, fileName,
                                           std::string_view(head.constData(), size_t(head.size())));
    if (format == DataFormat::Unknown) {
        return makeError(ErrorCode::InvalidArgument,
                         QStringLiteral("Cannot tell the format: the file does not look like CSV, "
                                        "TSV, NDJSON or JSON text."),
                         QStringLiteral("Name it: format csv, tsv, ndjson or json."));
    }
    payload.insert(QStringLiteral("format"), formatName(format));
    return {};
}

} // namespace

UploadReruns::UploadReruns(Store &store, JobQueue &queue, BlobStore &blobs, qsizetype maxColumns)
    : m_store(store), m_queue(queue), m_blobs(blobs), m_maxColumns(maxColumns)
{}

Result<std::optional<StoredUpload>> UploadReruns::find(const QString &sessionId,
                                                       std::optional<qint64> userId)
{
    auto session = m_store.session(sessionId, userId);
    if (!session)
        return session.error();
    if (!session->has_value())
        return std::optional<StoredUpload>();
    StoredUpload upload;
    upload.session = std::move(**session);
    auto last = m_store.sessionJob(upload.session.id);
    if (!last)
        return last.error();
    if (last->has_value()) {
        auto job = m_store.job((*last)->jobId, userId);
        if (!job)
            return job.error();
        if (job->has_value() && (*job)->type == u"migrate") {
            upload.lastPayload = (*job)->payload;
            upload.lastJob = std::move(**job);
        }
    }
    return std::optional<StoredUpload>(std::move(upload));
}

Result<RerunResult>
UploadReruns::rerun(const StoredUpload &upload, QJsonObject payload, int priority)
{
    if (upload.lastJob && (upload.lastJob->status == JobStatus::Pending ||
                           upload.lastJob->status == JobStatus::Running))
        return RerunResult{upload.lastJob->id, true};
    payload.insert(QStringLiteral("blob"), upload.session.blobId);
    if (!payload.contains(u"format")) {
        auto source = ByteSource::openBlob(m_blobs, upload.session.blobId, sourceOptions());
        if (!source)
            return source.error();
        if (auto known = settleFormat(payload, upload.session.contentType, upload.session.fileName,
                                      headOf(**source));
            !known)
            return known.error();
    }
    if (auto valid = parseMigrationPayload(payload); !valid)
        return valid.error();
    NewJob job;
    job.userId = upload.session.userId;
    job.sessionId = upload.session.id;
    job.type = QStringLiteral("migrate");
    job.payload = payload;
    job.priority = priority;
    // Two re-runs at once: the second finds the first pending and is refused.
    job.uniqueKey = QStringLiteral("rerun:") + upload.session.id;
    auto enqueued = m_queue.enqueue(job);
    if (!enqueued) {
        // Deleted since it was read (DELETE /api/v1/sessions/{id} at the same moment): the store
        // refuses a job naming it. That is the caller's 404, not a failing database.
        auto still = m_store.session(upload.session.id, upload.session.userId);
        if (still && !still->has_value()) {
            return makeError(ErrorCode::NotFound,
                             QStringLiteral("You have no upload session %1: it was deleted.")
                                 .arg(upload.session.id),
                             QStringLiteral("Upload the file again."));
        }
        return enqueued.error();
    }
    return RerunResult{enqueued->id, enqueued->deduplicated};
}

Result<DryRunResult> UploadReruns::dryRun(const StoredUpload &upload,
                                          QJsonObject payload,
                                          int rows,
                                          const std::function<bool()> &cancelled)
{
    if (!payload.contains(u"format")) {
        auto head = ByteSource::openBlob(m_blobs, upload.session.blobId, sourceOptions());
        if (!head)
            return head.error();
        if (auto known = settleFormat(payload, upload.session.contentType, upload.session.fileName,
                                      headOf(**head));
            !known)
            return known.error();
    }
    auto parsed = parseMigrationPayload(payload, PayloadUse::DryRun);
    if (!parsed)
        return parsed.error();
    auto source = ByteSource::openBlob(m_blobs, upload.session.blobId, sourceOptions());
    if (!source)
        return source.error();
    return preview(upload.session.userId, **source, std::move(*parsed), rows, cancelled);
}

Result<DryRunResult> UploadReruns::dryRunBytes(qint64 userId,
                                               const QByteArray &content,
                                               const QString &contentType,
                                               QJsonObject payload,
                                               int rows,
                                               const std::function<bool()> &cancelled)
{
    if (!payload.contains(u"format")) {
        auto head = ByteSource::fromBytes(content, sourceOptions());
        if (auto known = settleFormat(payload, contentType, {}, headOf(*head)); !known)
            return known.error();
    }
    auto parsed = parseMigrationPayload(payload, PayloadUse::DryRun);
    if (!parsed)
        return parsed.error();
    auto source = ByteSource::fromBytes(content, sourceOptions());
    return preview(userId, *source, std::move(*parsed), rows, cancelled);
}

Result<DryRunResult> UploadReruns::preview(qint64 userId,
                                           ByteSource &source,
                                           MigrationPayload payload,
                                           int rows,
                                           const std::function<bool()> &cancelled)
{
    DryRunResult result;
    // The key an import would upsert by (MigrateHandler's resolveKey, without writing it).
    result.key = payload.key;
    if (result.key.isEmpty() && payload.mapping)
        result.key = payload.mapping->key;
    if (!payload.dataset.isEmpty()) {
        auto dataset = m_store.datasets().dataset(userId, payload.dataset);
        if (!dataset)
            return dataset.error();
        const QString current = dataset->has_value() ? (*dataset)->key : QString();
        if (result.key.isEmpty())
            result.key = current;
        else if (!current.isEmpty() && current != result.key)
            result.problem = SharedRows::keyedByAnother(current, result.key).toString();
    }
    CancellableSource input(source, cancelled);
    result.preview = previewMigration(input, payload, result.key, rows, m_maxColumns);
    result.stoppedEarly = input.wasCancelled();
    if (result.problem.isEmpty() && !result.stoppedEarly)
        result.problem = result.preview.problem;
    result.payload = std::move(payload);
    return result;
}

} // namespace Ferry
