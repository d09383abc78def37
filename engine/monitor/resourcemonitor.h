#pragma once

#include "core/clock.h"
#include "monitor/concurrencygovernor.h"
#include "monitor/metricfeed.h"
#include "monitor/metrichistory.h"
#include "monitor/systemprobe.h"
#include "store/resourcesample.h"

#include <QMutex>
#include <QObject>
#include <QSet>

#include <deque>
#include <functional>
#include <memory>
#include <optional>

class QThread;

namespace Ferry {

class MetricStore;

// The engine's counters, read once a tick on the monitor's thread. Each is optional (unset
// reads 0), so the monitor depends on neither the API nor the queue; app/enginehost.cpp wires them.
struct MonitorSources
{
    std::function<int()> activeJobs;
    std::function<qint64()> queueDepth;        // may run SQL: called on the monitor's thread
    std::function<qint64()> completedTotal;    // jobs completed since the process started
    std::function<qint64()> httpRequestsTotal; // requests answered since the process started
    std::function<qint64()> http429Total;      // of which rate-limited
};

// The concurrency the governor steers: the Dispatcher's, wired in app/enginehost.cpp as
// callbacks, so the monitor stays below the queue. Set all or none (none: nothing to govern).
// Called on the monitor's thread; the Dispatcher's methods behind them are thread-safe.
struct ConcurrencyControl
{
    std::function<int()> configured;           // the configured maximum
    std::function<int()> resourceLimit;        // the governor's current cap (0: none)
    std::function<void(int)> setResourceLimit; // 0 lifts the cap
    std::function<void(bool)> setClaimingPaused;
    std::function<int()> effective; // what runs at most now, all limits applied

    explicit operator bool() const { return bool(configured); }
};

// One change of the governor, for the log and the console.
struct GovernorEvent
{
    qint64 timestampMs = 0;
    int effectiveLimit = 0;
    int configuredMax = 0;
    bool claimingPaused = false;
    QString reason;
};

// Samples the process and the machine once a second on a thread of its own (never the GUI
// thread), keeps the history (MetricHistory, persisted through the Store so charts survive a
// restart) and drives adaptive concurrency: each tick's reading goes to a ConcurrencyGovernor,
// whose decisions are applied to the Dispatcher (through ConcurrencyControl), logged,
// and signalled.
//
// Persistence: one-minute rows are written as each minute completes; one-second samples in
// batches (every secondsBatch ticks, 10 s by default), so a crash loses at most that much of the
// 15-minute chart and SQLite sees one small transaction per 10 s instead of one a second.
// stop() writes the unwritten batch and the minute in progress.
//
// Signals are emitted on the monitor's thread: connect with a queued connection (the default
// for a receiver on another thread).
class ResourceMonitor final : public MetricFeed
{
    Q_OBJECT
public:
    struct Options
    {
        int intervalMs = 1000;
        int secondsBatch = 10;
        bool governorEnabled = true;
        ConcurrencyGovernor::Config governor;
        int maxEvents = 200; // governor events kept for the console
        // The series its history is saved under and loaded from (MetricStore): '' for the one
        // engine of a SQLite store, the node id on PostgreSQL (every node keeps its own).
        QString series;
    };

    // store may be null (no persistence); control may be empty (nothing to govern).
    ResourceMonitor(SystemProbe &probe,
                    const Clock &clock,
                    MonitorSources sources,
                    Options options,
                    MetricStore *store = nullptr,
                    ConcurrencyControl control = {},
                    QObject *parent = nullptr);
    ~ResourceMonitor() override; // stop()s
    Q_DISABLE_COPY_MOVE(ResourceMonitor)

    // Starts the monitor thread: loads the persisted history there, then ticks every intervalMs.
    void start();
    // Stops ticking, writes what is not persisted yet, and ends the thread. Idempotent.
    void stop();
    bool isRunning() const;

    // One sample on the calling thread. start() calls it from the monitor's thread; tests call it
    // directly on a monitor that was not started. Not reentrant.
    void tick();
    // Replaces the in-memory history with the store's (start() does this first).
    Result<void> loadHistory();
    // Writes the one-second samples not yet persisted.
    Result<void> flush();

    // Thread-safe reads (for the console).
    QList<ResourceSample> history(MetricRange range) const override;
    std::optional<ResourceSample> latest() const override;
    QList<GovernorEvent> recentEvents() const;
    const Options &options() const { return m_options; }
    // Thread-safe: new memory marks for adaptive concurrency, used from the next tick (the
    // console's Settings page). Refuses marks that do not fit (high > low > 0).
    Result<void> setWatermarks(qint64 highWaterBytes, qint64 lowWaterBytes);
    // The marks in force (or set to be used from the next tick).
    ConcurrencyGovernor::Config governorConfig() const;

Q_SIGNALS:
    // sampled(): MetricFeed's, once a tick.
    void limitChanged(int effective, int configured, const QString &reason);
    void claimingPausedChanged(bool paused, const QString &reason);

private:
    // stop()'s last writes: the unwritten seconds and the minute in progress.
    void saveOnStop();
    void readProbe(ResourceSample &sample);
    void readSources(ResourceSample &sample);
    void govern(ResourceSample &sample);
    void record(const ResourceSample &sample);
    void warnOnce(const Error &error);
    static qint64 read(const std::function<qint64()> &source);

    SystemProbe &m_probe;
    const Clock &m_clock;
    const MonitorSources m_sources;
    const Options m_options;
    MetricStore *m_store;
    const ConcurrencyControl m_control;
    ConcurrencyGovernor m_governor;

    // Monitor-thread state (tick()).
    qint64 m_lastTickMs = -1;
    qint64 m_lastCpuMs = -1;
    qint64 m_lastHttpTotal = -1;
    qint64 m_last429Total = -1;
    std::deque<std::pair<qint64, qint64>> m_completions; // (time, completedTotal), last minute
    QList<ResourceSample> m_unsavedSeconds;
    QSet<QString> m_warned;

    mutable QMutex m_mutex; // guards what the console reads
    MetricHistory m_history;
    std::optional<ResourceSample> m_latest;
    std::deque<GovernorEvent> m_events;
    ConcurrencyGovernor::Config m_governorConfig; // what the governor uses from the next tick
    bool m_governorConfigChanged = false;

    std::unique_ptr<QThread> m_thread;
    QObject *m_worker = nullptr; // lives on m_thread; owns the timer
};

} // namespace Ferry
