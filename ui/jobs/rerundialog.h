#pragma once

#include "migrate/uploadreruns.h"

#include <QCoroTask>
#include <QDialog>

#include <atomic>
#include <memory>

class QCheckBox;
class QComboBox;
class QDialogButtonBox;
class QFormLayout;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QPushButton;
class QSpinBox;
class QTextBrowser;
class QThreadPool;

namespace Ferry {

// "Run again" from the Jobs page's detail pane: a stored upload's last migration options
// (dataset, format, delimiter, header, key, mapping, priority), editable; "Dry run" shows what
// an import with them would make of the first rows (every error of each row) without writing
// anything; "Run again" queues a new migrate job on the same stored file, not charged to the
// user's quota again. The work runs on `pool`, never on the GUI thread.
class RerunDialog final : public QDialog
{
    Q_OBJECT
public:
    static constexpr int PreviewRows = 20;

    RerunDialog(UploadReruns &reruns,
                QThreadPool *pool,
                StoredUpload upload,
                QWidget *parent = nullptr);
    ~RerunDialog() override;

    // The payload the fields describe (the last migration's, with the fields' values), or an
    // error naming the field to fix.
    Result<QJsonObject> payload() const;

Q_SIGNALS:
    // A dry run's answer is on show (or its error).
    void dryRunShown();
    // A re-run was queued (jobId), or a job still imports the upload (inProgress).
    void rerunQueued(qint64 jobId, bool inProgress);
    // The re-run was refused: the message shown.
    void rerunFailed(const QString &message);

private:
    QFormLayout *buildOptions();
    QDialogButtonBox *buildButtons();
    // Coroutines: the dry run and the re-run read and write on m_pool.
    QCoro::Task<> dryRun();
    QCoro::Task<> runAgain();
    void setBusy(bool busy);

    UploadReruns &m_reruns;
    QThreadPool *m_pool;
    StoredUpload m_upload;
    // Set when the dialog goes: a dry run still reading stops at its next read.
    std::shared_ptr<std::atomic<bool>> m_closed = std::make_shared<std::atomic<bool>>(false);

    QLineEdit *m_dataset;
    QComboBox *m_format;
    QLineEdit *m_delimiter;
    QCheckBox *m_header;
    QLineEdit *m_key;
    QPlainTextEdit *m_mapping;
    QSpinBox *m_priority;
    QTextBrowser *m_preview;
    QLabel *m_status;
    QPushButton *m_dryRunButton;
    QPushButton *m_runButton;
};

} // namespace Ferry
