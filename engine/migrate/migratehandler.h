#pragma once

#include "core/clock.h"
#include "queue/jobhandler.h"
#include "quota/uploadquota.h"
#include "storage/blobstore.h"
#include "store/datasetstore.h"

#include <memory>
#include <variant>

namespace Ferry {

struct AttemptStart;
using AttemptStartPtr = std::unique_ptr<AttemptStart>;

struct MigrateConfig
{
    // Rows per transaction (with their checkpoint); 0: the store's (DatasetStore::importBatchRows).
    int batchRows = 0;
    // A batch also ends once its documents and keys reach this many bytes: wide rows (a record
    // may be up to 64 MiB) make smaller batches, so a batch's memory stays bounded.
    qint64 batchBytes = qint64(8) << 20;
    int errorReportRows = 100;      // rejected rows kept in full; the count is always kept
    qint64 maxRejectedRows = 1'000; // more rejected rows than this fails the job
    qint64 maxDecompressedBytes = qint64(16) << 30; // gzip bombs stop here
    // CSV/TSV: the most fields a record (the header too) may have; a wider one fails the job
    // with an error naming the cap. Mappings have at most Mapping::MaxFields fields.
    qsizetype maxColumns = 100'000;
};

// The "migrate" job: streams an uploaded CSV, TSV, NDJSON or JSON file into the user's dataset.
//
// Payload: {"blob": "<sha256>", "format": "csv|tsv|ndjson|json", "dataset": "name",
//           "mapping": {...}?, "key": "field"?, "header": true?, "delimiter": ","?,
//           "quote": "\""?, "maxRejectedRows": N?}
//
// Batches of rows are written together with a checkpoint (byte offset, line, counts) in one
// transaction, so a retry or a rescue after a crash resumes after the last committed batch and
// every row lands exactly once. Every step observes cancellation and the job timeout within one
// read of the file (see CancellableSource). A job that fails for good (a broken file, too many
// rejected rows, its last attempt) or is cancelled undoes what it wrote.
class MigrateHandler final : public JobHandler
{
public:
    MigrateHandler(DatasetStore &datasets,
                   BlobStore &blobs,
                   const Clock &clock,
                   MigrateConfig config = {});

    Result<void> validatePayload(const QJsonObject &payload) const override;
    JobOutcome run(JobContext &context) override;
    // Before jobs run (null: no quotas). What an import reads beyond its file's stored size (a
    // compressed upload's decompressed bytes) is charged to the job's user as batches are
    // written; past the monthly byte limit the job fails and its rows are undone.
    void setQuota(ImportQuota *quota) { m_quota = quota; }

private:
    // Everything before the first row: the payload read, the file opened, the checkpoint to
    // resume from (or the dataset made), the key settled. Or the outcome of a job that cannot
    // start: permanent when a retry cannot help (a bad payload, a missing file, a key conflict).
    std::variant<JobOutcome, AttemptStartPtr> begin(const ClaimedJob &job) const;

    DatasetStore &m_datasets;
    BlobStore &m_blobs;
    const Clock &m_clock;
    MigrateConfig m_config;
    ImportQuota *m_quota = nullptr;
};

} // namespace Ferry
