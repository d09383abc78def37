#pragma once

#include "core/error.h"
#include "store/jobsapirecords.h"

#include <QJsonArray>
#include <QJsonObject>
#include <QList>
#include <QString>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace Ferry {

struct DatasetInfo
{
    qint64 id = 0;
    QString name;
    QJsonArray columns;
    QString key; // the key field, empty when the dataset has none
    qint64 records = 0;
    qint64 createdAt = 0;
    qint64 updatedAt = 0;
    // Column name → the types its imports' mappings gave it ("integer", ...), first-seen first;
    // a column no mapping typed is absent. At most one entry per FieldType (seven).
    QJsonObject columnTypes;
};

// The dataset's schema for the API: one {"name"} per column, in order, with "type" where a
// mapping gave one. A column that imports gave different types has "type": "mixed" and "types":
// every type it was given, first-seen first. (datasetstore.cpp)
QJsonArray datasetSchema(const DatasetInfo &dataset);

// Where a migration job stands: written with every batch, in the same transaction.
struct MigrationCheckpoint
{
    qint64 datasetId = 0;
    qint64 byteOffset = 0;
    qint64 line = 0;
    qint64 rowsRead = 0;
    qint64 rowsImported = 0;
    qint64 rowsRejected = 0;
    QByteArray state; // JSON the reader needs to resume (the header row)
};

// What DatasetStore::deleteDataset found and did.
enum class DatasetDeleteScope {
    Dataset, // the dataset: its records, its metadata (name, key, columns), its checkpoints
    Records, // its records only: name, key and createdAt stay, columns are emptied
};
struct DatasetDeletion
{
    enum class Outcome { Deleted, NotFound, Busy };
    Outcome outcome = Outcome::NotFound;
    qint64 records = 0; // Deleted: the records deleted
    // Busy: a migration into the dataset that is pending or running, or that ended (failed,
    // cancelled, dead) with its undo not run yet (its checkpoint is still there).
    qint64 busyJobId = 0;
    QString busyJobStatus;
};

struct RowError
{
    qint64 line = 0;
    QString field;
    QString reason;
};

struct RecordWrite
{
    std::string key; // empty: no key (plain insert)
    std::string doc; // UTF-8 JSON text
};

struct ImportBatch
{
    qint64 jobId = 0;
    qint64 leaseToken = 0; // fencing: refused unless the job still holds this lease
    std::vector<RecordWrite> records;
    MigrationCheckpoint checkpoint;
    QList<RowError> errors; // appended to the job's stored row errors
    qint64 firstErrorSeq = 0;
};

// Users' datasets and the migration jobs' writes into them. Every call is scoped by user where a
// user can reach it. Implemented once for both backends by SqlStore (store/sqlstore.h).
class DatasetStore
{
public:
    virtual ~DatasetStore() = default;

    // The dataset's id, creating it if needed.
    virtual Result<qint64> ensureDataset(qint64 userId, const QString &name, qint64 now) = 0;
    virtual Result<std::optional<MigrationCheckpoint>> checkpoint(qint64 jobId) = 0;
    // One transaction: the records (upserted by key where they have one), the checkpoint, the
    // row errors. Conflict when the job no longer holds leaseToken (rescued elsewhere).
    virtual Result<void> commitBatch(const ImportBatch &batch) = 0;
    // The rows of a migration batch unless configured otherwise (MigrateConfig::batchRows):
    // this store's trade between what a transaction costs it and how long one keeps others
    // waiting, or redone after a crash.
    virtual int importBatchRows() const = 0;
    // Undoes everything the job wrote: its inserts deleted, its overwrites restored, its
    // checkpoint dropped. Fenced like commitBatch: Conflict, and nothing undone, unless the job
    // is still running under leaseToken (a stale attempt never deletes what the current one
    // wrote). Returns the records undone.
    virtual Result<qint64> undoJob(qint64 jobId, qint64 datasetId, qint64 leaseToken) = 0;
    // Undoes the migrations that ended (failed, cancelled, dead) with rows no undo removed,
    // whoever ended them (a rescue, a cancel of a pending job, another node): those whose
    // checkpoint is still there. Each is undone in one transaction that first checks the job is
    // still ended; one that runs again (an operator's retry) is left to its attempt; a completed
    // one loses only its checkpoint, which nothing needs any more (retention prunes a failed
    // migration only once this has run). Returns the jobs undone.
    virtual Result<int> undoEndedMigrations() = 0;
    // After the job succeeded: drops the undo copies its overwrites kept.
    virtual Result<void> forgetUndo(qint64 jobId, qint64 datasetId) = 0;
    // Adds the columns the dataset does not list yet, after the ones it does (its schema is the
    // union of what its imports wrote, in first-seen order), and the types a mapping gave them
    // (`types`: column name → type name; a type a column has already is not added again; an
    // import without a mapping passes none and leaves the types there are).
    virtual Result<void> setColumns(qint64 datasetId,
                                    const QJsonArray &columns,
                                    const QJsonObject &types,
                                    qint64 now) = 0;
    // The dataset's key field; empty when it has none.
    virtual Result<QString> datasetKey(qint64 datasetId) = 0;
    // Makes `field` the dataset's key (its first keyed import): the records already there take
    // their key from their value of `field`, compared as imports compare keys (a string by its
    // text, anything else by its JSON text). Conflict, and nothing changes, when the dataset is
    // keyed by another field, or a record has no value for `field`, or two records share one.
    virtual Result<void> useKey(qint64 datasetId, const QString &field) = 0;

    virtual Result<QList<DatasetInfo>> datasets(qint64 userId) = 0;
    virtual Result<std::optional<DatasetInfo>> dataset(qint64 userId, const QString &name) = 0;
    // Streams the records in insertion order; return false from the callback to stop.
    virtual Result<void> forEachRecord(qint64 datasetId,
                                       const std::function<bool(std::string_view doc)> &sink) = 0;
    // Up to limit records of the dataset with an id above afterId (0: from the first), oldest
    // first. One short statement, no transaction left open between pages: exports page with it
    // while the client drains. Not scoped: read dataset(user, name) first.
    virtual Result<RecordPage> recordPage(qint64 datasetId, qint64 afterId, int limit) = 0;
    virtual Result<QList<RowError>> rowErrors(qint64 jobId, int limit) = 0;
    // ---- Managing datasets (GET/DELETE /api/v1/datasets/{name}; both backends:
    // store/sqldatasetadmin.cpp) ----
    // Bytes of the dataset's stored JSON documents (UTF-8): a pass over its records.
    virtual Result<qint64> datasetBytes(qint64 datasetId) = 0;
    // The user's dataset, or its records, deleted in one transaction; refused (Busy, nothing
    // changed) while a migration writes into it or still has undo work pending, so an undo never
    // runs against rows that are gone or were written since. A migration that starts after the
    // delete writes into a new dataset of that name (Records: into the emptied one).
    virtual Result<DatasetDeletion>
    deleteDataset(qint64 userId, const QString &name, DatasetDeleteScope scope, qint64 now) = 0;
    // ---- end of managing datasets ----
};

// [A-Za-z0-9_-]{1,64}: names reach URLs and file names, never SQL text.
Result<void> validateDatasetName(const QString &name);

} // namespace Ferry
