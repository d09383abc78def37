#include "migratehandler.h"

#include "migrate/batchcommitter.h"
#include "migrate/cancellablesource.h"
#include "migrate/csvreader.h"
#include "migrate/jsonreader.h"
#include "migrate/recordconverter.h"

#include <QElapsedTimer>
#include <QFileInfo>
#include <QJsonDocument>
#include <QLoggingCategory>

namespace Ferry {

Q_LOGGING_CATEGORY(lcMigrate, "ferry.migrate")

namespace {

struct Payload
{
    QString blob;
    DataFormat format = DataFormat::Unknown;
    QString dataset;
    std::optional<Mapping> mapping;
    QString key;
    bool header = true;
    char delimiter = 0;
    char quote = '"';
    bool quoteSet = false;
    qint64 maxRejectedRows = -1;
};

Error payloadError(const QString &message, const QString &hint = {})
{
    return makeError(ErrorCode::InvalidArgument, message, hint);
}

Result<char> singleCharacter(const QJsonObject &payload, QStringView name)
{
    const QString text = payload.value(name).toString();
    if (text.size() != 1 || text.at(0).unicode() > 127 || text.at(0) == u'\n' ||
        text.at(0) == u'\r') {
        return payloadError(
            QStringLiteral("\"%1\" must be one ASCII character other than a line end.").arg(name));
    }
    return char(text.at(0).unicode());
}

Result<Payload> parsePayload(const QJsonObject &json)
{
    Payload p;
    p.blob = json.value(u"blob").toString();
    if (!isBlobId(p.blob))
        return payloadError(QStringLiteral("\"blob\" must name a stored upload (a SHA-256)."));
    p.format = formatFromName(json.value(u"format").toString());
    if (p.format == DataFormat::Unknown) {
        return payloadError(
            QStringLiteral("Unknown format '%1'.").arg(json.value(u"format").toString()),
            QStringLiteral("Use csv, tsv, ndjson or json."));
    }
    p.dataset = json.value(u"dataset").toString();
    if (auto valid = validateDatasetName(p.dataset); !valid)
        return valid.error();
    if (json.contains(u"mapping") && !json.value(u"mapping").isNull()) {
        auto mapping = Mapping::fromJson(json.value(u"mapping"));
        if (!mapping)
            return mapping.error();
        p.mapping = *mapping;
    }
    p.key = json.value(u"key").toString();
    if (json.contains(u"header")) {
        if (!json.value(u"header").isBool())
            return payloadError(QStringLiteral("\"header\" must be true or false."));
        p.header = json.value(u"header").toBool();
    }
    if (json.contains(u"delimiter")) {
        auto c = singleCharacter(json, u"delimiter");
        if (!c)
            return c.error();
        p.delimiter = *c;
    }
    if (json.contains(u"quote")) {
        p.quoteSet = true;
        if (json.value(u"quote").toString().isEmpty()) {
            p.quote = 0;
        } else {
            auto c = singleCharacter(json, u"quote");
            if (!c)
                return c.error();
            p.quote = *c;
        }
    }
    if (json.contains(u"maxRejectedRows")) {
        const double max = json.value(u"maxRejectedRows").toDouble(-1);
        if (max < 0 || max != std::floor(max))
            return payloadError(QStringLiteral("\"maxRejectedRows\" must be a whole number >= 0."));
        p.maxRejectedRows = qint64(max);
    }
    return p;
}

// One run of one attempt: reads from the checkpoint on, writes batches with their checkpoint.
class Import
{
public:
    Import(JobContext &context,
           DatasetStore &datasets,
           const MigrateConfig &config,
           const Payload &payload,
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
        m_batch.records.push_back(std::move(record));
        ++m_state.rowsImported;
    }

