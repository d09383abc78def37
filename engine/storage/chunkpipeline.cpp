#include "storage/chunkpipeline.h"

#include <QMutex>
#include <QPromise>
#include <QThreadPool>
#include <QWaitCondition>

#include <deque>

namespace Ferry {

struct ChunkPipeline::State
{
    QThreadPool *pool = nullptr;
    Sink sink;
    Abandon abandon;
    int maxQueued = 4;

    QMutex mutex;
    QWaitCondition changed;
    std::deque<std::pair<qint64, QByteArray>> queue; // guarded by mutex
    std::optional<Error> error;                      // guarded by mutex
    bool running = false;                            // a pool task drains the queue
    bool dropped = false;                            // the pipeline is gone: abandon
    bool finished = false;                           // drained successfully: keep
    // What room() handed out while the queue was full; finished as soon as there is room again
    // (or never will be: an error, the pipeline dropped). Guarded by mutex.
    std::optional<QPromise<void>> roomPromise;

    void signalRoom() // with mutex held
    {
        if (!roomPromise)
            return;
        roomPromise->finish();
        roomPromise.reset();
    }

    // On the pool, while running: writes the oldest queued chunk, then queues itself again
    // behind other uploads' chunks (one busy upload does not keep a pool thread: the others'
    // producers would wait for it), or ends (and abandons).
    static void run(const std::shared_ptr<State> &state)
    {
        std::pair<qint64, QByteArray> chunk;
        {
            QMutexLocker lock(&state->mutex);
            if (state->queue.empty() || state->error || state->dropped) {
                state->running = false;
                const bool abandon = state->dropped && !state->finished;
                state->signalRoom();
                state->changed.wakeAll();
                lock.unlock();
                if (abandon && state->abandon)
                    state->abandon();
                return;
            }
            chunk = std::move(state->queue.front());
            state->queue.pop_front();
            if (int(state->queue.size()) < state->maxQueued)
                state->signalRoom();  // the body's reading goes on
            state->changed.wakeAll(); // room for a producer that blocked
        }
        auto written = state->sink(chunk.first, chunk.second);
        if (!written) {
            QMutexLocker lock(&state->mutex);
            state->error = written.error();
            state->queue.clear();
            state->signalRoom(); // the next push() reports the error
        }
        state->pool->start([state] { run(state); });
    }
};

ChunkPipeline::ChunkPipeline(QThreadPool &pool, Sink sink, Abandon abandon, int maxQueued)
    : m_state(std::make_shared<State>())
{
    m_state->pool = &pool;
    m_state->sink = std::move(sink);
    m_state->abandon = std::move(abandon);
    m_state->maxQueued = std::max(1, maxQueued);
}

ChunkPipeline::~ChunkPipeline()
{
    QMutexLocker lock(&m_state->mutex);
    m_state->dropped = true;
    m_state->queue.clear();
    m_state->signalRoom();
    if (m_state->running || m_state->finished || !m_state->abandon)
        return; // the running task abandons when it ends
    m_state->pool->start([state = m_state] { state->abandon(); });
}

Result<void> ChunkPipeline::push(qint64 start, QByteArray chunk)
{
    QMutexLocker lock(&m_state->mutex);
    // Only a producer that did not wait for room() gets here with the queue full.
    while (!m_state->error && int(m_state->queue.size()) >= 2 * m_state->maxQueued)
        m_state->changed.wait(&m_state->mutex);
    if (m_state->error)
        return *m_state->error;
    m_state->queue.emplace_back(start, std::move(chunk));
    if (!m_state->running) {
        m_state->running = true;
        m_state->pool->start([state = m_state] { State::run(state); });
    }
    return {};
}

std::optional<QFuture<void>> ChunkPipeline::room()
{
    QMutexLocker lock(&m_state->mutex);
    if (m_state->error || int(m_state->queue.size()) < m_state->maxQueued)
        return std::nullopt;
    if (!m_state->roomPromise) {
        m_state->roomPromise.emplace();
        m_state->roomPromise->start();
    }
    return m_state->roomPromise->future();
}

Result<void> ChunkPipeline::drain()
{
    QMutexLocker lock(&m_state->mutex);
    while (m_state->running && !m_state->error)
        m_state->changed.wait(&m_state->mutex);
    if (m_state->error)
        return *m_state->error;
    m_state->finished = true;
    return {};
}

} // namespace Ferry
