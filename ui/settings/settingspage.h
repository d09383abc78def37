#pragma once

#include "config/settingsservice.h"
#include "ui/consolecontext.h"

#include <QCoroTask>
#include <QHash>
#include <QWidget>

class QLabel;
class QLineEdit;
class QPushButton;

namespace Ferry {

// Engine settings, validated, persisted and applied live where possible (SettingsService). Each
// field says where its value comes from (the configuration or the console) and whether a change
// applies at once or after a restart. Saving runs on the reader pool; nothing is written unless
// every field is valid.
class SettingsPage final : public QWidget
{
    Q_OBJECT
public:
    explicit SettingsPage(ConsoleContext &context, QWidget *parent = nullptr);

    // Coroutines: the store write runs on the context's reader pool.
    QCoro::Task<> save();
    QCoro::Task<> revertToConfigured();
    // Re-reads the values in force into the form.
    void reload();
    // A section of the console's own (not the engine's), shown below the engine settings.
    void addSection(QWidget *section);

Q_SIGNALS:
    void saved();
    void messageShown(const QString &message, bool error);

private:
    struct Field
    {
        QLineEdit *edit = nullptr;
        QLabel *note = nullptr;
    };

    void showMessage(const QString &message, bool error);
    void markInvalid(const QString &key);
    void setBusy(bool busy);

    ConsoleContext &m_context;
    QHash<QString, Field> m_fields;
    QLabel *m_message = nullptr;
    QPushButton *m_save = nullptr;
    QPushButton *m_revert = nullptr;
};

} // namespace Ferry
