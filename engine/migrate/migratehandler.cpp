#include "migratehandler.h"

#include "migrate/batchcommitter.h"
#include "migrate/cancellablesource.h"
#include "migrate/migrationrows.h"

#include <QElapsedTimer>
#include <QFileInfo>
#include <QJsonDocument>
#include <QLoggingCategory>

namespace Ferry {

Q_LOGGING_CATEGORY(lcMigrate, "ferry.migrate")

namespace {

// One run of one attempt: reads from the checkpoint on, writes batches with their checkpoint.
class Import
{
public:
    Import(JobContext &context,
           DatasetStore &datasets,
           const MigrateConfig &config,
           const MigrationPayload &payload,
           MigrationCheckpoint state,
           ImportQuota *quota,
           qint64 storedBytes)
        : m_context(context)
        , m_datasets(datasets)
        , m_config(config)
        , m_payload(payload)
        , m_state(std::move(state))
        , m_maxRejected(payload.maxRejectedRows >= 0 ? payload.maxRejectedRows
                                                     : config.maxRejectedRows)
        , m_quota(quota)
        , m_storedBytes(storedBytes)
        , m_charged(std::max<qint64>(0, m_state.byteOffset - storedBytes))
    {
        m_batch.jobId = context.job().id;
        m_batch.leaseToken = context.job().leaseToken;
        m_batch.records.reserve(size_t(config.batchRows));
        m_timer.start();
    }

    MigrationCheckpoint &state() { return m_state; }

    void beginRow() { ++m_state.rowsRead; }

    void accept(RecordWrite &&record)
    {
        m_batchBytes += qint64(record.doc.size() + record.key.size());
        m_batch.records.push_back(std::move(record));
        ++m_state.rowsImported;
    }

    // Every reason the row was rejected is kept (for the first errorReportRows rows).
    bool reject(const QList<RowError> &errors)
    {
        if (m_state.rowsRejected < m_config.errorReportRows)
            m_batch.errors.append(errors);
        ++m_state.rowsRejected;
        return m_state.rowsRejected <= m_maxRejected;
    }

    // The row just handled ends at endOffset, and the next one starts at endLine: the resume
    // point written with the batch once it is full.
    Result<void> endRow(qint64 endOffset, qint64 endLine)
    {
        m_lastOffset = endOffset;
        m_state.line = endLine;
        if ((m_state.rowsRead & 1023) == 0 && m_progressTimer.hasExpired(1000))
            reportProgress();
        if (qsizetype(m_batch.records.size()) + m_batch.errors.size() >= m_config.batchRows ||
            m_batchBytes >= m_config.batchBytes)
            return flush(endOffset);
        return {};
    }

    Result<void> finish(qint64 bytesRead)
    {
        if (auto charged = charge(bytesRead); !charged)
            return charged;
        if (auto written = flush(m_lastOffset >= 0 ? m_lastOffset : m_state.byteOffset); !written)
            return written;
        return m_committer.close();
    }

    // The upload was charged its stored size; what is read beyond it (decompressed bytes) is
    // charged here, before the batch that read it is written. Refused past the byte limit: the
    // job fails for good and is undone (InvalidArgument: a permanent error).
    Result<void> charge(qint64 bytesRead)
    {
        const qint64 due = std::max<qint64>(0, bytesRead - m_storedBytes) - m_charged;
        if (!m_quota || due <= 0)
            return {};
        auto decision = m_quota->chargeImportBytes(m_context.job().userId, due);
        if (!decision)
            return decision.error();
        if (!decision->granted) {
            return makeError(
                ErrorCode::InvalidArgument,
                QStringLiteral("Monthly upload byte limit exceeded: the file decompresses to more "
                               "than the %1 bytes read so far (%2 stored), past what is left of "
                               "your monthly byte quota. Nothing of it was kept.")
                    .arg(bytesRead)
                    .arg(m_storedBytes),
                QStringLiteral("Import a smaller file, or wait for the quota to reset (GET "
                               "/api/v1/quota)."));
        }
        m_charged += due;
        return {};
    }

    // The job is undone: what it was charged beyond its upload is given back.
    void refundCharge()
    {
        if (m_quota && m_charged > 0)
            (void)m_quota->chargeImportBytes(m_context.job().userId, -m_charged);
        m_charged = 0;
    }

