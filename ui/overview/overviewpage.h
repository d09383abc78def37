#pragma once

#include "ui/consolecontext.h"

#include <QCoroTask>
#include <QWidget>

class QComboBox;
class QHBoxLayout;
class QLabel;
class QStackedWidget;
class QTableWidget;

namespace Ferry {

class MetricChart;
struct ResourceSample;
enum class MetricRange;

// Live charts of memory, CPU, active jobs against the limit, queue depth, throughput, HTTP
// requests and 429s over the last minute, 15 minutes or 24 hours (the resource monitor's
// history, at most 60/900/1440 points a line: nothing grows without bound), the concurrency
// limit with the governor's reason, job counts and the latest jobs. The charts redraw when the
// monitor (on its own thread) reports a sample, through a queued connection; the store is read
// on the console's reader thread once a second.
class OverviewPage final : public QWidget
{
    Q_OBJECT
public:
    explicit OverviewPage(ConsoleContext &context, QWidget *parent = nullptr);

    // Reads the store now, on the reader pool (a coroutine); the view updates when it is read.
    QCoro::Task<> refresh();
    // Redraws the charts from the monitor's history for the chosen range.
    void refreshCharts();
    MetricRange range() const;

Q_SIGNALS:
    // After each read: the store's error, empty when it answered.
    void storeRead(const QString &error);

protected:
    void showEvent(QShowEvent *event) override;

private:
    struct Snapshot;
    void apply(const Snapshot &snapshot);
    QHBoxLayout *buildHeader();
    QWidget *buildCharts();
    QStackedWidget *buildLatestJobs();
    void connectMonitor();
    void scheduleCharts();
    void showLimit(int effective, int configured, const QString &reason);
    void showCurrentLimit();

    ConsoleContext &m_context;
    bool m_refreshing = false;
    bool m_chartsScheduled = false;
    QLabel *m_summary;
    QLabel *m_limit;
    QString m_limitReason;    // the governor's, while it holds the limit down
    QString m_claimingReason; // why claiming is paused (free disk below the floor)
    QComboBox *m_range;
    MetricChart *m_memory = nullptr;
    MetricChart *m_cpu = nullptr;
    MetricChart *m_jobs = nullptr;
    MetricChart *m_queueDepth = nullptr;
    MetricChart *m_throughput = nullptr;
    MetricChart *m_http = nullptr;
    QStackedWidget *m_body;
    QTableWidget *m_table;
};

} // namespace Ferry