    bool reject(qint64 line, QString field, QString reason)
    {
        if (m_state.rowsRejected < m_config.errorReportRows)
            m_batch.errors.append({line, std::move(field), std::move(reason)});
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
        if (qsizetype(m_batch.records.size()) + m_batch.errors.size() >= m_config.batchRows)
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
    const Payload &m_payload;
    MigrationCheckpoint m_state;
    ImportBatch m_batch;
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
    QString message;
    bool leaseLost = false; // another node holds the job now: never undo its work
};

} // namespace

MigrateHandler::MigrateHandler(DatasetStore &datasets,
                               BlobStore &blobs,
                               const Clock &clock,
                               MigrateConfig config)
    : m_datasets(datasets), m_blobs(blobs), m_clock(clock), m_config(config)
{
    m_config.batchRows = qMax(1, m_config.batchRows);
}

Result<void> MigrateHandler::validatePayload(const QJsonObject &payload) const
{
    auto parsed = parsePayload(payload);
    if (!parsed)
        return parsed.error();
    return {};
}

namespace {

Result<void> resolveKey(DatasetStore &datasets, Payload &p, qint64 datasetId)
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
QString noRows(const Payload &p, qsizetype columns)
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

JobOutcome MigrateHandler::run(JobContext &context)
{
    const ClaimedJob &job = context.job();
    auto payload = parsePayload(job.payload);
    if (!payload)
        return JobOutcome::permanentError(payload.error().toString());
    Payload p = *payload;

    auto path = m_blobs.localPath(p.blob);
    if (!path)
        return JobOutcome::permanentError(path.error().toString());
    ByteSource::Options sourceOptions;
    sourceOptions.maxDecompressedBytes = m_config.maxDecompressedBytes;
    auto source = ByteSource::openFile(*path, sourceOptions);
    if (!source)
        return JobOutcome::transientError(source.error().toString());

    auto saved = m_datasets.checkpoint(job.id);
    if (!saved)
        return JobOutcome::transientError(saved.error().toString());
    MigrationCheckpoint start;
    if (saved->has_value()) {
        start = **saved;
    } else {
        auto dataset = m_datasets.ensureDataset(job.userId, p.dataset, m_clock.nowMs());
        if (!dataset)
            return JobOutcome::transientError(dataset.error().toString());
        start.datasetId = *dataset;
        start.line = 1;
    }
    if (auto keyed = resolveKey(m_datasets, p, start.datasetId); !keyed) {
        return keyed.error().code == ErrorCode::Conflict
                   ? JobOutcome::permanentError(keyed.error().toString())
                   : JobOutcome::transientError(keyed.error().toString());
    }
    const bool resuming = saved->has_value();
    // The readers read through this: a cancel or the job timeout stops any step within one read.
    CancellableSource input(**source, [&context] { return context.isCancelled(); });
    const qint64 storedBytes = QFileInfo(*path).size();
    Import import(context, m_datasets, m_config, p, start, m_quota, storedBytes);
    import.setTotalBytes(storedBytes);
    QJsonArray columns;

    auto run = [&]() -> Ending {
        auto fail = [&](const Error &error) {
            if (input.wasCancelled())
                return Ending{Ending::Cancelled, {}};
            return Ending{error.code == ErrorCode::InvalidArgument ? Ending::Permanent
                                                                   : Ending::Transient,
                          error.toString(), error.code == ErrorCode::Conflict};
        };
        auto rejectedTooMany = [&] {
            return Ending{
                Ending::Permanent,
                QStringLiteral("%1 rows were rejected, more than the limit of %2. The job "
                               "report lists the first of them.")
                    .arg(import.state().rowsRejected)
                    .arg(import.maxRejected())};
        };
        // A reader's error, unless the reader stopped because the job was cancelled.
        auto unreadable = [&](const QString &text) {
            return input.wasCancelled() ? Ending{Ending::Cancelled, {}}
                                        : Ending{Ending::Permanent, text};
        };
        if (p.format == DataFormat::Csv || p.format == DataFormat::Tsv) {
            CsvReader::Options options =
                p.format == DataFormat::Tsv ? tsvOptions() : CsvReader::Options();
            if (p.delimiter)
                options.delimiter = p.delimiter;
            if (p.quoteSet)
                options.quote = p.quote;
            options.maxFields = m_config.maxColumns;
            CsvReader reader(input, options);
            CsvReader::Row row;
            std::vector<std::string> header;
            std::optional<CsvReader::Row> firstData;
            const QJsonDocument state = QJsonDocument::fromJson(import.state().state);
            if (resuming && state.isObject()) {
                for (const QJsonValue &h : state.object().value(u"header").toArray())
                    header.push_back(h.toString().toStdString());
                if (auto resumed = reader.resumeAt(import.state().byteOffset, import.state().line);
                    !resumed)
                    return fail(resumed.error());
            } else {
                const auto status = reader.next(row);
                if (status == CsvReader::Status::Error)
                    return unreadable(reader.errorText());
                if (status == CsvReader::Status::End)
                    return Ending{Ending::Permanent,
                                  QStringLiteral("The file is empty: there is nothing to import.")};
                if (!row.problem.empty()) {
                    return Ending{Ending::Permanent,
                                  QStringLiteral("The first row is unreadable: %1")
                                      .arg(QString::fromStdString(row.problem))};
                }
                if (p.header) {
                    for (std::string_view f : row.fields)
                        header.emplace_back(f);
                    import.state().byteOffset = row.endOffset;
                    import.state().line = row.endLine;
                } else {
                    for (size_t i = 0; i < row.fields.size(); ++i)
                        header.push_back("column" + std::to_string(i + 1));
                    firstData = row;
                }
                QJsonArray h;
                for (const std::string &name : header)
                    h.append(QString::fromStdString(name));
                import.state().state = QJsonDocument(QJsonObject{{
                                           QStringLiteral("header"),
                                           h
                                       }}).toJson(QJsonDocument::Compact);
            }
            if (context.isCancelled())
                return Ending{Ending::Cancelled, {}};
            auto converter = RecordConverter::forTable(p.mapping, p.key, header);
            if (!converter)
                return Ending{Ending::Permanent, converter.error().toString()};
            columns = converter->columns();
            RecordWrite record;
            RowError error;
            auto handle = [&](const CsvReader::Row &r) -> std::optional<Ending> {
                if (r.fields.size() == 1 && r.fields[0].empty() && header.size() != 1)
                    return std::nullopt; // a blank line
                import.beginRow();
                if (!r.problem.empty()) {
                    if (!import.reject(r.line, {}, QString::fromStdString(r.problem)))
                        return rejectedTooMany();
                } else if (converter->convertRow(r.fields, record, error)) {
                    import.accept(std::move(record));
                } else if (!import.reject(r.line, error.field, error.reason)) {
                    return rejectedTooMany();
                }
                if (auto ended = import.endRow(r.endOffset, r.endLine); !ended)
                    return fail(ended.error());
                return std::nullopt;
            };
            if (firstData) {
                if (auto ended = handle(*firstData))
                    return *ended;
            }
            while (true) {
                const auto status = reader.next(row);
                if (status == CsvReader::Status::End)
                    break;
                if (status == CsvReader::Status::Error)
                    return unreadable(reader.errorText());
                if (auto ended = handle(row))
                    return *ended;
                if (context.isCancelled())
                    return Ending{Ending::Cancelled, {}};
            }
        } else {
            JsonReader::Options options;
            options.layout = p.format == DataFormat::Json ? JsonReader::Layout::Array
                                                          : JsonReader::Layout::Ndjson;
            JsonReader reader(input, options);
            if (resuming) {
                if (auto resumed = reader.resumeAt(import.state().byteOffset, import.state().line);
                    !resumed)
                    return fail(resumed.error());
            }
            auto converter = RecordConverter::forDocuments(p.mapping, p.key);
            if (!converter)
                return Ending{Ending::Permanent, converter.error().toString()};
            columns = converter->columns();
            JsonReader::Document document;
            RecordWrite record;
            RowError error;
            while (true) {
                const auto status = reader.next(document);
                if (status == JsonReader::Status::End)
                    break;
                if (status == JsonReader::Status::Error)
                    return unreadable(reader.errorText());
                import.beginRow();
                if (!document.problem.empty()) {
                    if (!import.reject(document.line, {}, QString::fromStdString(document.problem)))
                        return rejectedTooMany();
                } else if (converter->convertDocument(document.text, record, error)) {
                    import.accept(std::move(record));
                } else if (!import.reject(document.line, error.field, error.reason)) {
                    return rejectedTooMany();
                }
                if (auto ended = import.endRow(document.endOffset, document.endLine); !ended)
                    return fail(ended.error());
                if (context.isCancelled())
                    return Ending{Ending::Cancelled, {}};
            }
        }
        if (input.error())
            return unreadable(input.error()->toString());
        if (import.state().rowsRead == 0)
            return Ending{Ending::Permanent, noRows(p, columns.size())};
        if (auto finished = import.finish((*source)->offset()); !finished)
            return fail(finished.error());
        return Ending{};
    };

    const Ending ending = run();
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
        return JobOutcome::permanentError(ending.message);
    case Ending::Transient:
        if (job.attempt >= job.maxAttempts && !ending.leaseLost)
            undo(); // the last attempt: the job ends dead, so nothing of it stays
        return JobOutcome::transientError(ending.message);
    case Ending::Cancelled:
        // A timeout or a shutdown resumes later from the checkpoint; a cancel undoes the import.
        if (context.cancelReason() == CancelReason::Requested ||
            (context.cancelReason() == CancelReason::Timeout && job.attempt >= job.maxAttempts))
            undo();
        return JobOutcome::cancelled();
    }
    if (!columns.isEmpty())
        (void)m_datasets.setColumns(datasetId, columns, m_clock.nowMs());
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