    // Stops writing (after what is already submitted), before the job's outcome is decided.
    void abandon() { (void)m_committer.close(); }

    Result<void> flush(qint64 offset)
    {
        if (auto charged = charge(offset); !charged)
            return charged;
        m_state.byteOffset = offset;
        m_batch.checkpoint = m_state;
        ImportBatch next;
        next.jobId = m_batch.jobId;
        next.leaseToken = m_batch.leaseToken;
        next.firstErrorSeq = qMin<qint64>(m_state.rowsRejected, m_config.errorReportRows);
        next.records.reserve(size_t(m_config.batchRows));
        m_batchBytes = 0;
        if (auto submitted = m_committer.submit(std::exchange(m_batch, std::move(next)));
            !submitted)
            return submitted;
        reportProgress();
        return {};
    }

    void reportProgress()
    {
        m_progressTimer.start();
        m_context.reportProgress(m_lastOffset >= 0 ? m_lastOffset : m_state.byteOffset,
                                 m_totalBytes, QStringLiteral("bytes"),
                                 {{QStringLiteral("rowsRead"), double(m_state.rowsRead)},
                                  {QStringLiteral("rowsImported"), double(m_state.rowsImported)},
                                  {QStringLiteral("rowsRejected"), double(m_state.rowsRejected)}});
    }

