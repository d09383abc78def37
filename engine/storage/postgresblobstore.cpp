// PostgresBlobStore: reading, committing, removing and collecting blobs (writing:
// postgresblobwriter.cpp; tus partials: postgrestusparts.cpp).
#include "storage/postgresblobstore.h"

#include "storage/pgblobsql.h"
#include "storage/postgresblobsql.h"
#include "store/connectionpool.h"

#include <QLoggingCategory>

namespace Ferry {

Q_LOGGING_CATEGORY(lcPgBlobs, "ferry.blobs")

using PgBlobSql::Connection;
using PgBlobSql::Param;
using PgBlobSql::Transaction;

namespace {

Error notStored(const QString &id)
{
    return makeError(ErrorCode::NotFound,
                     QStringLiteral("Upload %1 is not stored.").arg(id.left(80)),
                     QStringLiteral("Upload the file again."));
}

// A blob read one chunk row at a time: the row's bytes are handed out from libpq's result, not
// copied.
class PostgresBlobReader final : public BlobReader
{
public:
    PostgresBlobReader(ConnectionPool &connections, qint64 dataId, qint64 size)
        : m_connections(connections), m_dataId(dataId), m_size(size)
    {}

    Result<QByteArrayView> read(qint64 maxBytes) override
    {
        if (m_position >= m_size || maxBytes <= 0)
            return QByteArrayView();
        if (m_position < m_chunkStart || m_position >= m_chunkStart + m_chunk.size()) {
            if (auto fetched = fetch(); !fetched)
                return fetched.error();
        }
        const qint64 at = m_position - m_chunkStart;
        const qint64 n = std::min({maxBytes, qint64(m_chunk.size()) - at, m_size - m_position});
        m_position += n;
        return m_chunk.sliced(qsizetype(at), qsizetype(n));
    }

    Result<qint64> skip(qint64 count) override
    {
        const qint64 step = std::clamp<qint64>(count, 0, m_size - m_position);
        m_position += step;
        return step;
    }

    qint64 size() const override { return m_size; }

private:
    // The row holding m_position: the last one starting at or before it.
    Result<void> fetch()
    {
        auto connection = Connection::of(m_connections);
        if (!connection)
            return connection.error();
        auto rows = connection->exec(
            "SELECT start, data FROM blob_chunks WHERE data_id = $1 AND start <= $2 "
            "ORDER BY start DESC LIMIT 1",
            {m_dataId, m_position}, QStringLiteral("reading an upload"), true);
        if (!rows)
            return rows.error();
        m_rows = std::move(*rows);
        if (m_rows.count() != 1) {
            return makeError(
                ErrorCode::Storage,
                QStringLiteral("The stored upload has no bytes at offset %1.").arg(m_position),
                QStringLiteral("Upload the file again."));
        }
        m_chunkStart = PgBlobSql::binaryInt64(m_rows.bytes(0, 0));
        m_chunk = m_rows.bytes(0, 1);
        if (m_chunkStart + m_chunk.size() <= m_position) {
            return makeError(
                ErrorCode::Storage,
                QStringLiteral("The stored upload has a gap at offset %1.").arg(m_position),
                QStringLiteral("Upload the file again."));
        }
        return {};
    }

