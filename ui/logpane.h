#pragma once

#include <QDockWidget>

class QComboBox;
class QTableView;

namespace Ferry {

class LogBuffer;
class LogModel;

// The console's log pane: the engine's recent log records (LogBuffer), newest last, filtered
// by a minimum level. New records arrive through a queued connection and are read in batches
// (at most a few times a second), so a chatty engine cannot flood the GUI thread.
class LogPane final : public QDockWidget
{
    Q_OBJECT
public:
    explicit LogPane(LogBuffer *buffer, QWidget *parent = nullptr);
    ~LogPane() override;
    Q_DISABLE_COPY_MOVE(LogPane)

    // Reads what the buffer holds beyond what is shown.
    void readNew();
    int visibleRows() const;

private:
    void scheduleUpdate();

    LogBuffer *m_buffer;
    LogModel *m_model;
    QComboBox *m_level;
    QTableView *m_view;
    bool m_updateScheduled = false;
};

} // namespace Ferry
