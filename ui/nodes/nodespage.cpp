#include "nodespage.h"

#include "store/store.h"
#include "ui/runonpool.h"

#include <QColor>
#include <QDateTime>
#include <QHeaderView>
#include <QLabel>
#include <QTableWidget>
#include <QTimer>
#include <QVBoxLayout>

namespace Ferry {

namespace {

enum Column { Id, Role, Address, Running, Heartbeat, Rss, Leader, Version, ColumnCount };

constexpr qint64 StaleHeartbeatMs = 6'000;

} // namespace

NodesPage::NodesPage(ConsoleContext context, QWidget *parent)
    : QWidget(parent), m_context(context), m_now([] { return QDateTime::currentMSecsSinceEpoch(); })
{
    setObjectName(QStringLiteral("nodesPage"));
    auto *layout = new QVBoxLayout(this);
    m_summary = new QLabel(this);
    m_summary->setObjectName(QStringLiteral("nodesSummary"));
    layout->addWidget(m_summary);
    m_table = new QTableWidget(0, ColumnCount, this);
    m_table->setObjectName(QStringLiteral("nodesTable"));
    m_table->setHorizontalHeaderLabels({QStringLiteral("Node"), QStringLiteral("Role"),
                                        QStringLiteral("Address"), QStringLiteral("Running jobs"),
                                        QStringLiteral("Heartbeat"), QStringLiteral("RSS"),
                                        QStringLiteral("Leader"), QStringLiteral("Version")});
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->verticalHeader()->hide();
    m_table->horizontalHeader()->setSectionResizeMode(Id, QHeaderView::Stretch);
    m_table->horizontalHeader()->setSectionResizeMode(Address, QHeaderView::ResizeToContents);
    layout->addWidget(m_table, 1);
    auto *note = new QLabel(
        QStringLiteral("Every node on this database. Workers run jobs; observers are consoles "
                       "opened with --observe, which run none and never lead. A node without a "
                       "heartbeat for half a job lease is dead: the leader returns its jobs to "
                       "the queue."),
        this);
    note->setWordWrap(true);
    layout->addWidget(note);

    m_timer = new QTimer(this);
    m_timer->setInterval(2000);
    connect(m_timer, &QTimer::timeout, this, &NodesPage::refresh);
    m_timer->start();
    QTimer::singleShot(0, this, &NodesPage::refresh);
}

QCoro::Task<> NodesPage::refresh()
{
    if (m_reading || !m_context.readers)
        co_return;
    m_reading = true;
    Store *store = &m_context.store;
    const qint64 now = m_now();
    auto reading = runOnPool(this, m_context.readers, [store, now] { return store->nodes(now); });
    const auto nodes = co_await reading;
    if (!nodes)
        co_return; // the page is gone
    m_reading = false;
    if (!*nodes) {
        const QString error = nodes->error().toString();
        m_summary->setText(error);
        Q_EMIT nodesRead(liveCount({}, m_context.thisNode()), error);
        co_return;
    }
    show(**nodes, now);
}

void NodesPage::show(const QList<NodeRecord> &nodes, qint64 now)
{
    const QString self = m_context.thisNode();
    m_table->setRowCount(int(nodes.size()));
    int running = 0, observers = 0;
    for (int row = 0; row < nodes.size(); ++row) {
        const NodeRecord &node = nodes.at(row);
        running += node.runningJobs;
        observers += node.observer ? 1 : 0;
        auto set = [&](int column, const QString &text, Qt::Alignment align = Qt::AlignLeft) {
            auto *item = new QTableWidgetItem(text);
            item->setTextAlignment(align | Qt::AlignVCenter);
            m_table->setItem(row, column, item);
        };
        set(Id, node.id == self ? node.id + QStringLiteral(" (this node)") : node.id);
        set(Role, node.observer ? QStringLiteral("observer") : QStringLiteral("worker"));
        if (node.observer) {
            m_table->item(row, Role)->setToolTip(
                QStringLiteral("A console opened with --observe: it runs no job, serves no HTTP "
                               "and never leads."));
        }
        set(Address, node.address.isEmpty() ? QStringLiteral("—") : node.address);
        set(Running, QString::number(node.runningJobs), Qt::AlignRight);
        set(Heartbeat, formatAge(now - node.heartbeatAt), Qt::AlignRight);
        // Three missed heartbeats (2 s each): probably stopping or cut off; the leader rescues
        // its jobs once the heartbeat is half a job lease old.
        if (now - node.heartbeatAt > StaleHeartbeatMs) {
            m_table->item(row, Heartbeat)->setForeground(QColor(0xc6, 0x28, 0x28));
            m_table->item(row, Heartbeat)
                ->setToolTip(
                    QStringLiteral("No heartbeat for a while: the node may have stopped."));
        }
        set(Rss, formatBytes(node.rssBytes), Qt::AlignRight);
        set(Leader, node.leader ? QStringLiteral("leader") : QString());
        set(Version, node.version);
    }
    const int count = liveCount(nodes, self);
    m_summary->setText(QStringLiteral("%1 %2%3, %4 jobs running")
                           .arg(count)
                           .arg(count == 1 ? QStringLiteral("node") : QStringLiteral("nodes"))
                           .arg(observers == 0   ? QString()
                                : observers == 1 ? QStringLiteral(" (1 observer)")
                                                 : QStringLiteral(" (%1 observers)").arg(observers))
                           .arg(running));
    m_runningJobs = running;
    Q_EMIT nodesRead(count, QString());
}

int NodesPage::liveCount(const QList<NodeRecord> &nodes, const QString &thisNode)
{
    const bool listed = std::any_of(nodes.begin(), nodes.end(),
                                    [&](const NodeRecord &n) { return n.id == thisNode; });
    return int(nodes.size()) + (listed ? 0 : 1);
}

QString NodesPage::formatAge(qint64 ms)
{
    if (ms < 0)
        ms = 0;
    if (ms < 60'000)
        return QStringLiteral("%1 s ago").arg(double(ms) / 1000.0, 0, 'f', 1);
    if (ms < 3'600'000)
        return QStringLiteral("%1 min ago").arg(ms / 60'000);
    return QStringLiteral("%1 h ago").arg(ms / 3'600'000);
}

QString NodesPage::formatBytes(qint64 bytes)
{
    if (bytes < 0)
        return QStringLiteral("?");
    return QStringLiteral("%1 MB").arg(double(bytes) / (1024.0 * 1024.0), 0, 'f', 1);
}

} // namespace Ferry
