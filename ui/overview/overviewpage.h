#pragma once

#include "consolecontext.h"

#include <QWidget>

class QLabel;
class QStackedWidget;
class QTableWidget;

namespace Ferry {

// Live charts of memory, CPU, active jobs against the limit, queue depth, throughput, HTTP
// requests and 429s. For now: job counts and the latest jobs, read on the console's reader
// thread once a second.
class OverviewPage final : public QWidget
{
    Q_OBJECT
public:
    explicit OverviewPage(ConsoleContext &context, QWidget *parent = nullptr);

    // Reads the store now (asynchronously); the view updates when the read is done.
    void refresh();

Q_SIGNALS:
    // After each read: the store's error, empty when it answered.
    void storeRead(const QString &error);

private:
    struct Snapshot;
    void apply(const Snapshot &snapshot);

    ConsoleContext &m_context;
    bool m_refreshing = false;
    QLabel *m_summary;
    QStackedWidget *m_body;
    QTableWidget *m_table;
};

} // namespace Ferry
