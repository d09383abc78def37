// PostgresBlobStore as TusPartStore: unfinished tus uploads' bytes as chunk rows, appended under
// a hold that works across nodes (see postgresblobstore.h).
#include "storage/postgresblobstore.h"

#include "core/sha256.h"
#include "storage/chunkpipeline.h"
#include "storage/pgblobsql.h"
#include "storage/postgresblobsql.h"
#include "store/connectionpool.h"

#include <QElapsedTimer>
#include <QLoggingCategory>
#include <QRandomGenerator>

namespace Ferry {

Q_DECLARE_LOGGING_CATEGORY(lcPgBlobs)

using PgBlobSql::Connection;
using PgBlobSql::Param;

namespace {

Error busy(const QString &id)
{
    return makeError(ErrorCode::Conflict,
                     QStringLiteral("Upload %1 is being written by another request.").arg(id),
                     QStringLiteral("Wait for it to finish (or time out), then ask HEAD for the "
                                    "offset and resume from there."));
}

void releaseHold(ConnectionPool &connections, const QString &uploadId, qint64 token)
{
    auto connection = Connection::of(connections);
    if (!connection) {
        qCWarning(lcPgBlobs) << connection.error().toString();
        return; // the hold passes when its lease does
    }
    auto released = connection->exec(
        "UPDATE tus_uploads SET append_token = NULL, append_until = NULL "
        "WHERE id = $1 AND append_token = $2",
        {uploadId, token}, QStringLiteral("ending an append to upload %1").arg(uploadId));
    if (!released)
        qCWarning(lcPgBlobs) << released.error().toString();
}

// What the pipeline's tasks share with the append (they may outlive it).
struct HoldState
{
    QString uploadId;
    qint64 token = 0;
    qint64 nowMs = 0;
    std::atomic<qint64> committed = 0; // the upload's offset as the last chunk committed it
};

// One chunk and the offset it reaches, in one statement fenced by the hold: a PATCH whose hold
// passed to another (its lease ran out) writes nothing, and the offset never counts bytes that
// are not stored.
Result<void>
appendChunk(PostgresBlobStore &store, HoldState &hold, qint64 start, const QByteArray &chunk)
{
    auto connection = Connection::of(store.connections());
    if (!connection)
        return connection.error();
    auto written = connection->exec(
        "WITH u AS (UPDATE tus_uploads SET \"offset\" = $3::bigint + $5::bigint, "
        "updated_at = $6::bigint, append_until = " FERRY_PG_NOW_MS " + $7::bigint "
        "WHERE id = $1 AND append_token = $2::bigint AND \"offset\" = $3::bigint "
        "RETURNING data_id), "
        "d AS (UPDATE blob_data SET touched_at = " FERRY_PG_NOW_MS " FROM u "
        "WHERE blob_data.id = u.data_id RETURNING blob_data.id) "
        "INSERT INTO blob_chunks (data_id, start, data) SELECT id, $3::bigint, $4 FROM d",
        {hold.uploadId, hold.token, start, Param::bytes(chunk), qint64(chunk.size()), hold.nowMs,
         store.options().appendLeaseMs},
        QStringLiteral("appending to upload %1").arg(hold.uploadId));
    if (!written)
        return written.error();
    if (written->affected() != 1) {
        return makeError(ErrorCode::Conflict,
                         QStringLiteral("Upload %1 was taken over by another request (this one "
                                        "was too slow).")
                             .arg(hold.uploadId),
                         QStringLiteral("Ask HEAD for the offset and resume from there."));
    }
    hold.committed = start + chunk.size();
    return {};
}

class PostgresTusAppend final : public TusPartAppend
{
public:
    PostgresTusAppend(PostgresBlobStore &store, std::shared_ptr<HoldState> hold)
        : m_store(store)
        , m_hold(std::move(hold))
        , m_offset(m_hold->committed)
        , m_pipeline(
              store.pool(),
              [&store, hold = m_hold](qint64 start, const QByteArray &chunk) {
                  return appendChunk(store, *hold, start, chunk);
              },
              [&store, hold = m_hold] {
                  releaseHold(store.connections(), hold->uploadId, hold->token);
              },
              store.options().maxQueuedChunks)
    {
        m_sincePush.start();
    }

    Result<void> write(QByteArrayView data) override
    {
        const qint64 chunkBytes = m_store.options().chunkBytes;
        while (!data.isEmpty()) {
            if (m_buffer.capacity() < chunkBytes)
                m_buffer.reserve(qsizetype(chunkBytes));
            const qsizetype n =
                qsizetype(std::min<qint64>(data.size(), chunkBytes - m_buffer.size()));
            m_buffer.append(data.first(n));
            data = data.sliced(n);
            m_offset += n;
            // A full chunk, or a slow client's bytes before the hold runs out: each commit
            // renews it.
            if (m_buffer.size() == chunkBytes ||
                m_sincePush.elapsed() > m_store.options().appendLeaseMs / 3) {
                if (auto pushed = push(); !pushed)
                    return pushed;
            }
        }
        return {};
    }

