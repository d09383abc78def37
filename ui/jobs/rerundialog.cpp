#include "ui/jobs/rerundialog.h"

#include "store/datasetstore.h"
#include "store/records.h"
#include "ui/runonpool.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QFontDatabase>
#include <QFormLayout>
#include <QJsonDocument>
#include <QJsonParseError>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QTextBrowser>
#include <QVBoxLayout>

namespace Ferry {

namespace {

Error fieldError(const QString &message)
{
    return makeError(ErrorCode::InvalidArgument, message);
}

QString rowsText(qint64 n)
{
    return QString::number(n) + (n == 1 ? QStringLiteral(" row") : QStringLiteral(" rows"));
}

// The dry run's answer as the preview pane shows it: the problem first, then each row read.
QString previewHtml(const Result<DryRunResult> &result)
{
    if (!result)
        return QStringLiteral("<p><b>Cannot dry-run:</b> %1</p>")
            .arg(result.error().toString().toHtmlEscaped());
    const MigrationPreview &preview = result->preview;
    QString html;
    if (!result->problem.isEmpty())
        html += QStringLiteral("<p><b>Problem:</b> %1</p>").arg(result->problem.toHtmlEscaped());
    html += QStringLiteral("<p>%1 checked: %2 valid, %3 rejected%4. Key: %5.</p>")
                .arg(rowsText(preview.rows.size()))
                .arg(preview.rowsValid)
                .arg(preview.rowsRejected)
                .arg(preview.moreRows ? QStringLiteral("; the file has more") : QString(),
                     result->key.isEmpty() ? QStringLiteral("none (records are added)")
                                           : result->key.toHtmlEscaped());
    if (preview.rows.isEmpty())
        return html;
    html += QStringLiteral(
        "<table border=1 cellpadding=3><tr><th>line</th><th>record or errors</th></tr>");
    for (const PreviewRow &row : preview.rows) {
        QString cell;
        if (row.errors.isEmpty()) {
            cell = QStringLiteral("<code>%1</code>")
                       .arg(QString::fromStdString(row.record).toHtmlEscaped());
        } else {
            for (const RowError &e : row.errors) {
                cell += QStringLiteral("<span style='color:#b00020'>%1%2</span><br>")
                            .arg(e.field.isEmpty() ? QString()
                                                   : e.field.toHtmlEscaped() + QStringLiteral(": "),
                                 e.reason.toHtmlEscaped());
            }
        }
        html += QStringLiteral("<tr><td>%1</td><td>%2</td></tr>").arg(row.line).arg(cell);
    }
    return html + QStringLiteral("</table>");
}

} // namespace

RerunDialog::RerunDialog(UploadReruns &reruns,
                         QThreadPool *pool,
                         StoredUpload upload,
                         QWidget *parent)
    : QDialog(parent), m_reruns(reruns), m_pool(pool), m_upload(std::move(upload))
{
    setObjectName(QStringLiteral("rerunDialog"));
    setWindowTitle(QStringLiteral("Run upload %1 again").arg(m_upload.session.id));

    auto *layout = new QVBoxLayout(this);
    auto *intro = new QLabel(
        QStringLiteral("Imports the stored file <b>%1</b> (%2 bytes) again with these options. "
                       "It is not uploaded or counted against the user's quota again.")
            .arg((m_upload.session.fileName.isEmpty() ? m_upload.session.id
                                                      : m_upload.session.fileName)
                     .toHtmlEscaped())
            .arg(m_upload.session.sizeBytes),
        this);
    intro->setWordWrap(true);
    layout->addWidget(intro);

    layout->addLayout(buildOptions());

    m_preview = new QTextBrowser(this);
    m_preview->setObjectName(QStringLiteral("rerunPreview"));
    m_preview->setPlaceholderText(
        QStringLiteral("Dry run: see what the first %1 rows become, with every error of each row, "
                       "before anything is written.")
            .arg(PreviewRows));
    layout->addWidget(m_preview, 1);
    m_status = new QLabel(this);
    m_status->setObjectName(QStringLiteral("rerunStatus"));
    m_status->setWordWrap(true);
    layout->addWidget(m_status);
    layout->addWidget(buildButtons());
    resize(640, 720);
}

// The migration's options, filled in from the upload's last job.
QFormLayout *RerunDialog::buildOptions()
{
    const QJsonObject last = m_upload.lastPayload;
    auto *form = new QFormLayout;
    m_dataset = new QLineEdit(last.value(u"dataset").toString(), this);
    m_dataset->setObjectName(QStringLiteral("rerunDataset"));
    form->addRow(QStringLiteral("Dataset"), m_dataset);
    m_format = new QComboBox(this);
    m_format->setObjectName(QStringLiteral("rerunFormat"));
    m_format->addItem(QStringLiteral("Detect from the file"), QString());
    for (const char *name : {"csv", "tsv", "ndjson", "json"})
        m_format->addItem(QLatin1String(name), QLatin1String(name));
    m_format->setCurrentIndex(qMax(0, m_format->findData(last.value(u"format").toString())));
    form->addRow(QStringLiteral("Format"), m_format);
    QString delimiter = last.value(u"delimiter").toString();
    if (delimiter == u"\t")
        delimiter = QStringLiteral("\\t");
    m_delimiter = new QLineEdit(delimiter, this);
    m_delimiter->setObjectName(QStringLiteral("rerunDelimiter"));
    m_delimiter->setPlaceholderText(QStringLiteral("the format's own (, or tab); \\t for a tab"));
    form->addRow(QStringLiteral("Delimiter"), m_delimiter);
    m_header = new QCheckBox(QStringLiteral("The first row names the columns"), this);
    m_header->setObjectName(QStringLiteral("rerunHeader"));
    m_header->setChecked(last.value(u"header").toBool(true));
    form->addRow(QStringLiteral("Header"), m_header);
    m_key = new QLineEdit(last.value(u"key").toString(), this);
    m_key->setObjectName(QStringLiteral("rerunKey"));
    m_key->setPlaceholderText(QStringLiteral("none: the mapping's or the dataset's key"));
    form->addRow(QStringLiteral("Key"), m_key);
    m_mapping = new QPlainTextEdit(this);
    m_mapping->setObjectName(QStringLiteral("rerunMapping"));
    m_mapping->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    m_mapping->setPlaceholderText(
        QStringLiteral("none: every column as text. JSON, for example {\"fields\": [{\"name\": "
                       "\"id\", \"type\": \"integer\"}], \"key\": \"id\"}"));
    if (last.value(u"mapping").isObject()) {
        m_mapping->setPlainText(QString::fromUtf8(
            QJsonDocument(last.value(u"mapping").toObject()).toJson(QJsonDocument::Indented)));
    }
    m_mapping->setMinimumHeight(120);
    form->addRow(QStringLiteral("Mapping"), m_mapping);
    m_priority = new QSpinBox(this);
    m_priority->setObjectName(QStringLiteral("rerunPriority"));
    m_priority->setRange(MinPriority, MaxPriority);
    m_priority->setValue(m_upload.lastJob ? m_upload.lastJob->priority : 0);
    form->addRow(QStringLiteral("Priority"), m_priority);
    return form;
}

// "Dry run", "Run again" and "Close".
QDialogButtonBox *RerunDialog::buildButtons()
{
    auto *buttons = new QDialogButtonBox(QDialogButtonBox::Close, this);
    m_dryRunButton = buttons->addButton(QStringLiteral("Dry run"), QDialogButtonBox::ActionRole);
    m_dryRunButton->setObjectName(QStringLiteral("dryRunButton"));
    m_runButton = buttons->addButton(QStringLiteral("Run again"), QDialogButtonBox::AcceptRole);
    m_runButton->setObjectName(QStringLiteral("runAgainButton"));
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    connect(m_dryRunButton, &QPushButton::clicked, this, &RerunDialog::dryRun);
    // Not accepted on click: the dialog closes once the job is queued.
    disconnect(buttons, &QDialogButtonBox::accepted, this, nullptr);
    connect(m_runButton, &QPushButton::clicked, this, &RerunDialog::runAgain);
    return buttons;
}

RerunDialog::~RerunDialog()
{
    m_closed->store(true);
}

Result<QJsonObject> RerunDialog::payload() const
{
    QJsonObject payload = m_upload.lastPayload;
    payload.remove(u"blob"); // the upload's own, set by the re-run
    const QString dataset = m_dataset->text().trimmed();
    if (auto valid = validateDatasetName(dataset); !valid)
        return fieldError(QStringLiteral("Dataset: ") + valid.error().toString());
    payload.insert(QStringLiteral("dataset"), dataset);
    if (const QString format = m_format->currentData().toString(); format.isEmpty())
        payload.remove(u"format");
    else
        payload.insert(QStringLiteral("format"), format);
    QString delimiter = m_delimiter->text();
    if (delimiter == u"\\t" || delimiter.compare(u"tab", Qt::CaseInsensitive) == 0)
        delimiter = QStringLiteral("\t");
    if (delimiter.isEmpty()) {
        payload.remove(u"delimiter");
    } else if (delimiter.size() != 1 || delimiter.at(0).unicode() > 127) {
        return fieldError(
            QStringLiteral("Delimiter: one ASCII character, \\t for a tab, or empty for the "
                           "format's own."));
    } else {
        payload.insert(QStringLiteral("delimiter"), delimiter);
    }
    // Checked is the default: an options object that never named it is left without it.
    if (!m_header->isChecked() || payload.contains(u"header"))
        payload.insert(QStringLiteral("header"), m_header->isChecked());
    if (const QString key = m_key->text().trimmed(); key.isEmpty())
        payload.remove(u"key");
    else
        payload.insert(QStringLiteral("key"), key);
    const QByteArray mapping = m_mapping->toPlainText().trimmed().toUtf8();
    if (mapping.isEmpty()) {
        payload.remove(u"mapping");
    } else {
        QJsonParseError error;
        const QJsonDocument document = QJsonDocument::fromJson(mapping, &error);
        if (error.error != QJsonParseError::NoError || !document.isObject()) {
            return fieldError(QStringLiteral("Mapping: not a JSON object (%1 at character %2).")
                                  .arg(error.error != QJsonParseError::NoError
                                           ? error.errorString()
                                           : QStringLiteral("not an object"))
                                  .arg(error.offset + 1));
        }
        payload.insert(QStringLiteral("mapping"), document.object());
    }
    return payload;
}

void RerunDialog::setBusy(bool busy)
{
    m_dryRunButton->setEnabled(!busy);
    m_runButton->setEnabled(!busy);
}

QCoro::Task<> RerunDialog::dryRun()
{
    auto options = payload();
    if (!options) {
        m_status->setText(options.error().toString());
        co_return;
    }
    setBusy(true);
    m_status->setText(QStringLiteral("Reading the first %1…").arg(rowsText(PreviewRows)));
    UploadReruns *reruns = &m_reruns;
    auto reading =
        runOnPool(this, m_pool, [reruns, upload = m_upload, payload = *options, closed = m_closed] {
            return reruns->dryRun(upload, payload, PreviewRows,
                                  [closed] { return closed->load(); });
        });
    const auto ran = co_await reading;
    if (!ran)
        co_return; // the dialog is gone
    const Result<DryRunResult> &result = *ran;
    setBusy(false);
    m_preview->setHtml(previewHtml(result));
    m_status->setText(!result ? QStringLiteral("The dry run failed.")
                      : result->problem.isEmpty() && result->preview.rowsRejected == 0
                          ? QStringLiteral("These options import the rows read.")
                          : QStringLiteral("Fix the options and dry-run again."));
    Q_EMIT dryRunShown();
}

QCoro::Task<> RerunDialog::runAgain()
{
    auto options = payload();
    if (!options) {
        m_status->setText(options.error().toString());
        Q_EMIT rerunFailed(m_status->text());
        co_return;
    }
    setBusy(true);
    m_status->setText(QStringLiteral("Queueing…"));
    UploadReruns *reruns = &m_reruns;
    auto queueing =
        runOnPool(this, m_pool,
                  [reruns, upload = m_upload, payload = *options, priority = m_priority->value()] {
                      return reruns->rerun(upload, payload, priority);
                  });
    const auto result = co_await queueing;
    if (!result)
        co_return; // the dialog is gone
    setBusy(false);
    if (!*result) {
        m_status->setText(result->error().toString());
        Q_EMIT rerunFailed(m_status->text());
        co_return;
    }
    const RerunResult &rerun = **result;
    if (rerun.inProgress) {
        m_status->setText(QStringLiteral("Job %1 imports this upload now: wait for it to end (or "
                                         "cancel it) before running it again.")
                              .arg(rerun.jobId));
        Q_EMIT rerunQueued(rerun.jobId, true);
        co_return;
    }
    Q_EMIT rerunQueued(rerun.jobId, false);
    accept();
}

} // namespace Ferry
