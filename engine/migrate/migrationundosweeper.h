#pragma once

#include <QFuture>
#include <QObject>
#include <QTimer>

#include <atomic>

class QThreadPool;

namespace Ferry {

class DatasetStore;

// Undo follows every way a migration can end (docs/architecture.md, "Undo on every ending"). The
// migrate handler undoes what its own attempt wrote when the attempt fails, is cancelled or is
// the last; a job can also end outside any attempt (a rescue after kill -9 on its last attempt,
// a cancel while it waits to resume, another node, the console). Such a job still has its
// checkpoint (every batch writes it, every undo deletes it): this sweeper undoes those on the
// worker pool, at start and then every interval, on every node (the undo is fenced and
// idempotent), and drops the checkpoints of completed migrations.
class MigrationUndoSweeper final : public QObject
{
    Q_OBJECT

public:
    MigrationUndoSweeper(DatasetStore &datasets,
                         QThreadPool &pool,
                         int intervalMs = 5000,
                         QObject *parent = nullptr);
    ~MigrationUndoSweeper() override; // waits for a sweep in progress

    void start(); // sweeps now, then every interval
    void stop();  // no new sweep; waits for the one in progress
    // Sweeps as soon as the one in progress (if any) is done, without waiting for the timer.
    void sweepNow();
    // Jobs undone by this sweeper since it was made.
    qint64 undoneTotal() const { return m_undoneTotal.load(std::memory_order_relaxed); }

private:
    DatasetStore &m_datasets;
    QThreadPool &m_pool;
    QTimer m_timer;
    QFuture<void> m_sweep;
    bool m_again = false; // sweepNow() while a sweep ran
    std::atomic<qint64> m_undoneTotal{0};
};

} // namespace Ferry
