#include "clustermetrics.h"

#include "store/metricstore.h"

#include <QLoggingCategory>
#include <QThread>
#include <QTimer>

namespace Ferry {

Q_LOGGING_CATEGORY(lcClusterMetrics, "ferry.monitor")

ClusterMetrics::ClusterMetrics(MetricStore &store,
                               const Clock &clock,
                               Options options,
                               QObject *parent)
    : MetricFeed(parent), m_store(store), m_clock(clock), m_options(options)
{
    qRegisterMetaType<Ferry::ResourceSample>();
}

ClusterMetrics::~ClusterMetrics()
{
    stop();
}

void ClusterMetrics::start()
{
    if (m_thread)
        return;
    m_thread = std::make_unique<QThread>();
    m_thread->setObjectName(QStringLiteral("ferry-cluster-metrics"));
    m_worker = new QObject;
    m_worker->moveToThread(m_thread.get());
    connect(m_thread.get(), &QThread::finished, m_worker, &QObject::deleteLater);
    connect(m_thread.get(), &QThread::started, m_worker, [this] {
        auto *timer = new QTimer(m_worker);
        timer->setInterval(m_options.intervalMs);
        auto refreshNow = [this] {
            if (auto read = refresh(); !read) // the database away: try again at the next tick
                qCWarning(lcClusterMetrics).noquote() << read.error().toString();
        };
        connect(timer, &QTimer::timeout, m_worker, refreshNow);
        refreshNow();
        timer->start();
    });
    m_thread->start();
}

void ClusterMetrics::stop()
{
    if (!m_thread)
        return;
    m_thread->quit();
    m_thread->wait();
    m_thread.reset();
    m_worker = nullptr;
}

Result<void> ClusterMetrics::refresh()
{
    const qint64 now = m_clock.nowMs();
    if (m_refreshes++ % qMax(1, m_options.minutesEvery) == 0) {
        auto minutes = m_store.clusterMetricSamples(MetricResolution::Minute,
                                                    now - MetricHistory::MinuteWindowMs);
        if (!minutes) {
            m_refreshes = 0; // read them again at the next refresh
            return minutes.error();
        }
        m_minutes = std::move(*minutes);
    }
    auto seconds =
        m_store.clusterMetricSamples(MetricResolution::Second, now - MetricHistory::SecondWindowMs);
    if (!seconds)
        return seconds.error();
    // Seconds some node may not have written yet are left for a later refresh.
    const qint64 complete = now - m_options.lagMs;
    while (!seconds->isEmpty() && seconds->constLast().timestampMs > complete)
        seconds->removeLast();
    std::optional<ResourceSample> newest;
    if (!seconds->isEmpty())
        newest = seconds->constLast();
    {
        QMutexLocker lock(&m_mutex);
        (void)m_history.restore(*seconds, m_minutes); // the nodes write their own minutes
        m_latest = newest;
    }
    if (newest)
        Q_EMIT sampled(*newest);
    return {};
}

QList<ResourceSample> ClusterMetrics::history(MetricRange range) const
{
    QMutexLocker lock(&m_mutex);
    return m_history.query(range, m_clock.nowMs());
}

std::optional<ResourceSample> ClusterMetrics::latest() const
{
    QMutexLocker lock(&m_mutex);
    return m_latest;
}

} // namespace Ferry
