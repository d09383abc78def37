// Issue 15, "the console offers the same from the job's detail pane": the Jobs page's "Run
// again…" opens the re-run dialog for the shown migration's stored upload; its dry run shows
// every error of each row without writing; "Run again" with a fixed mapping queues a new job on
// the same stored file, which imports it. Driven through the widgets (offscreen) over a real
// engine: store, blob store, queue, dispatcher and migrate handler.
#include "migrate/migratehandler.h"
#include "migrate/uploadreruns.h"
#include "queue/builtinhandlers.h"
#include "queue/dispatcher.h"
#include "quota/quotaledger.h"
#include "storage/fileblobstore.h"
#include "testsupport.h"
#include "ui/jobs/jobspage.h"
#include "ui/jobs/jobtablemodel.h"
#include "ui/jobs/rerundialog.h"
#include "uploadtestsupport.h"

#include <QComboBox>
#include <QItemSelectionModel>
#include <QJsonDocument>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTableView>
#include <QTest>
#include <QTextBrowser>
#include <QThreadPool>

using namespace Ferry;
using namespace Ferry::Test;

namespace {

const QByteArray s_people = "id,name,score\n"
                            "1,Ada,90\n"
                            "2,Grace,high\n"
                            "3,Alan,75\n";

// Types score as an integer read from `source`.
QString mappingText(const QString &source)
{
    return QStringLiteral(R"({"fields": [{"name": "id", "type": "integer"}, {"name": "name"},
 {"name": "score", "source": "%1", "type": "integer"}], "key": "id"})")
        .arg(source);
}

} // namespace

class tst_RerunDialog : public QObject
{
    Q_OBJECT

private:
    struct Console : MigrationEngine
    {
        ~Console() { page.reset(); }
        // Stores the file and queues its migration as an upload does; the job's id.
        qint64 upload(const QJsonObject &options)
        {
            const QueuedUpload queued = queueCsvUpload(*queue, blobs, alice, s_people, options);
            sessionId = queued.sessionId;
            return queued.jobId;
        }
        JobStatus status(qint64 id) { return (*t.store->job(id, std::nullopt))->status; }
        bool ended(qint64 id)
        {
            const JobStatus s = status(id);
            return s == JobStatus::Completed || s == JobStatus::Failed || s == JobStatus::Dead;
        }
        void show()
        {
            context = std::make_unique<ConsoleContext>(
                ConsoleContext{*t.store, *queue, dispatcher.get(), *users, *quotas, nullptr,
                               nullptr, QString(), &readers});
            context->reruns = reruns.get();
            page = std::make_unique<JobsPage>(*context);
            page->resize(1200, 700);
            page->show();
            QVERIFY(QTest::qWaitForWindowExposed(page.get()));
            QVERIFY(waitFor([this] { return page->model()->rowCount() > 0; }));
        }
        template<typename T>
        T *find(const char *name)
        {
            return page->findChild<T *>(QLatin1String(name));
        }
        // Shows the job in the detail pane.
        void showJob(qint64 id)
        {
            auto *view = find<QTableView>("jobsView");
            // A job queued since the table was read appears once the page re-reads it.
            QVERIFY(waitFor([&] {
                for (int row = 0; row < page->model()->rowCount(); ++row) {
                    if (page->model()->jobId(row) == id)
                        return true;
                }
                return false;
            }));
            QSignalSpy shown(page.get(), &JobsPage::detailShown);
            for (int row = 0; row < page->model()->rowCount(); ++row) {
                if (page->model()->jobId(row) == id)
                    view->selectionModel()->setCurrentIndex(page->model()->index(row, 0),
                                                            QItemSelectionModel::SelectCurrent |
                                                                QItemSelectionModel::Rows);
            }
            QVERIFY(waitFor(
                [&] { return !shown.isEmpty() && shown.last().first().toLongLong() == id; }));
        }

