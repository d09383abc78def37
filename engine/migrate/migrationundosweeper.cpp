#include "migrationundosweeper.h"

#include "store/datasetstore.h"

#include <QLoggingCategory>
#include <QThreadPool>
#include <QtConcurrent/QtConcurrentRun>

namespace Ferry {

Q_LOGGING_CATEGORY(lcUndo, "ferry.migrate.undo")

MigrationUndoSweeper::MigrationUndoSweeper(DatasetStore &datasets,
                                           QThreadPool &pool,
                                           int intervalMs,
                                           QObject *parent)
    : QObject(parent), m_datasets(datasets), m_pool(pool)
{
    m_timer.setInterval(intervalMs);
    connect(&m_timer, &QTimer::timeout, this, &MigrationUndoSweeper::sweepNow);
}

MigrationUndoSweeper::~MigrationUndoSweeper()
{
    stop();
}

void MigrationUndoSweeper::start()
{
    m_timer.start();
    sweepNow();
}

void MigrationUndoSweeper::stop()
{
    m_timer.stop();
    m_again = false;
    m_sweep.waitForFinished();
}

void MigrationUndoSweeper::sweepNow()
{
    if (m_sweep.isRunning()) {
        m_again = true;
        return;
    }
    m_again = false;
    m_sweep = QtConcurrent::run(&m_pool, [this] {
        auto undone = m_datasets.undoEndedMigrations();
        if (!undone) {
            // Not lost: the list stays in the store, and the next sweep tries again.
            qCWarning(lcUndo) << "undoing ended migrations:" << undone.error().toString();
        } else if (*undone > 0) {
            m_undoneTotal.fetch_add(*undone, std::memory_order_relaxed);
            qCInfo(lcUndo) << "undid the rows of" << *undone
                           << "migration job(s) that ended outside their attempt";
        }
    });
    // A sweep asked for while this one ran follows it at once (on this object's thread).
    m_sweep.then(this, [this] {
        if (m_again && m_timer.isActive())
            sweepNow();
    });
}

} // namespace Ferry
