#include "api/batchedjobreads.h"

#include "store/jobstore.h"

#include <QHash>
#include <QSet>

namespace Ferry {

BatchedJobReads::BatchedJobReads(JobStore &store) : m_store(store)
{
    m_thread.reset(QThread::create([this] { run(); }));
    m_thread->setObjectName(QStringLiteral("ferry-job-reads"));
    m_thread->start();
}

BatchedJobReads::~BatchedJobReads()
{
    {
        std::lock_guard lock(m_mutex);
        m_stopping = true;
    }
    m_wake.notify_one();
    m_thread->wait();
    // The thread answered everything it took; what came after it stopped is answered here.
    std::vector<Pending> left;
    {
        std::lock_guard lock(m_mutex);
        left.swap(m_pending);
    }
    for (Pending &pending : left) {
        pending.done(makeError(ErrorCode::Unavailable, QStringLiteral("The server is stopping."),
                               QStringLiteral("Send the request again in a moment.")));
    }
}

void BatchedJobReads::read(qint64 jobId, Done done)
{
    bool first = false;
    {
        std::lock_guard lock(m_mutex);
        first = m_pending.empty();
        m_pending.push_back({jobId, std::move(done)});
    }
    if (first)
        m_wake.notify_one();
}

qint64 BatchedJobReads::statements() const
{
    std::lock_guard lock(m_mutex);
    return m_statements;
}

void BatchedJobReads::run()
{
    std::vector<Pending> batch;
    std::unique_lock lock(m_mutex);
    for (;;) {
        m_wake.wait(lock, [this] { return m_stopping || !m_pending.empty(); });
        if (m_stopping)
            return;
        if (m_pending.size() <= size_t(MaxBatch)) {
            batch.swap(m_pending);
        } else {
            const auto end = m_pending.begin() + MaxBatch;
            batch.assign(std::make_move_iterator(m_pending.begin()), std::make_move_iterator(end));
            m_pending.erase(m_pending.begin(), end);
        }
        ++m_statements;
        lock.unlock();
        answer(batch);
        batch.clear();
        lock.lock();
    }
}

void BatchedJobReads::answer(std::vector<Pending> &batch)
{
    QList<qint64> ids;
    ids.reserve(qsizetype(batch.size()));
    QSet<qint64> asked;
    for (const Pending &pending : batch) {
        if (!asked.contains(pending.jobId)) { // many clients poll the same job
            asked.insert(pending.jobId);
            ids.append(pending.jobId);
        }
    }
    auto jobs = m_store.jobsByIds(ids);
    if (!jobs) {
        for (Pending &pending : batch)
            pending.done(jobs.error());
        return;
    }
    QHash<qint64, qsizetype> byId;
    byId.reserve(jobs->size());
    for (qsizetype i = 0; i < jobs->size(); ++i)
        byId.insert(jobs->at(i).id, i);
    for (Pending &pending : batch) {
        const auto found = byId.constFind(pending.jobId);
        pending.done(found == byId.cend() ? std::optional<Job>()
                                          : std::optional<Job>(jobs->at(*found)));
    }
}

} // namespace Ferry