    bool tooManyRejected() const { return m_state.rowsRejected > m_maxRejected; }
    qint64 maxRejected() const { return m_maxRejected; }
    void setTotalBytes(qint64 total) { m_totalBytes = total; }
    qint64 elapsedMs() const { return m_timer.elapsed(); }

private:
    JobContext &m_context;
    DatasetStore &m_datasets;
    const MigrateConfig &m_config;
    const MigrationPayload &m_payload;
    MigrationCheckpoint m_state;
    ImportBatch m_batch;
    qint64 m_batchBytes = 0; // of m_batch's documents and keys
    qint64 m_maxRejected;
    qint64 m_lastOffset = -1;
    qint64 m_totalBytes = 0;
    QElapsedTimer m_timer;
    QElapsedTimer m_progressTimer;
    BatchCommitter m_committer{m_datasets};
    ImportQuota *m_quota;
    qint64 m_storedBytes;
    qint64 m_charged; // beyond the stored size, by this job (resumed: up to its checkpoint)
};

// How an attempt ended, before deciding whether to undo.
struct Ending
{
    enum Kind { Done, Permanent, Transient, Cancelled } kind = Done;
    Error error;            // Permanent, Transient: what the job's outcome reports
    bool leaseLost = false; // another node holds the job now: never undo its work
};

} // namespace

MigrateHandler::MigrateHandler(DatasetStore &datasets,
                               BlobStore &blobs,
                               const Clock &clock,
                               MigrateConfig config)
    : m_datasets(datasets), m_blobs(blobs), m_clock(clock), m_config(config)
{
    if (m_config.batchRows <= 0)
        m_config.batchRows = datasets.importBatchRows();
    m_config.batchRows = qMax(1, m_config.batchRows);
    m_config.batchBytes = qMax<qint64>(1, m_config.batchBytes);
}

Result<void> MigrateHandler::validatePayload(const QJsonObject &payload) const
{
    auto parsed = parseMigrationPayload(payload);
    if (!parsed)
        return parsed.error();
    return {};
}

namespace {

Result<void> resolveKey(DatasetStore &datasets, MigrationPayload &p, qint64 datasetId)
{
    // A dataset has at most one key. The import's (the key parameter or the mapping's) becomes
    // the dataset's if it has none; an import that names none upserts by the dataset's.
    if (p.key.isEmpty() && p.mapping)
        p.key = p.mapping->key;
    if (p.key.isEmpty()) {
        auto key = datasets.datasetKey(datasetId);
        if (!key)
            return key.error();
        p.key = *key;
        return {};
    }
    return datasets.useKey(datasetId, p.key);
}

// Why a file that read without error gave no rows, and what to do about it.
QString noRows(const MigrationPayload &p, qsizetype columns)
{
    if (p.format == DataFormat::Csv || p.format == DataFormat::Tsv) {
        return p.header ? QStringLiteral("The file has no rows: it is one header line (%1 "
                                         "columns) and nothing after it. Sent with curl -d? It "
                                         "removes line breaks: use --data-binary @file or "
                                         "-F file=@file.")
                              .arg(columns)
                        : QStringLiteral("The file has no rows: it holds only blank lines.");
    }
    return p.format == DataFormat::Json
               ? QStringLiteral("The file has no records: its JSON array is empty.")
               : QStringLiteral("The file has no records: it holds only blank lines.");
}

} // namespace

// What an attempt starts from: its payload (the key resolved), the file opened, and the
// checkpoint it resumes from (a fresh one, on the dataset made for it, for a first attempt).
struct AttemptStart
{
    MigrationPayload payload;
    std::unique_ptr<ByteSource> source;
    qint64 storedBytes = 0; // the file's size as stored (compressed, for a gzip upload)
    MigrationCheckpoint checkpoint;
    bool resuming = false;
};

namespace {

// Reads every row after the checkpoint into the import: the one loop behind every format
// (MigrationRows reads CSV, TSV, NDJSON and JSON alike). Leaves the dataset's columns in
// columns and columnTypes.
Ending importRows(JobContext &context,
                  const AttemptStart &start,
                  CancellableSource &input,
                  Import &import,
                  qsizetype maxColumns,
                  QJsonArray &columns,
                  QJsonObject &columnTypes)
{
    const MigrationPayload &p = start.payload;
    auto fail = [&](const Error &error) {
        if (input.wasCancelled())
            return Ending{Ending::Cancelled, {}};
        return Ending{error.code == ErrorCode::InvalidArgument ? Ending::Permanent
                                                               : Ending::Transient,
                      error, error.code == ErrorCode::Conflict};
    };
    // A reader's error, unless the reader stopped because the job was cancelled.
    auto unreadable = [&](const Error &error) {
        return input.wasCancelled() ? Ending{Ending::Cancelled, {}}
                                    : Ending{Ending::Permanent, error};
    };
    MigrationRows rows(input, p, p.key, maxColumns);
    if (start.resuming) {
        const MigrationCheckpoint &at = import.state();
        if (auto resumed = rows.resume(at.byteOffset, at.line, at.state); !resumed)
            return fail(resumed.error());
    } else {
        if (auto started = rows.start(); !started)
            return fail(started.error());
        import.state().byteOffset = rows.startOffset();
        import.state().line = rows.startLine();
        import.state().state = rows.state();
    }
    columns = rows.columns();
    columnTypes = rows.columnTypes();
    MigrationRows::Row row;
    while (true) {
        if (context.isCancelled())
            return Ending{Ending::Cancelled, {}};
        const auto status = rows.next(row);
        if (status == MigrationRows::Status::End)
            break;
        if (status == MigrationRows::Status::Failed)
            return unreadable(rows.error());
        import.beginRow();
        if (row.accepted())
            import.accept(std::move(row.record));
        else if (!import.reject(row.errors))
            return Ending{Ending::Permanent,
                          makeError(ErrorCode::InvalidArgument,
                                    QStringLiteral("%1 rows were rejected, more than the limit "
                                                   "of %2. The job report lists the first of "
                                                   "them.")
                                        .arg(import.state().rowsRejected)
                                        .arg(import.maxRejected()))};
        if (auto ended = import.endRow(row.endOffset, row.endLine); !ended)
            return fail(ended.error());
    }
    if (input.error())
        return unreadable(*input.error());
    if (import.state().rowsRead == 0)
        return Ending{Ending::Permanent,
                      makeError(ErrorCode::InvalidArgument, noRows(p, columns.size()))};
    if (auto finished = import.finish(start.source->offset()); !finished)
        return fail(finished.error());
    return Ending{};
}

} // namespace

std::variant<JobOutcome, AttemptStartPtr> MigrateHandler::begin(const ClaimedJob &job) const
{
    auto payload = parseMigrationPayload(job.payload);
    if (!payload)
        return JobOutcome::permanentError(payload.error());
    auto start = std::make_unique<AttemptStart>();
    start->payload = *payload;

    auto reader = m_blobs.open(start->payload.blob);
    if (!reader) {
        if (reader.error().code == ErrorCode::NotFound)
            return JobOutcome::permanentError(reader.error());
        return JobOutcome::transientError(reader.error()); // the database, not the upload
    }
    const qint64 storedBytes = (*reader)->size();
    ByteSource::Options sourceOptions;
    sourceOptions.maxDecompressedBytes = m_config.maxDecompressedBytes;
    auto source = ByteSource::fromReader(std::move(*reader), sourceOptions);
    if (!source)
        return JobOutcome::transientError(source.error());
    start->source = std::move(*source);
    start->storedBytes = storedBytes;

    auto saved = m_datasets.checkpoint(job.id);
    if (!saved)
        return JobOutcome::transientError(saved.error());
    if (saved->has_value()) {
        start->checkpoint = **saved;
        start->resuming = true;
    } else {
        auto dataset =
            m_datasets.ensureDataset(job.userId, start->payload.dataset, m_clock.nowMs());
        if (!dataset)
            return JobOutcome::transientError(dataset.error());
        start->checkpoint.datasetId = *dataset;
        start->checkpoint.line = 1;
    }
    if (auto keyed = resolveKey(m_datasets, start->payload, start->checkpoint.datasetId); !keyed) {
        return keyed.error().code == ErrorCode::Conflict
                   ? JobOutcome::permanentError(keyed.error())
                   : JobOutcome::transientError(keyed.error());
    }
    return start;
}

JobOutcome MigrateHandler::run(JobContext &context)
{
    const ClaimedJob &job = context.job();
    auto begun = begin(job);
    if (auto *refused = std::get_if<JobOutcome>(&begun))
        return *refused;
    const AttemptStart &start = *std::get<AttemptStartPtr>(begun);
    const MigrationPayload &p = start.payload;

    // The readers read through this: a cancel or the job timeout stops any step within one read.
    CancellableSource input(*start.source, [&context] { return context.isCancelled(); });
    Import import(context, m_datasets, m_config, p, start.checkpoint, m_quota, start.storedBytes);
    import.setTotalBytes(start.storedBytes);
    QJsonArray columns;
    QJsonObject columnTypes;
    const Ending ending =
        importRows(context, start, input, import, m_config.maxColumns, columns, columnTypes);
    import.abandon(); // every batch submitted is written (or failed) before any undo
    if (ending.leaseLost)
        qCWarning(lcMigrate) << "job" << job.id
                             << "lost its lease to another node (this node was cut off or too "
                                "slow); stopped it without writing more";
    const qint64 datasetId = import.state().datasetId;
    // Fenced by this attempt's lease: a stale attempt never deletes what the current one wrote.
    // What is not undone here (no room on the disk, the store away, the process killed) is
    // undone once the job has ended, by the MigrationUndoSweeper of any node.
    auto undo = [&] {
        if (auto undone = m_datasets.undoJob(job.id, datasetId, job.leaseToken); !undone)
            qCWarning(lcMigrate) << "job" << job.id
                                 << "could not be undone now:" << undone.error().toString();
        else
            import.refundCharge();
    };
    switch (ending.kind) {
    case Ending::Done:
        break;
    case Ending::Permanent:
        undo();
        return JobOutcome::permanentError(ending.error);
    case Ending::Transient:
        if (job.attempt >= job.maxAttempts && !ending.leaseLost)
            undo(); // the last attempt: the job ends dead, so nothing of it stays
        return JobOutcome::transientError(ending.error);
    case Ending::Cancelled:
        // A timeout or a shutdown resumes later from the checkpoint; a cancel undoes the import.
        if (context.cancelReason() == CancelReason::Requested ||
            (context.cancelReason() == CancelReason::Timeout && job.attempt >= job.maxAttempts))
            undo();
        return JobOutcome::cancelled();
    }
    if (!columns.isEmpty())
        (void)m_datasets.setColumns(datasetId, columns, columnTypes, m_clock.nowMs());
    if (!p.key.isEmpty())
        (void)m_datasets.forgetUndo(job.id, datasetId);
    const MigrationCheckpoint &s = import.state();
    return JobOutcome::completed({{QStringLiteral("dataset"), p.dataset},
                                  {QStringLiteral("rowsRead"), double(s.rowsRead)},
                                  {QStringLiteral("rowsImported"), double(s.rowsImported)},
                                  {QStringLiteral("rowsRejected"), double(s.rowsRejected)},
                                  {QStringLiteral("bytes"), double(s.byteOffset)},
                                  {QStringLiteral("durationMs"), double(import.elapsedMs())}});
}

} // namespace Ferry
