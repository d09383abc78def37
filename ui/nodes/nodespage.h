#pragma once

#include "store/clusterrecords.h"
#include "ui/consolecontext.h"

#include <QCoroTask>
#include <QWidget>

#include <functional>

class QLabel;
class QTableWidget;
class QTimer;

namespace Ferry {

// The Nodes page: every Ferry node registered on the database (Store::nodes; several nodes share
// one PostgreSQL, SQLite has one): id, role (worker or observer), address, running jobs,
// heartbeat age, RSS, leader, version.
// Read on the console's reader pool every 2 s (never SQL on the GUI thread).
class NodesPage final : public QWidget
{
    Q_OBJECT
public:
    explicit NodesPage(ConsoleContext context, QWidget *parent = nullptr);
    Q_DISABLE_COPY_MOVE(NodesPage)

    // Reads now (the timer also does, every 2 s): a coroutine, the read runs on the reader pool.
    QCoro::Task<> refresh();
    // Test hook: the time heartbeat ages are measured against (default: the system clock).
    void setNow(std::function<qint64()> now) { m_now = std::move(now); }

    // This node's id is always counted: it runs even before its first heartbeat lands.
    // Jobs running on every node, as of the last read (the observer's status bar).
    int runningJobs() const { return m_runningJobs; }

    static int liveCount(const QList<NodeRecord> &nodes, const QString &thisNode);
    static QString formatAge(qint64 ms);
    static QString formatBytes(qint64 bytes);

Q_SIGNALS:
    // After each read: how many nodes run (for the status bar), or an error.
    void nodesRead(int count, const QString &error);

private:
    void show(const QList<NodeRecord> &nodes, qint64 now);

    ConsoleContext m_context;
    std::function<qint64()> m_now;
    QTableWidget *m_table = nullptr;
    QLabel *m_summary = nullptr;
    QTimer *m_timer = nullptr;
    bool m_reading = false;
    int m_runningJobs = 0;
};

} // namespace Ferry
