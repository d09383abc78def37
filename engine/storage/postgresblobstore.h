#pragma once

#include "storage/blobstore.h"
#include "storage/tuspartstore.h"
#include "store/databaseconfig.h"

#include <QThreadPool>

#include <atomic>

namespace Ferry {

class ConnectionPool;

// Blobs in PostgreSQL (migration 0016): every ~1 MiB of a blob is a row of blob_chunks, written
// as it streams in and read back one row at a time, so memory stays at a few chunks whatever
// the size, and nodes on one database share uploads with no shared directory. Its own
// connections (one per thread, named, as every pool's), libpq with binary parameters.
//
// Writing: chunks go to the pool (ChunkPipeline) under a fresh blob_data id; commit() names the
// data by its SHA-256 in one transaction that also de-duplicates: content already stored is
// taken (its lease renewed) and the new copy deleted. Leases are the server's clock (µs), so
// nodes with skewed clocks agree; remove() and collect() keep BlobStore's contract.
//
// tus partials (TusPartStore): an upload's bytes are chunk rows of its own blob_data; a PATCH
// holds the upload's append token (tus_uploads.append_token, until append_until), and each chunk
// commits with its offset in one statement fenced by that token. Completion hashes the rows and
// makes the same data the blob: no second copy.
class PostgresBlobStore final : public BlobStore, public TusPartStore
{
public:
    struct Options
    {
        qint64 leaseMs = 15 * 60'000; // as FileBlobStore::Options::leaseMs
        int maxChecksPerPass = 5'000;
        qint64 chunkBytes = 1 << 20;
        int maxQueuedChunks = 4; // per writer, besides the one being filled
        // A PATCH's hold on its upload, renewed by every chunk it commits: a node that dies in
        // the middle of one blocks the upload this long at most.
        qint64 appendLeaseMs = 15'000;
        int threads = 4; // pool threads writing chunks (each its own connection)
    };

    // The lease of a commit that found the blob taken within the lease period (as FileBlobStore).
    static constexpr qint64 SharedLease = -1;

    PostgresBlobStore(const DatabaseConfig &config, Options options);
    ~PostgresBlobStore() override;
    Q_DISABLE_COPY_MOVE(PostgresBlobStore)

    Result<std::unique_ptr<BlobWriter>> create(qint64 expectedSize) override;
    // The database's disk is the server's: nothing to check from here (docs/deployment.md).
    Result<void> checkSpace(qint64 bytes) override;
    // Copies the file into chunk rows.
    Result<BlobInfo> adopt(const QString &path) override;
    Result<std::unique_ptr<BlobReader>> open(const QString &id) override;
    bool contains(const QString &id) override;
    Result<void> remove(const QString &id, qint64 lease = 0) override;
    Result<BlobCollection>
    collect(const std::function<Result<bool>(const QString &id)> &referenced) override;

    // TusPartStore
    Result<void> createPart(const QString &uploadId) override;
    Result<std::unique_ptr<TusPartAppend>>
    beginPartAppend(const QString &uploadId, qint64 offset, qint64 nowMs) override;
    Result<BlobInfo> completePart(const QString &uploadId) override;

    const Options &options() const { return m_options; }
    ConnectionPool &connections() { return *m_connections; }
    QThreadPool &pool() { return m_pool; }

    // For the writers: names data_id by its content, de-duplicating (see the class comment).
    // uploadId empty: the data is the writer's own and goes when equal content is already
    // stored. Otherwise it is that tus upload's, which then refers to the stored copy instead.
    Result<BlobInfo>
    commitData(qint64 dataId, const QString &id, qint64 size, const QString &uploadId = {});
    Result<qint64> newData();
    // A reader of stored data (a blob's, or a tus upload's bytes so far).
    std::unique_ptr<BlobReader> openData(qint64 dataId, qint64 size);
    void deleteData(qint64 dataId);

private:
    // Under the row's lock: whether the blob was deleted (BlobStore::remove's rule).
    Result<bool> removeBlob(const QString &id, qint64 lease);

    Options m_options;
    std::unique_ptr<ConnectionPool> m_connections;
    QString m_nextCollect; // the next collect() pass goes on after this blob id
    QThreadPool m_pool;    // last: waits for the writes still queued
};

} // namespace Ferry