    ConnectionPool &m_connections;
    qint64 m_dataId;
    qint64 m_size;
    qint64 m_position = 0;
    PgBlobSql::Rows m_rows; // holds m_chunk's bytes
    QByteArrayView m_chunk;
    qint64 m_chunkStart = 0;
};

// The threads that read or commit uploads are the store's callers (API pool, job slots, tus
// pool), as many as the store's own pool serves; the chunk writers come on top, so that a busy
// upload path never waits the busy timeout for a connection the writers hold.
DatabaseConfig withWriters(DatabaseConfig config, int writers)
{
    config.maxConnections = config.connectionLimit() + std::max(1, writers);
    return config;
}

} // namespace

PostgresBlobStore::PostgresBlobStore(const DatabaseConfig &config, Options options)
    : m_options(options)
    , m_connections(std::make_unique<ConnectionPool>(
          withWriters(config, options.threads),
          ConnectionPool::Initializer(),
          [](QSqlDatabase &db) { return PgBlobSql::connectionAlive(db); }))
{
    m_pool.setObjectName(QStringLiteral("ferry-blobs"));
    m_pool.setMaxThreadCount(std::max(1, options.threads));
    m_pool.setExpiryTimeout(30'000);
}

PostgresBlobStore::~PostgresBlobStore()
{
    m_pool.waitForDone();
}

Result<void> PostgresBlobStore::checkSpace(qint64)
{
    return {};
}

Result<std::unique_ptr<BlobReader>> PostgresBlobStore::open(const QString &id)
{
    if (!isBlobId(id))
        return notStored(id);
    auto connection = Connection::of(*m_connections);
    if (!connection)
        return connection.error();
    auto rows = connection->exec("SELECT data_id, size FROM blobs WHERE id = $1", {id},
                                 QStringLiteral("opening upload %1").arg(id));
    if (!rows)
        return rows.error();
    if (rows->count() != 1)
        return notStored(id);
    return openData(rows->int64(0, 0), rows->int64(0, 1));
}

std::unique_ptr<BlobReader> PostgresBlobStore::openData(qint64 dataId, qint64 size)
{
    return std::make_unique<PostgresBlobReader>(*m_connections, dataId, size);
}

bool PostgresBlobStore::contains(const QString &id)
{
    if (!isBlobId(id))
        return false;
    auto connection = Connection::of(*m_connections);
    if (!connection)
        return false;
    auto rows = connection->exec("SELECT 1 FROM blobs WHERE id = $1", {id},
                                 QStringLiteral("looking up upload %1").arg(id));
    return rows && rows->count() == 1;
}

Result<qint64> PostgresBlobStore::newData()
{
    auto connection = Connection::of(*m_connections);
    if (!connection)
        return connection.error();
    auto rows = connection->exec("INSERT INTO blob_data (touched_at) VALUES (" FERRY_PG_NOW_MS
                                 ") RETURNING id",
                                 {}, QStringLiteral("starting an upload"));
    if (!rows)
        return rows.error();
    return rows->int64(0, 0);
}

void PostgresBlobStore::deleteData(qint64 dataId)
{
    auto connection = Connection::of(*m_connections);
    if (!connection) {
        qCWarning(lcPgBlobs) << connection.error().toString();
        return;
    }
    // Left to collect() when it fails: the data is old and unowned by then.
    auto deleted = connection->exec("DELETE FROM blob_data d WHERE id = $1 AND NOT EXISTS "
                                    "(SELECT 1 FROM blobs b WHERE b.data_id = d.id)",
                                    {dataId}, QStringLiteral("removing an unfinished upload"));
    if (!deleted)
        qCWarning(lcPgBlobs) << deleted.error().toString();
}

// "Is it there, take it" is one transaction: the INSERT either creates the blob or, on the id's
// conflict, waits for whoever holds the row and then finds it; the lease is renewed under the
// row's lock, which remove() takes too.
Result<BlobInfo> PostgresBlobStore::commitData(qint64 dataId,
                                               const QString &id,
                                               qint64 size,
                                               const QString &uploadId)
{
    auto connection = Connection::of(*m_connections);
    if (!connection)
        return connection.error();
    const QString doing = QStringLiteral("storing upload %1").arg(id);
    // A removal between the INSERT's conflict and the SELECT leaves nothing to take: try again.
    for (int attempt = 0; attempt < 3; ++attempt) {
        Transaction transaction(*connection);
        if (auto begun = transaction.begin(); !begun)
            return begun.error();
        auto inserted = connection->exec(
            "INSERT INTO blobs (id, data_id, size, lease) VALUES ($1, $2, $3, " FERRY_PG_NOW_US
            ") ON CONFLICT (id) DO NOTHING RETURNING lease",
            {id, dataId, size}, doing);
        if (!inserted)
            return inserted.error();
        if (inserted->count() == 1) {
            if (auto committed = transaction.commit(); !committed)
                return committed.error();
            return BlobInfo{id, size, inserted->int64(0, 0)};
        }
        auto existing = connection->exec("SELECT lease, data_id, " FERRY_PG_NOW_US
                                         " FROM blobs WHERE id = $1 FOR UPDATE",
                                         {id}, doing);
        if (!existing)
            return existing.error();
        if (existing->count() != 1)
            continue;
        const qint64 previous = existing->int64(0, 0);
        const qint64 storedData = existing->int64(0, 1);
        const qint64 now = existing->int64(0, 2);
        auto renewed = connection->exec(
            "UPDATE blobs SET lease = GREATEST(lease + 1, $2) WHERE id = $1 RETURNING lease",
            {id, now}, doing);
        if (!renewed)
            return renewed.error();
        if (storedData != dataId) {
            // The same content is stored: this copy goes (a tus upload refers to the stored one
            // instead, so a repeated completion finds it).
            if (!uploadId.isEmpty()) {
                auto moved = connection->exec("UPDATE tus_uploads SET data_id = $2 WHERE id = $1",
                                              {uploadId, storedData}, doing);
                if (!moved)
                    return moved.error();
            }
            auto dropped = connection->exec("DELETE FROM blob_data WHERE id = $1", {dataId}, doing);
            if (!dropped)
                return dropped.error();
        }
        if (auto committed = transaction.commit(); !committed)
            return committed.error();
        // Another upload took it within the lease period and may be on its way to a 202 with no
        // session written yet: this one must never delete it by lease (FileBlobStore::place).
        if (now - previous < m_options.leaseMs * 1000)
            return BlobInfo{id, size, SharedLease};
        return BlobInfo{id, size, renewed->int64(0, 0)};
    }
    return makeError(ErrorCode::Storage,
                     QStringLiteral("Upload %1 was removed while it was being stored.").arg(id),
                     QStringLiteral("Try again."));
}

Result<void> PostgresBlobStore::remove(const QString &id, qint64 lease)
{
    if (!isBlobId(id))
        return makeError(ErrorCode::InvalidArgument, QStringLiteral("Not a blob id."));
    auto removed = removeBlob(id, lease);
    if (!removed)
        return removed.error();
    return {};
}

Result<bool> PostgresBlobStore::removeBlob(const QString &id, qint64 lease)
{
    auto connection = Connection::of(*m_connections);
    if (!connection)
        return connection.error();
    const QString doing = QStringLiteral("removing upload %1").arg(id);
    Transaction transaction(*connection);
    if (auto begun = transaction.begin(); !begun)
        return begun.error();
    // With a lease: only while it is still this commit's (SharedLease matches none). Without:
    // only when nobody took it within the lease period.
    auto gone =
        lease != 0 ? connection->exec("DELETE FROM blobs WHERE id = $1 AND lease = $2 "
                                      "RETURNING data_id",
                                      {id, lease}, doing)
                   : connection->exec("DELETE FROM blobs WHERE id = $1 AND lease < " FERRY_PG_NOW_US
                                      " - $2 RETURNING data_id",
                                      {id, m_options.leaseMs * 1000}, doing);
    if (!gone)
        return gone.error();
    if (gone->count() == 1) {
        auto dropped =
            connection->exec("DELETE FROM blob_data WHERE id = $1", {gone->int64(0, 0)}, doing);
        if (!dropped)
            return dropped.error();
    }
    if (auto committed = transaction.commit(); !committed)
        return committed.error();
    return gone->count() == 1;
}

Result<BlobCollection>
PostgresBlobStore::collect(const std::function<Result<bool>(const QString &id)> &referenced)
{
    BlobCollection collection;
    auto connection = Connection::of(*m_connections);
    if (!connection)
        return connection.error();
    // Abandoned writes: data that neither a blob nor a tus upload owns, untouched for the lease
    // period (a writer renews touched_at with every chunk). A commit racing this fails on its
    // foreign key rather than naming deleted data.
    auto abandoned = connection->exec(
        "DELETE FROM blob_data WHERE id IN (SELECT d.id FROM blob_data d WHERE d.touched_at "
        "< " FERRY_PG_NOW_MS " - $1 AND NOT EXISTS (SELECT 1 FROM blobs b WHERE b.data_id = d.id) "
        "AND NOT EXISTS (SELECT 1 FROM tus_uploads t WHERE t.data_id = d.id) LIMIT 1000)",
        {m_options.leaseMs}, QStringLiteral("removing abandoned uploads"));
    if (!abandoned)
        return abandoned.error();
    collection.temporaryFiles = abandoned->affected();

    auto candidates = connection->exec(
        "SELECT id FROM blobs WHERE lease < " FERRY_PG_NOW_US " - $1 AND id > $2 ORDER BY id "
        "LIMIT $3",
        {m_options.leaseMs * 1000, m_nextCollect, m_options.maxChecksPerPass},
        QStringLiteral("listing stored uploads"));
    if (!candidates)
        return candidates.error();
    const int found = candidates->count();
    // The next pass goes on after the last one checked; a short page wraps around.
    m_nextCollect = found < m_options.maxChecksPerPass
                        ? QString()
                        : QString::fromLatin1(candidates->bytes(found - 1, 0));
    for (int row = 0; row < found; ++row) {
        const QString id = QString::fromLatin1(candidates->bytes(row, 0));
        auto used = referenced(id);
        if (!used)
            return used.error();
        if (*used)
            continue;
        // remove() re-checks the lease under the row's lock: a commit since keeps it.
        auto removed = removeBlob(id, 0);
        if (!removed)
            return removed.error();
        collection.blobs += *removed ? 1 : 0;
    }
    return collection;
}

} // namespace Ferry