    Result<qint64> finish(qint64 nowMs) override
    {
        m_hold->nowMs = nowMs;
        Result<void> done = m_buffer.isEmpty() ? Result<void>() : push();
        if (done)
            done = m_pipeline.drain();
        if (!m_released) {
            m_released = true;
            releaseHold(m_store.connections(), m_hold->uploadId, m_hold->token);
        }
        if (!done)
            return done.error();
        return qint64(m_hold->committed);
    }

    qint64 offset() const override { return m_offset; }
    std::optional<QFuture<void>> readyForMore() override { return m_pipeline.room(); }

private:
    Result<void> push()
    {
        m_sincePush.restart();
        const qint64 start = m_offset - m_buffer.size();
        return m_pipeline.push(start, std::exchange(m_buffer, QByteArray()));
    }

    PostgresBlobStore &m_store;
    std::shared_ptr<HoldState> m_hold;
    qint64 m_offset; // bytes accepted
    QByteArray m_buffer;
    QElapsedTimer m_sincePush;
    bool m_released = false;
    ChunkPipeline m_pipeline; // last: dropped first; releases the hold when never finished
};

} // namespace

Result<void> PostgresBlobStore::createPart(const QString &uploadId)
{
    auto connection = Connection::of(*m_connections);
    if (!connection)
        return connection.error();
    auto made = connection->exec(
        "WITH d AS (INSERT INTO blob_data (touched_at) VALUES (" FERRY_PG_NOW_MS ") RETURNING id) "
        "UPDATE tus_uploads SET data_id = (SELECT id FROM d) WHERE id = $1 AND data_id IS NULL",
        {uploadId}, QStringLiteral("creating upload %1").arg(uploadId));
    if (!made)
        return made.error();
    if (made->affected() != 1) {
        return makeError(ErrorCode::NotFound, QStringLiteral("Upload %1 is gone.").arg(uploadId));
    }
    return {};
}

Result<std::unique_ptr<TusPartAppend>>
PostgresBlobStore::beginPartAppend(const QString &uploadId, qint64 offset, qint64 nowMs)
{
    auto connection = Connection::of(*m_connections);
    if (!connection)
        return connection.error();
    const qint64 token = qint64(QRandomGenerator::system()->generate64() >> 2) + 1;
    // Taken only when nobody holds it, or the holder's lease ran out (its node died).
    auto taken = connection->exec(
        "UPDATE tus_uploads SET append_token = $2::bigint, append_until = " FERRY_PG_NOW_MS
        " + $3::bigint WHERE id = $1 AND (append_token IS NULL OR append_until < " FERRY_PG_NOW_MS
        ") RETURNING \"offset\", data_id",
        {uploadId, token, m_options.appendLeaseMs},
        QStringLiteral("starting an append to upload %1").arg(uploadId));
    if (!taken)
        return taken.error();
    if (taken->count() != 1)
        return busy(uploadId);
    const qint64 stored = taken->int64(0, 0);
    if (taken->isNull(0, 1) || stored != offset) {
        releaseHold(*m_connections, uploadId, token);
        if (taken->isNull(0, 1)) {
            return makeError(ErrorCode::Storage,
                             QStringLiteral("The data of upload %1 is gone.").arg(uploadId),
                             QStringLiteral("Terminate it and upload again."));
        }
        return makeError(ErrorCode::Conflict,
                         QStringLiteral("Upload-Offset %1 is not the upload's offset %2.")
                             .arg(offset)
                             .arg(stored),
                         QStringLiteral("Ask HEAD for the offset and resume from there."));
    }
    auto hold = std::make_shared<HoldState>();
    hold->uploadId = uploadId;
    hold->token = token;
    hold->nowMs = nowMs;
    hold->committed = stored;
    return std::unique_ptr<TusPartAppend>(new PostgresTusAppend(*this, std::move(hold)));
}

Result<BlobInfo> PostgresBlobStore::completePart(const QString &uploadId)
{
    auto connection = Connection::of(*m_connections);
    if (!connection)
        return connection.error();
    auto found = connection->exec("SELECT data_id, \"offset\" FROM tus_uploads WHERE id = $1",
                                  {uploadId}, QStringLiteral("reading upload %1").arg(uploadId));
    if (!found)
        return found.error();
    if (found->count() != 1 || found->isNull(0, 0)) {
        return makeError(ErrorCode::Storage,
                         QStringLiteral("The data of upload %1 is gone.").arg(uploadId),
                         QStringLiteral("Terminate it and upload again."));
    }
    const qint64 dataId = found->int64(0, 0);
    const qint64 size = found->int64(0, 1);
    // Hashed as it streams through, a chunk at a time: the bytes stay where they are.
    auto reader = openData(dataId, size);
    Sha256 hash;
    while (true) {
        auto piece = reader->read(m_options.chunkBytes);
        if (!piece)
            return piece.error();
        if (piece->isEmpty())
            break;
        hash.addData(*piece);
    }
    return commitData(dataId, QString::fromLatin1(hash.result().toHex()), size, uploadId);
}

} // namespace Ferry
