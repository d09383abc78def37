#pragma once

#include "core/error.h"

#include <QByteArray>
#include <QFuture>

#include <functional>
#include <memory>
#include <optional>

class QThreadPool;

namespace Ferry {

// Chunks handed from the thread that receives them (an upload's body arrives on a network
// thread, which must never wait for PostgreSQL) to a pool thread that writes them, one at a time
// and in order. Once maxQueued chunks wait, room() gives a future that finishes when one was
// written: the HTTP layer stops reading that client's body until then (BodyConsumer::
// readyForMore), so an upload's memory stays at a few chunks when the database is slower than
// the network, and the network thread never waits. push() itself blocks only for a producer
// that ignores room() (twice maxQueued waiting): a bound, not the way back-pressure works.
class ChunkPipeline final
{
public:
    // Writes one chunk (runs on the pool).
    using Sink = std::function<Result<void>(qint64 start, const QByteArray &chunk)>;
    // Runs once on the pool when the pipeline was dropped before drain() (the upload failed or
    // its client left): removes what the sink wrote, if the caller wants that.
    using Abandon = std::function<void()>;

    ChunkPipeline(QThreadPool &pool, Sink sink, Abandon abandon, int maxQueued);
    // Does not wait: what is queued is dropped, the running write finishes on the pool, then
    // `abandon` runs there (unless drain() succeeded).
    ~ChunkPipeline();
    Q_DISABLE_COPY_MOVE(ChunkPipeline)

    // Queues a chunk; the error of an earlier chunk, if one failed (nothing more is written).
    Result<void> push(qint64 start, QByteArray chunk);
    // None while fewer than maxQueued chunks wait (or after an error: push() reports it); else
    // a future that finishes once one of them was written, or the pipeline failed or was
    // dropped. Thread-safe.
    std::optional<QFuture<void>> room();
    // Waits until every queued chunk is written: the first error, if any. Not on a network
    // thread.
    Result<void> drain();

    struct State;

private:
    std::shared_ptr<State> m_state;
};

} // namespace Ferry
