#include "logpane.h"

#include "core/logbuffer.h"

#include <QAbstractTableModel>
#include <QColor>
#include <QComboBox>
#include <QDateTime>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QTableView>
#include <QTimer>
#include <QVBoxLayout>

namespace Ferry {

// The records the pane holds (at most the buffer's capacity) and those at or above the chosen
// level.
class LogModel final : public QAbstractTableModel
{
public:
    explicit LogModel(int capacity, QObject *parent)
        : QAbstractTableModel(parent), m_capacity(capacity)
    {}

    int rowCount(const QModelIndex &parent = {}) const override
    {
        return parent.isValid() ? 0 : int(m_visible.size());
    }
    int columnCount(const QModelIndex &parent = {}) const override
    {
        return parent.isValid() ? 0 : 4;
    }

    QVariant data(const QModelIndex &index, int role) const override
    {
        if (!index.isValid() || index.row() >= m_visible.size())
            return {};
        const LogRecord &r = m_visible.at(index.row());
        if (role == Qt::DisplayRole) {
            switch (index.column()) {
            case 0:
                return QDateTime::fromMSecsSinceEpoch(r.timestampMs)
                    .toString(QStringLiteral("HH:mm:ss.zzz"));
            case 1:
                return LogRecord::levelName(r.level);
            case 2:
                return r.category;
            case 3:
                return r.message;
            }
        } else if (role == Qt::ForegroundRole && LogRecord::severity(r.level) >= 2) {
            return LogRecord::severity(r.level) >= 3 ? QColor(0xc0, 0x00, 0x00)
                                                     : QColor(0xa0, 0x60, 0x00);
        } else if (role == Qt::ToolTipRole && index.column() == 3) {
            return r.message;
        }
        return {};
    }

    QVariant headerData(int section, Qt::Orientation orientation, int role) const override
    {
        if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
            return {};
        static const char *const names[] = {"Time", "Level", "Category", "Message"};
        return QString::fromLatin1(names[section]);
    }

    qint64 lastSequence() const { return m_all.isEmpty() ? 0 : m_all.constLast().sequence; }

    void add(const QList<LogRecord> &records)
    {
        if (records.isEmpty())
            return;
        m_all.append(records);
        if (m_all.size() > m_capacity)
            m_all.remove(0, m_all.size() - m_capacity);
        refilter();
    }

    void setMinimumSeverity(int severity)
    {
        m_minimum = severity;
        refilter();
    }

private:
    void refilter()
    {
        beginResetModel();
        m_visible.clear();
        for (const LogRecord &r : std::as_const(m_all)) {
            if (LogRecord::severity(r.level) >= m_minimum)
                m_visible.append(r);
        }
        endResetModel();
    }

    const int m_capacity;
    int m_minimum = 1; // info
    QList<LogRecord> m_all;
    QList<LogRecord> m_visible;
};

LogPane::LogPane(LogBuffer *buffer, QWidget *parent)
    : QDockWidget(QStringLiteral("Engine log"), parent)
    , m_buffer(buffer)
    , m_model(new LogModel(buffer ? buffer->capacity() : 1, this))
{
    setObjectName(QStringLiteral("logPane"));
    setFeatures(QDockWidget::DockWidgetClosable | QDockWidget::DockWidgetMovable);
    auto *body = new QWidget(this);
    auto *layout = new QVBoxLayout(body);
    layout->setContentsMargins(4, 2, 4, 2);
    auto *bar = new QHBoxLayout;
    bar->addWidget(new QLabel(QStringLiteral("Level at least"), body));
    m_level = new QComboBox(body);
    m_level->setObjectName(QStringLiteral("logLevel"));
    m_level->addItem(QStringLiteral("debug"), 0);
    m_level->addItem(QStringLiteral("info"), 1);
    m_level->addItem(QStringLiteral("warning"), 2);
    m_level->addItem(QStringLiteral("error"), 3);
    m_level->setCurrentIndex(1);
    bar->addWidget(m_level);
    bar->addStretch();
    layout->addLayout(bar);
    m_view = new QTableView(body);
    m_view->setObjectName(QStringLiteral("logView"));
    m_view->setModel(m_model);
    m_view->verticalHeader()->hide();
    m_view->verticalHeader()->setDefaultSectionSize(m_view->fontMetrics().height() + 4);
    m_view->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    m_view->horizontalHeader()->setStretchLastSection(true);
    m_view->setWordWrap(false);
    m_view->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_view->setEditTriggers(QAbstractItemView::NoEditTriggers);
    layout->addWidget(m_view);
    if (!buffer) {
        auto *none = new QLabel(QStringLiteral("No engine log in this mode."), body);
        layout->addWidget(none);
    }
    setWidget(body);

    connect(m_level, &QComboBox::currentIndexChanged, this, [this] {
        m_model->setMinimumSeverity(m_level->currentData().toInt());
        m_view->scrollToBottom();
    });
    if (m_buffer) {
        // appended is emitted on whichever thread logged: queued to the GUI thread.
        connect(m_buffer, &LogBuffer::appended, this, &LogPane::scheduleUpdate,
                Qt::QueuedConnection);
        readNew();
    }
}

LogPane::~LogPane() = default;

int LogPane::visibleRows() const
{
    return m_model->rowCount();
}

void LogPane::scheduleUpdate()
{
    if (m_updateScheduled)
        return;
    m_updateScheduled = true;
    QTimer::singleShot(250, this, [this] {
        m_updateScheduled = false;
        readNew();
    });
}

void LogPane::readNew()
{
    if (!m_buffer)
        return;
    m_model->add(m_buffer->recordsAfter(m_model->lastSequence()));
    m_view->scrollToBottom();
}

} // namespace Ferry
