// PostgresBlobStore: writing blobs (create, the writer, adopt).
#include "storage/postgresblobstore.h"

#include "core/sha256.h"
#include "storage/chunkpipeline.h"
#include "storage/pgblobsql.h"
#include "storage/postgresblobsql.h"
#include "store/connectionpool.h"

#include <QFile>

namespace Ferry {

namespace {

// The data id a writer's chunks go under, made by the first chunk's task (create() may run on a
// network thread, which never waits for the database). Shared with the pipeline's tasks, which
// may outlive the writer.
struct WriterData
{
    std::atomic<qint64> id = 0;
};

Result<void>
writeChunk(PostgresBlobStore &store, WriterData &data, qint64 start, const QByteArray &chunk)
{
    if (data.id == 0) {
        auto made = store.newData();
        if (!made)
            return made.error();
        data.id = *made;
    }
    auto connection = PgBlobSql::Connection::of(store.connections());
    if (!connection)
        return connection.error();
    // The touch keeps collect() away from a slow upload; no row touched means it was collected.
    auto written = connection->exec(
        "WITH d AS (UPDATE blob_data SET touched_at = " FERRY_PG_NOW_MS " WHERE id = $1 "
        "RETURNING id) INSERT INTO blob_chunks (data_id, start, data) SELECT id, $2, $3 FROM d",
        {qint64(data.id), start, PgBlobSql::Param::bytes(chunk)},
        QStringLiteral("storing an upload"));
    if (!written)
        return written.error();
    if (written->affected() != 1) {
        return makeError(ErrorCode::Storage,
                         QStringLiteral("The upload was abandoned while it was being written."),
                         QStringLiteral("Upload the file again."));
    }
    return {};
}

class PostgresBlobWriter final : public BlobWriter
{
public:
    explicit PostgresBlobWriter(PostgresBlobStore &store)
        : m_store(store)
        , m_data(std::make_shared<WriterData>())
        , m_pipeline(
              store.pool(),
              [&store, data = m_data](qint64 start, const QByteArray &chunk) {
                  return writeChunk(store, *data, start, chunk);
              },
              [&store, data = m_data] {
                  if (data->id != 0)
                      store.deleteData(data->id);
              },
              store.options().maxQueuedChunks)
    {}

    Result<void> write(const char *data, qint64 size) override
    {
        const qint64 chunkBytes = m_store.options().chunkBytes;
        m_hash.addData(QByteArrayView(data, size));
        while (size > 0) {
            if (m_buffer.capacity() < chunkBytes)
                m_buffer.reserve(qsizetype(chunkBytes));
            const qint64 n = std::min(size, chunkBytes - m_buffer.size());
            m_buffer.append(data, qsizetype(n));
            data += n;
            size -= n;
            if (m_buffer.size() == chunkBytes) {
                if (auto pushed = pushBuffer(); !pushed)
                    return pushed;
            }
        }
        return {};
    }

    QString contentId() const override { return QString::fromLatin1(m_hash.result().toHex()); }

    Result<BlobInfo> commit() override
    {
        if (!m_buffer.isEmpty()) {
            if (auto pushed = pushBuffer(); !pushed)
                return pushed.error();
        }
        if (auto drained = m_pipeline.drain(); !drained)
            return drained.error();
        if (m_data->id == 0) { // nothing written: an empty blob has a data row and no chunks
            auto made = m_store.newData();
            if (!made)
                return made.error();
            m_data->id = *made;
        }
        return m_store.commitData(m_data->id, contentId(), m_written);
    }

    qint64 written() const override { return m_written + m_buffer.size(); }
    std::optional<QFuture<void>> readyForMore() override { return m_pipeline.room(); }

private:
    Result<void> pushBuffer()
    {
        const qint64 start = m_written;
        m_written += m_buffer.size();
        return m_pipeline.push(start, std::exchange(m_buffer, QByteArray()));
    }

    PostgresBlobStore &m_store;
    std::shared_ptr<WriterData> m_data;
    ChunkPipeline m_pipeline; // dropped uncommitted: deletes what was written (on the pool)
    Sha256 m_hash;
    QByteArray m_buffer;  // the chunk being filled
    qint64 m_written = 0; // bytes handed to the pipeline
};

} // namespace

Result<std::unique_ptr<BlobWriter>> PostgresBlobStore::create(qint64)
{
    return std::unique_ptr<BlobWriter>(new PostgresBlobWriter(*this));
}

Result<BlobInfo> PostgresBlobStore::adopt(const QString &path)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly)) {
        return makeError(
            ErrorCode::Storage,
            QStringLiteral("Cannot read the upload's data: %1").arg(file.errorString()));
    }
    auto writer = create(file.size());
    if (!writer)
        return writer.error();
    QByteArray buffer(qsizetype(m_options.chunkBytes), Qt::Uninitialized);
    while (true) {
        const qint64 n = file.read(buffer.data(), buffer.size());
        if (n < 0) {
            return makeError(ErrorCode::Storage, QStringLiteral("Reading the upload's data "
                                                                "failed: %1")
                                                     .arg(file.errorString()));
        }
        if (n == 0)
            break;
        if (auto written = (*writer)->write(buffer.constData(), n); !written)
            return written.error();
    }
    return (*writer)->commit();
}

} // namespace Ferry
