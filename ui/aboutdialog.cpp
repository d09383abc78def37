#include "ui/aboutdialog.h"

#include "config/ferryconfig.h"
#include "store/store.h"
#include "ui/consoleicons.h"
#include "ui/runonpool.h"

#include <QCoreApplication>
#include <QDialogButtonBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QVBoxLayout>

namespace Ferry {

AboutDialog::AboutDialog(ConsoleContext &context, QWidget *parent)
    : QDialog(parent), m_context(context), m_text(new QLabel(this))
{
    setObjectName(QStringLiteral("aboutDialog"));
    setWindowTitle(QStringLiteral("About Ferry"));
    auto *layout = new QVBoxLayout(this);
    auto *body = new QHBoxLayout;
    auto *icon = new QLabel(this);
    icon->setPixmap(applicationIcon().pixmap(64, 64));
    body->addWidget(icon, 0, Qt::AlignTop);
    m_text->setObjectName(QStringLiteral("aboutText"));
    m_text->setTextFormat(Qt::RichText);
    m_text->setTextInteractionFlags(Qt::TextSelectableByMouse);
    body->addWidget(m_text, 1);
    layout->addLayout(body);
    auto *buttons = new QDialogButtonBox(QDialogButtonBox::Close, this);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    layout->addWidget(buttons);
    showText();
    readDatabaseVersion();
}

QCoro::Task<> AboutDialog::readDatabaseVersion()
{
    Store *store = &m_context.store;
    auto reading = runOnPool(this, m_context.readers, [store] { return store->serverVersion(); });
    const auto version = co_await reading;
    if (!version)
        co_return; // the dialog is gone
    m_databaseVersion = version->isEmpty() ? QStringLiteral("unknown (not readable)") : *version;
    showText();
}

void AboutDialog::showText()
{
    const QString database =
        m_context.config ? m_context.config->database.describe() : QStringLiteral("–");
    const QString dataDir = m_context.config ? m_context.config->dataDir : QStringLiteral("–");
    m_text->setText(
        QStringLiteral("<h3>Ferry %1</h3>"
                       "<p>An operator console with an embedded multi-user job engine.</p>"
                       "<table>"
                       "<tr><td>Qt</td><td>%2 (built with %3)</td></tr>"
                       "<tr><td>Database</td><td>%4</td></tr>"
                       "<tr><td>Store</td><td>%5</td></tr>"
                       "<tr><td>Data directory</td><td>%6</td></tr>"
                       "</table>"
                       "<p>Icons: Tango (public domain) where the desktop theme has none.</p>")
            .arg(QCoreApplication::applicationVersion().toHtmlEscaped(),
                 QString::fromLatin1(qVersion()), QStringLiteral(QT_VERSION_STR),
                 m_databaseVersion.toHtmlEscaped(), database.toHtmlEscaped(),
                 dataDir.toHtmlEscaped()));
}

QString AboutDialog::text() const
{
    return m_text->text();
}

} // namespace Ferry
