#include "resourcemonitor.h"

#include "store/metricstore.h"

#include <QLoggingCategory>
#include <QThread>
#include <QTimer>

namespace Ferry {

Q_LOGGING_CATEGORY(lcMonitor, "ferry.monitor")

namespace {
constexpr qint64 ThroughputWindowMs = 60'000;
} // namespace

ResourceMonitor::ResourceMonitor(SystemProbe &probe,
                                 const Clock &clock,
                                 MonitorSources sources,
                                 Options options,
                                 MetricStore *store,
                                 ConcurrencyControl control,
                                 QObject *parent)
    : MetricFeed(parent)
    , m_probe(probe)
    , m_clock(clock)
    , m_sources(std::move(sources))
    , m_options(options)
    , m_store(store)
    , m_control(std::move(control))
    , m_governor(options.governor)
    , m_governorConfig(options.governor)
{
    qRegisterMetaType<Ferry::ResourceSample>();
}

ResourceMonitor::~ResourceMonitor()
{
    stop();
}

void ResourceMonitor::start()
{
    if (m_thread)
        return;
    m_thread = std::make_unique<QThread>();
    m_thread->setObjectName(QStringLiteral("ferry-monitor"));
    m_worker = new QObject;
    m_worker->moveToThread(m_thread.get());
    connect(m_thread.get(), &QThread::finished, m_worker, &QObject::deleteLater);
    connect(m_thread.get(), &QThread::started, m_worker, [this] {
        if (auto loaded = loadHistory(); !loaded)
            qCWarning(lcMonitor).noquote() << "history not loaded:" << loaded.error().toString();
        auto *timer = new QTimer(m_worker);
        timer->setObjectName(QStringLiteral("ticker"));
        timer->setInterval(m_options.intervalMs);
        connect(timer, &QTimer::timeout, m_worker, [this] { tick(); });
        tick();
        timer->start();
    });
    m_thread->start();
}

void ResourceMonitor::stop()
{
    if (!m_thread) {
        saveOnStop();
        return;
    }
    // The timer and the last write happen on the monitor's thread, which owns them.
    QMetaObject::invokeMethod(
        m_worker,
        [this] {
            if (auto *timer = m_worker->findChild<QTimer *>(QStringLiteral("ticker")))
                timer->stop();
            saveOnStop();
            QThread::currentThread()->quit();
        },
        Qt::QueuedConnection);
    m_thread->wait();
    m_thread.reset();
    m_worker = nullptr; // deleted on the thread's finish
}

bool ResourceMonitor::isRunning() const
{
    return m_thread != nullptr;
}

qint64 ResourceMonitor::read(const std::function<qint64()> &source)
{
    return source ? source() : 0;
}

void ResourceMonitor::warnOnce(const Error &error)
{
    // A probe that fails once usually fails every second; say so once per kind of failure.
    if (m_warned.contains(error.message))
        return;
    m_warned.insert(error.message);
    qCWarning(lcMonitor).noquote() << error.toString();
}

void ResourceMonitor::tick()
{
    ResourceSample sample;
    sample.timestampMs = m_clock.nowMs();
    readProbe(sample);
    readSources(sample);
    govern(sample);
    m_lastTickMs = sample.timestampMs;
    record(sample);
    Q_EMIT sampled(sample);
}

void ResourceMonitor::readProbe(ResourceSample &sample)
{
    if (auto rss = m_probe.processRssBytes())
        sample.rssBytes = *rss;
    else
        warnOnce(rss.error());
    if (auto cpu = m_probe.processCpuTimeMs()) {
        const qint64 wallMs = sample.timestampMs - m_lastTickMs;
        if (m_lastCpuMs >= 0 && m_lastTickMs >= 0 && wallMs > 0 && *cpu >= m_lastCpuMs)
            sample.cpuPercent = double(*cpu - m_lastCpuMs) * 100.0 / double(wallMs);
        m_lastCpuMs = *cpu;
    } else {
        warnOnce(cpu.error());
        m_lastCpuMs = -1;
    }
    if (auto memory = m_probe.systemMemory()) {
        sample.systemMemTotalBytes = memory->totalBytes;
        sample.systemMemAvailableBytes = memory->availableBytes;
    } else {
        warnOnce(memory.error());
    }
    if (auto disk = m_probe.freeDiskBytes())
        sample.freeDiskBytes = *disk;
    else
        warnOnce(disk.error());
}

void ResourceMonitor::readSources(ResourceSample &sample)
{
    const qint64 now = sample.timestampMs;
    sample.activeJobs = m_sources.activeJobs ? m_sources.activeJobs() : 0;
    sample.queueDepth = read(m_sources.queueDepth);

    // Throughput over the last minute, so one tick's burst does not read as 60x.
    const qint64 completed = read(m_sources.completedTotal);
    m_completions.emplace_back(now, completed);
    while (m_completions.size() > 1 && m_completions.front().first < now - ThroughputWindowMs)
        m_completions.pop_front();
    const auto &[oldestAt, oldestTotal] = m_completions.front();
    if (now > oldestAt && completed >= oldestTotal)
        sample.jobsCompletedPerMin = double(completed - oldestTotal) * 60'000.0 / (now - oldestAt);

    const qint64 requests = read(m_sources.httpRequestsTotal);
    const qint64 limited = read(m_sources.http429Total);
    const qint64 wallMs = now - m_lastTickMs;
    if (m_lastTickMs >= 0 && wallMs > 0) {
        if (m_lastHttpTotal >= 0 && requests >= m_lastHttpTotal)
            sample.httpRequestsPerSec = double(requests - m_lastHttpTotal) * 1000.0 / wallMs;
        if (m_last429Total >= 0 && limited >= m_last429Total)
            sample.http429PerSec = double(limited - m_last429Total) * 1000.0 / wallMs;
    }
    m_lastHttpTotal = requests;
    m_last429Total = limited;
}

void ResourceMonitor::govern(ResourceSample &sample)
{
    if (!m_control)
        return;
    const int configured = m_control.configured();
    {
        QMutexLocker lock(&m_mutex);
        if (m_governorConfigChanged) {
            m_governor.setWatermarks(m_governorConfig.highWaterBytes,
                                     m_governorConfig.lowWaterBytes);
            m_governorConfigChanged = false;
        }
    }
    if (m_options.governorEnabled) {
        const auto decision = m_governor.update(
            {sample.timestampMs, sample.rssBytes, sample.freeDiskBytes, configured});
        const int cap = decision.throttled ? decision.effectiveLimit : 0;
        if (m_control.resourceLimit() != cap)
            m_control.setResourceLimit(cap);
        if (decision.claimingChanged)
            m_control.setClaimingPaused(decision.claimingPaused);
        if (decision.limitChanged || decision.claimingChanged) {
            qCInfo(lcMonitor).noquote()
                << QStringLiteral("concurrency %1 of %2%3 - %4")
                       .arg(decision.effectiveLimit)
                       .arg(configured)
                       .arg(decision.claimingPaused ? QStringLiteral(", claiming paused")
                                                    : QString())
                       .arg(decision.reason);
            {
                QMutexLocker lock(&m_mutex);
                m_events.push_back({sample.timestampMs, decision.effectiveLimit, configured,
                                    decision.claimingPaused, decision.reason});
                while (int(m_events.size()) > m_options.maxEvents)
                    m_events.pop_front();
            }
            if (decision.limitChanged)
                Q_EMIT limitChanged(decision.effectiveLimit, configured, decision.reason);
            if (decision.claimingChanged)
                Q_EMIT claimingPausedChanged(decision.claimingPaused, decision.reason);
        }
    }
    sample.concurrencyLimit = m_control.effective();
    sample.configuredMax = configured;
}

void ResourceMonitor::record(const ResourceSample &sample)
{
    std::optional<ResourceSample> completedMinute;
    {
        QMutexLocker lock(&m_mutex);
        completedMinute = m_history.add(sample);
        m_latest = sample;
    }
    if (!m_store)
        return;
    if (completedMinute) {
        auto saved = m_store->saveMetricSamples(MetricResolution::Minute, m_options.series,
                                                {*completedMinute},
                                                sample.timestampMs - MetricHistory::MinuteWindowMs);
        if (!saved)
            warnOnce(saved.error());
    }
    m_unsavedSeconds.append(sample);
    if (m_unsavedSeconds.size() >= qMax(1, m_options.secondsBatch)) {
        if (auto flushed = flush(); !flushed)
            warnOnce(flushed.error());
    }
}

void ResourceMonitor::saveOnStop()
{
    if (auto flushed = flush(); !flushed)
        qCWarning(lcMonitor).noquote() << flushed.error().toString();
    if (!m_store)
        return;
    // The minute in progress, as far as it got: without it the 24-hour chart of a run shorter
    // than a minute stays empty. A restart folds it again from its seconds (MetricHistory::
    // restore) and writes it again once complete.
    std::optional<ResourceSample> partial;
    {
        QMutexLocker lock(&m_mutex);
        partial = m_history.partialMinute();
    }
    if (!partial)
        return;
    if (auto saved =
            m_store->saveMetricSamples(MetricResolution::Minute, m_options.series, {*partial},
                                       partial->timestampMs - MetricHistory::MinuteWindowMs);
        !saved)
        qCWarning(lcMonitor).noquote() << saved.error().toString();
}

Result<void> ResourceMonitor::flush()
{
    if (!m_store || m_unsavedSeconds.isEmpty())
        return {};
    const qint64 newest = m_unsavedSeconds.last().timestampMs;
    auto saved =
        m_store->saveMetricSamples(MetricResolution::Second, m_options.series, m_unsavedSeconds,
                                   newest - MetricHistory::SecondWindowMs);
    if (!saved) {
        // Keep them for the next try, but never more than the window holds.
        while (m_unsavedSeconds.size() > MetricHistory::SecondCapacity)
            m_unsavedSeconds.removeFirst();
        return saved;
    }
    m_unsavedSeconds.clear();
    return {};
}

Result<void> ResourceMonitor::loadHistory()
{
    if (!m_store)
        return {};
    const qint64 now = m_clock.nowMs();
    auto seconds = m_store->metricSamples(MetricResolution::Second, m_options.series,
                                          now - MetricHistory::SecondWindowMs);
    if (!seconds)
        return seconds.error();
    auto minutes = m_store->metricSamples(MetricResolution::Minute, m_options.series,
                                          now - MetricHistory::MinuteWindowMs);
    if (!minutes)
        return minutes.error();
    QList<ResourceSample> completed;
    {
        QMutexLocker lock(&m_mutex);
        completed = m_history.restore(*seconds, *minutes);
    }
    if (!completed.isEmpty())
        return m_store->saveMetricSamples(MetricResolution::Minute, m_options.series, completed,
                                          now - MetricHistory::MinuteWindowMs);
    return {};
}

QList<ResourceSample> ResourceMonitor::history(MetricRange range) const
{
    QMutexLocker lock(&m_mutex);
    return m_history.query(range, m_clock.nowMs());
}

std::optional<ResourceSample> ResourceMonitor::latest() const
{
    QMutexLocker lock(&m_mutex);
    return m_latest;
}

QList<GovernorEvent> ResourceMonitor::recentEvents() const
{
    QMutexLocker lock(&m_mutex);
    return QList<GovernorEvent>(m_events.cbegin(), m_events.cend());
}

Result<void> ResourceMonitor::setWatermarks(qint64 highWaterBytes, qint64 lowWaterBytes)
{
    if (auto valid = ConcurrencyGovernor::validateWatermarks(highWaterBytes, lowWaterBytes); !valid)
        return valid;
    QMutexLocker lock(&m_mutex);
    m_governorConfig.highWaterBytes = highWaterBytes;
    m_governorConfig.lowWaterBytes = lowWaterBytes;
    m_governorConfigChanged = true;
    return {};
}

ConcurrencyGovernor::Config ResourceMonitor::governorConfig() const
{
    QMutexLocker lock(&m_mutex);
    return m_governorConfig;
}

} // namespace Ferry
