#include "ui/settings/settingspage.h"

#include "ui/runonpool.h"

#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QVBoxLayout>

namespace Ferry {

namespace {

QString describe(const Error &error)
{
    return error.hint.isEmpty() ? error.message : error.message + u' ' + error.hint;
}

QString labelsOf(const QStringList &keys)
{
    QStringList labels;
    for (const QString &key : keys)
        labels.append(SettingsService::labelOf(key).toLower());
    return labels.join(QStringLiteral(", "));
}

QString placeholderOf(const QString &key)
{
    if (key == u"listen_address")
        return QStringLiteral("127.0.0.1:8080");
    if (key == u"trusted_proxies")
        return QStringLiteral("10.0.0.0/8, ::1 or none");
    if (key.startsWith(u"memory_"))
        return QStringLiteral("512M, 2G");
    return QString();
}

} // namespace

SettingsPage::SettingsPage(ConsoleContext &context, QWidget *parent)
    : QWidget(parent), m_context(context)
{
    setObjectName(QStringLiteral("settingspage"));
    auto *layout = new QVBoxLayout(this);
    auto *intro = new QLabel(
        QStringLiteral("Engine settings. Saved values override ferry.conf, the environment and "
                       "the command line, survive restarts, and apply at once where the engine "
                       "can change them live."),
        this);
    intro->setWordWrap(true);
    layout->addWidget(intro);
    if (!m_context.settings) {
        auto *none = new QLabel(QStringLiteral("Settings cannot be changed here: this console "
                                               "runs without the engine's settings service. "
                                               "Edit ferry.conf or pass options on the command "
                                               "line, then restart Ferry."),
                                this);
        none->setObjectName(QStringLiteral("settingsUnavailable"));
        none->setWordWrap(true);
        layout->addWidget(none);
        layout->addStretch(1);
        return;
    }
    auto *form = new QFormLayout;
    for (const QString &key : SettingsService::keys()) {
        Field field;
        field.edit = new QLineEdit(this);
        field.edit->setObjectName(QStringLiteral("setting_") + key);
        field.edit->setPlaceholderText(placeholderOf(key));
        field.note = new QLabel(this);
        field.note->setObjectName(QStringLiteral("note_") + key);
        field.note->setWordWrap(true);
        auto *column = new QVBoxLayout;
        column->setSpacing(2);
        column->addWidget(field.edit);
        column->addWidget(field.note);
        form->addRow(SettingsService::labelOf(key), column);
        connect(field.edit, &QLineEdit::textEdited, field.edit,
                [edit = field.edit] { edit->setStyleSheet(QString()); });
        m_fields.insert(key, field);
    }
    layout->addLayout(form);
    m_save = new QPushButton(QStringLiteral("Save"), this);
    m_save->setObjectName(QStringLiteral("saveSettings"));
    m_revert = new QPushButton(QStringLiteral("Use configured values"), this);
    m_revert->setObjectName(QStringLiteral("revertSettings"));
    m_revert->setToolTip(QStringLiteral("Drop every value saved here: ferry.conf, the environment "
                                        "and the command line apply again."));
    auto *buttons = new QHBoxLayout;
    buttons->addWidget(m_save);
    buttons->addWidget(m_revert);
    buttons->addStretch(1);
    layout->addLayout(buttons);
    m_message = new QLabel(this);
    m_message->setObjectName(QStringLiteral("settingsMessage"));
    m_message->setWordWrap(true);
    layout->addWidget(m_message);
    layout->addStretch(1);
    connect(m_save, &QPushButton::clicked, this, &SettingsPage::save);
    connect(m_revert, &QPushButton::clicked, this, &SettingsPage::revertToConfigured);
    reload();
}

void SettingsPage::addSection(QWidget *section)
{
    auto *box = static_cast<QVBoxLayout *>(layout());
    box->insertWidget(box->count() - 1, section); // above the closing stretch
}

void SettingsPage::reload()
{
    if (!m_context.settings)
        return;
    // In memory (the service read the store at start): no I/O here.
    const QList<SettingsService::Setting> settings = m_context.settings->settings();
    for (const SettingsService::Setting &setting : settings) {
        const Field field = m_fields.value(setting.key);
        if (!field.edit)
            continue;
        field.edit->setText(setting.value);
        field.edit->setStyleSheet(QString());
        const QString source =
            setting.source == SettingsService::Source::Console
                ? QStringLiteral("Saved in the console (configured: %1)").arg(setting.configured)
                : QStringLiteral("From the configuration (ferry.conf, environment or command "
                                 "line)");
        const QString applies = setting.live ? QStringLiteral("applies at once")
                                             : QStringLiteral("applies after a restart");
        field.note->setText(source + QStringLiteral(" · ") + applies);
    }
}

QCoro::Task<> SettingsPage::save()
{
    if (!m_context.settings)
        co_return;
    // Check every field first, here (pure parsing, no I/O), so the operator sees which is wrong.
    QHash<QString, QString> values;
    FerryConfig candidate = m_context.settings->effective();
    for (auto it = m_fields.cbegin(); it != m_fields.cend(); ++it)
        it->edit->setStyleSheet(QString());
    for (const QString &key : SettingsService::keys()) {
        const QString text = m_fields.value(key).edit->text();
        if (auto set = SettingsService::setText(candidate, key, text); !set) {
            markInvalid(key);
            showMessage(QStringLiteral("Not saved. ") + describe(set.error()), true);
            co_return;
        }
        values.insert(key, text);
    }
    if (auto valid = SettingsService::validate(candidate); !valid) {
        showMessage(QStringLiteral("Not saved. ") + describe(valid.error()), true);
        co_return;
    }
    setBusy(true);
    SettingsService *service = m_context.settings;
    auto saving =
        runOnPool(this, m_context.readers, [service, values] { return service->save(values); });
    const auto result = co_await saving;
    if (!result)
        co_return; // the page is gone
    setBusy(false);
    reload();
    if (!*result) {
        showMessage(describe(result->error()), true);
        co_return;
    }
    const SettingsService::SaveOutcome &outcome = **result;
    QStringList parts;
    if (outcome.changed.isEmpty())
        parts.append(QStringLiteral("Nothing changed."));
    if (!outcome.appliedLive.isEmpty())
        parts.append(QStringLiteral("Saved and applied: %1.").arg(labelsOf(outcome.appliedLive)));
    if (!outcome.afterRestart.isEmpty())
        parts.append(QStringLiteral("Saved; applies after Ferry restarts: %1.")
                         .arg(labelsOf(outcome.afterRestart)));
    showMessage(parts.join(u' '), false);
    Q_EMIT saved();
}

QCoro::Task<> SettingsPage::revertToConfigured()
{
    if (!m_context.settings)
        co_return;
    setBusy(true);
    SettingsService *service = m_context.settings;
    auto reverting = runOnPool(this, m_context.readers,
                               [service] { return service->revert(SettingsService::keys()); });
    const auto result = co_await reverting;
    if (!result)
        co_return; // the page is gone
    setBusy(false);
    reload();
    if (!*result) {
        showMessage(describe(result->error()), true);
        co_return;
    }
    const QStringList afterRestart = (*result)->afterRestart;
    showMessage(afterRestart.isEmpty()
                    ? QStringLiteral("The configured values apply again.")
                    : QStringLiteral("The configured values apply again (%1: after a restart).")
                          .arg(labelsOf(afterRestart)),
                false);
    Q_EMIT saved();
}

void SettingsPage::showMessage(const QString &message, bool error)
{
    m_message->setText(message);
    m_message->setStyleSheet(error ? QStringLiteral("color: #b00020;") : QString());
    Q_EMIT messageShown(message, error);
}

void SettingsPage::markInvalid(const QString &key)
{
    if (QLineEdit *edit = m_fields.value(key).edit) {
        edit->setStyleSheet(QStringLiteral("border: 1px solid #b00020;"));
        edit->setFocus();
    }
}

void SettingsPage::setBusy(bool busy)
{
    m_save->setEnabled(!busy);
    m_revert->setEnabled(!busy);
}

} // namespace Ferry
