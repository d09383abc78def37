#include "batchcommitter.h"

namespace Ferry {

BatchCommitter::BatchCommitter(DatasetStore &datasets)
    : m_datasets(datasets), m_thread([this] { loop(); })
{}

BatchCommitter::~BatchCommitter()
{
    (void)close();
}

Result<void> BatchCommitter::submit(ImportBatch batch)
{
    std::unique_lock lock(m_mutex);
    m_changed.wait(lock, [this] { return !m_pending || m_error; });
    if (m_error)
        return *m_error;
    m_pending = std::move(batch);
    m_changed.notify_all();
    return {};
}

Result<void> BatchCommitter::close()
{
    {
        std::lock_guard lock(m_mutex);
        m_closing = true;
    }
    m_changed.notify_all();
    if (m_thread.joinable())
        m_thread.join();
    if (m_error)
        return *m_error;
    return {};
}

void BatchCommitter::loop()
{
    std::unique_lock lock(m_mutex);
    while (true) {
        m_changed.wait(lock, [this] { return m_pending || m_closing; });
        if (!m_pending)
            break;
        ImportBatch batch = std::move(*m_pending);
        m_pending.reset();
        m_changed.notify_all();
        if (m_error)
            continue; // drop: an earlier batch failed
        lock.unlock();
        auto written = m_datasets.commitBatch(batch);
        lock.lock();
        if (!written && !m_error)
            m_error = written.error();
        m_changed.notify_all();
    }
}

} // namespace Ferry