        std::unique_ptr<ConsoleContext> context;
        std::unique_ptr<JobsPage> page;
        QString sessionId;
    };

private Q_SLOTS:
    void failedMigrationRunsAgainFromTheDetailPane()
    {
        Console c;
        // The mapping names a column the file lacks: the job fails for good.
        QJsonObject badMapping =
            QJsonDocument::fromJson(mappingText(QStringLiteral("points")).toUtf8()).object();
        const qint64 first = c.upload({{QStringLiteral("dataset"), QStringLiteral("people")},
                                       {QStringLiteral("mapping"), badMapping}});
        QVERIFY(c.dispatcher->start());
        QVERIFY(waitFor([&] { return c.ended(first); }));
        QCOMPARE(c.status(first), JobStatus::Failed);

        c.show();
        auto *rerun = c.find<QPushButton>("rerunButton");
        QVERIFY(rerun && rerun->isVisible());
        c.showJob(first);
        QVERIFY(rerun->isEnabled());
        QSignalSpy opened(c.page.get(), &JobsPage::rerunDialogOpened);
        QTest::mouseClick(rerun, Qt::LeftButton);
        QVERIFY(opened.wait(15'000));
        auto *dialog = qobject_cast<RerunDialog *>(opened.first().first().value<QDialog *>());
        QVERIFY(dialog);
        QVERIFY(dialog->isVisible());

        // The fields start from the failed migration's options.
        auto *dataset = dialog->findChild<QLineEdit *>(QStringLiteral("rerunDataset"));
        auto *mapping = dialog->findChild<QPlainTextEdit *>(QStringLiteral("rerunMapping"));
        auto *preview = dialog->findChild<QTextBrowser *>(QStringLiteral("rerunPreview"));
        QCOMPARE(dataset->text(), QStringLiteral("people"));
        QVERIFY(mapping->toPlainText().contains(u"points"));

        // A dry run names the missing column and writes nothing.
        QSignalSpy dryRunShown(dialog, &RerunDialog::dryRunShown);
        QTest::mouseClick(dialog->findChild<QPushButton *>(QStringLiteral("dryRunButton")),
                          Qt::LeftButton);
        QVERIFY(dryRunShown.wait(15'000));
        QVERIFY2(preview->toPlainText().contains(u"points"), qPrintable(preview->toPlainText()));

        // Fixed: Grace's row is shown with its error, the others as records.
        mapping->setPlainText(mappingText(QStringLiteral("score")));
        QTest::mouseClick(dialog->findChild<QPushButton *>(QStringLiteral("dryRunButton")),
                          Qt::LeftButton);
        QVERIFY(dryRunShown.wait(15'000));
        const QString shown = preview->toPlainText();
        QVERIFY2(shown.contains(u"'high' is not an integer"), qPrintable(shown));
        QVERIFY2(shown.contains(u"\"name\":\"Ada\""), qPrintable(shown));
        QVERIFY2(shown.contains(u"2 valid, 1 rejected"), qPrintable(shown));
        auto people = c.t.store->datasets().dataset(c.alice, QStringLiteral("people"));
        QVERIFY(!people->has_value() || (*people)->records == 0);

        // A mapping that is not JSON is refused in the dialog, before anything runs.
        mapping->setPlainText(QStringLiteral("{\"fields\": ["));
        QSignalSpy failed(dialog, &RerunDialog::rerunFailed);
        QTest::mouseClick(dialog->findChild<QPushButton *>(QStringLiteral("runAgainButton")),
                          Qt::LeftButton);
        QCOMPARE(failed.size(), 1);
        QVERIFY(failed.first().first().toString().contains(u"Mapping: not a JSON object"));

        // Run again: a new job on the same session imports the stored file.
        mapping->setPlainText(mappingText(QStringLiteral("score")));
        QSignalSpy queued(dialog, &RerunDialog::rerunQueued);
        QSignalSpy finished(c.page.get(), &JobsPage::actionFinished);
        QTest::mouseClick(dialog->findChild<QPushButton *>(QStringLiteral("runAgainButton")),
                          Qt::LeftButton);
        QVERIFY(queued.wait(15'000));
        QCOMPARE(queued.first().at(1).toBool(), false);
        const qint64 second = queued.first().first().toLongLong();
        QVERIFY(second != first);
        QVERIFY(finished.size() == 1 || finished.wait(15'000));
        QVERIFY(finished.first().first().toString().contains(QString::number(second)));
        QVERIFY(waitFor([&] { return c.ended(second); }));
        auto job = c.t.store->job(second, std::nullopt);
        QCOMPARE((*job)->status, JobStatus::Completed);
        QCOMPARE((*job)->sessionId, c.sessionId);
        QCOMPARE((*job)->result.value(u"rowsImported").toInteger(), 2);
        people = c.t.store->datasets().dataset(c.alice, QStringLiteral("people"));
        QCOMPARE((*people)->records, 2);
        QCOMPARE((*people)->key, QStringLiteral("id"));

        // The detail pane shows the re-run's result as labelled figures, not raw JSON (issue 16).
        c.showJob(second);
        QTRY_VERIFY(c.find<QTextBrowser>("jobDetail")->toPlainText().contains(u"completed"));
        const QString detail = c.find<QTextBrowser>("jobDetail")->toPlainText();
        QVERIFY2(detail.contains(u"Rows read\t3") || detail.contains(u"Rows read\n3"),
                 qPrintable(detail));
        QVERIFY2(detail.contains(u"Rows imported\t2") || detail.contains(u"Rows imported\n2"),
                 qPrintable(detail));
        QVERIFY2(detail.contains(u"Rows rejected\t1") || detail.contains(u"Rows rejected\n1"),
                 qPrintable(detail));
        QVERIFY2(detail.contains(u"Dataset"), qPrintable(detail));
        QVERIFY2(!detail.contains(u"\"rowsImported\""), qPrintable(detail));
    }

    // A job that is not a migration has nothing to run again; a re-run while the upload's
    // migration is still pending says which job imports it and queues nothing.
    void offeredOnlyWhereItApplies()
    {
        Console c;
        NewJob noop;
        noop.userId = c.alice;
        noop.type = QStringLiteral("noop");
        const qint64 plain = c.queue->enqueue(noop)->id;
        const qint64 pending = c.upload({{QStringLiteral("dataset"), QStringLiteral("people")}});
        c.show();
        auto *rerun = c.find<QPushButton>("rerunButton");
        c.showJob(plain);
        QVERIFY(!rerun->isEnabled());
        c.showJob(pending);
        QVERIFY(rerun->isEnabled());
        QSignalSpy opened(c.page.get(), &JobsPage::rerunDialogOpened);
        QTest::mouseClick(rerun, Qt::LeftButton);
        QVERIFY(opened.wait(15'000));
        auto *dialog = qobject_cast<RerunDialog *>(opened.first().first().value<QDialog *>());
        QSignalSpy queued(dialog, &RerunDialog::rerunQueued);
        QTest::mouseClick(dialog->findChild<QPushButton *>(QStringLiteral("runAgainButton")),
                          Qt::LeftButton);
        QVERIFY(queued.wait(15'000));
        QCOMPARE(queued.first().at(0).toLongLong(), pending);
        QCOMPARE(queued.first().at(1).toBool(), true);
        QVERIFY(dialog->isVisible());
        QVERIFY(dialog->findChild<QLabel *>(QStringLiteral("rerunStatus"))
                    ->text()
                    .contains(QStringLiteral("Job %1 imports this upload").arg(pending)));
        JobFilter all;
        QCOMPARE(c.t.store->jobs(all)->size(), 2);
    }

    // Without the engine's re-runs (a console wired without them) the button is not shown.
    void hiddenWithoutReruns()
    {
        Console c;
        c.upload({{QStringLiteral("dataset"), QStringLiteral("people")}});
        c.reruns.reset();
        c.context = std::make_unique<ConsoleContext>(
            ConsoleContext{*c.t.store, *c.queue, c.dispatcher.get(), *c.users, *c.quotas, nullptr,
                           nullptr, QString(), &c.readers});
        c.page = std::make_unique<JobsPage>(*c.context);
        c.page->show();
        QVERIFY(QTest::qWaitForWindowExposed(c.page.get()));
        QVERIFY(!c.find<QPushButton>("rerunButton")->isVisible());
    }
};

QTEST_MAIN(tst_RerunDialog)
#include "tst_rerundialog.moc"
