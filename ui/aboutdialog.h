#pragma once

#include "ui/consolecontext.h"

#include <QCoroTask>
#include <QDialog>

class QLabel;

namespace Ferry {

// Help > About Ferry: the version, the Qt it runs on, the database (its kind and server version,
// read on the console's reader thread) and the data directory.
class AboutDialog final : public QDialog
{
    Q_OBJECT
public:
    explicit AboutDialog(ConsoleContext &context, QWidget *parent = nullptr);

    // The text shown, for tests and for copying.
    QString text() const;

private:
    QCoro::Task<> readDatabaseVersion();
    void showText();

    ConsoleContext &m_context;
    QLabel *m_text;
    QString m_databaseVersion = QStringLiteral("reading…");
};

} // namespace Ferry
