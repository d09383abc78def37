#include "jobstestsupport.h"
#include "queue/builtinhandlers.h"
#include "queue/dispatcher.h"
#include "quota/quotaledger.h"
#include "testsupport.h"
#include "ui/jobs/jobspage.h"
#include "ui/jobs/jobtablemodel.h"

#include <QComboBox>
#include <QItemSelectionModel>
#include <QLabel>
#include <QLineEdit>
#include <QPointer>
#include <QPushButton>
#include <QSemaphore>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTableView>
#include <QTest>
#include <QTextBrowser>
#include <QThreadPool>

using namespace Ferry;
using namespace Ferry::Test;

// The Jobs page driven through its widgets (offscreen) over a real engine; each test asserts
// what the store holds afterwards.
class tst_JobsPage : public QObject
{
    Q_OBJECT

private:
    struct Console
    {
        Console()
        {
            registerBuiltinHandlers(handlers);
            QueueConfig config;
            config.pollIntervalMs = 20;
            queue = std::make_unique<JobQueue>(*t.store, handlers, clock, config);
            dispatcher =
                std::make_unique<Dispatcher>(*queue, handlers, clock, QStringLiteral("ui"));
            users = std::make_unique<UserDirectory>(*t.store, clock);
            quotas = std::make_unique<QuotaLedger>(*t.store, clock);
            readers.setMaxThreadCount(1);
            alice = t.addUser(QStringLiteral("alice"));
            bob = t.addUser(QStringLiteral("bob"));
        }
        ~Console()
        {
            page.reset();
            readers.waitForDone();
            dispatcher.reset();
        }
        // Jobs of the type, alternately alice's and bob's; their ids, oldest first.
        QList<qint64> enqueue(int count, const QString &type, const QJsonObject &payload = {})
        {
            QList<NewJob> jobs;
            for (int i = 0; i < count; ++i) {
                NewJob job;
                job.userId = i % 2 ? bob : alice;
                job.type = type;
                job.payload = payload;
                jobs.append(job);
            }
            QList<qint64> ids;
            auto enqueued = queue->enqueueBatch(jobs);
            if (enqueued) {
                for (const EnqueuedJob &job : *enqueued)
                    ids.append(job.id);
            }
            return ids;
        }
        void show()
        {
            context = std::make_unique<ConsoleContext>(
                ConsoleContext{*t.store, *queue, dispatcher.get(), *users, *quotas, nullptr,
                               nullptr, QString(), &readers});
            page = std::make_unique<JobsPage>(*context);
            page->setConfirm([this](QWidget *, const QString &question) {
                questions.append(question);
                return accept;
            });
            page->resize(1200, 700);
            page->show();
            QVERIFY(QTest::qWaitForWindowExposed(page.get()));
            QVERIFY(settled());
        }
        bool settled()
        {
            return waitFor([this] {
                return !page->model()->isFetching() && page->model()->totalCount() >= 0;
            });
        }
        template<typename T>
        T *find(const char *name)
        {
            return page->findChild<T *>(QLatin1String(name));
        }
        QTableView *view() { return find<QTableView>("jobsView"); }
        int rowOf(qint64 id)
        {
            for (int row = 0; row < page->model()->rowCount(); ++row) {
                if (page->model()->jobId(row) == id)
                    return row;
            }
            return -1;
        }
        void select(const QList<qint64> &ids)
        {
            view()->clearSelection();
            for (qint64 id : ids) {
                const int row = rowOf(id);
                QVERIFY2(row >= 0, qPrintable(QString::number(id)));
                view()->selectionModel()->select(page->model()->index(row, 0),
                                                 QItemSelectionModel::Select |
                                                     QItemSelectionModel::Rows);
            }
        }
        // Clicks the button and waits until the action finished; its summary.
        QString click(const char *button)
        {
            QSignalSpy finished(page.get(), &JobsPage::actionFinished);
            QTest::mouseClick(find<QPushButton>(button), Qt::LeftButton);
            if (!accept && finished.isEmpty() && !finished.wait(1000))
                return {};
            if (finished.isEmpty() && !finished.wait(30'000))
                return QStringLiteral("(no answer)");
            return finished.first().first().toString();
        }
        void setScope(JobsPage::Scope scope)
        {
            auto *combo = find<QComboBox>("actionScope");
            combo->setCurrentIndex(combo->findData(int(scope)));
        }
        JobStatus status(qint64 id) { return (*t.store->job(id, std::nullopt))->status; }
        int priority(qint64 id) { return (*t.store->job(id, std::nullopt))->priority; }

        TempStore t;
        SystemClock clock;
        HandlerRegistry handlers;
        std::unique_ptr<JobQueue> queue;
        std::unique_ptr<Dispatcher> dispatcher;
        std::unique_ptr<UserDirectory> users;
        std::unique_ptr<QuotaLedger> quotas;
        QThreadPool readers;
        std::unique_ptr<ConsoleContext> context;
        std::unique_ptr<JobsPage> page;
        qint64 alice = 0, bob = 0;
        QStringList questions;
        bool accept = true;
    };

private Q_SLOTS:
    // The page's reads are coroutines on the reader pool (ui/runonpool.h): a page closed while
    // they wait is never continued when they end. Its first reads (users, the first page, the
    // count) wait here behind a blocked reader thread while the page goes.
    void closedWhileItsReadsRun()
    {
        Console c;
        c.enqueue(20, QStringLiteral("noop"));
        QSemaphore gate;
        c.readers.start([&gate] { gate.acquire(); });
        c.context = std::make_unique<ConsoleContext>(
            ConsoleContext{*c.t.store, *c.queue, c.dispatcher.get(), *c.users, *c.quotas, nullptr,
                           nullptr, QString(), &c.readers});
        c.page = std::make_unique<JobsPage>(*c.context);
        QPointer<JobTableModel> model = c.page->model();
        c.page.reset();
        QVERIFY(!model);
        gate.release();
        QVERIFY(c.readers.waitForDone(15'000));
        QTest::qWait(200); // the finished reads reach the event loop, and return at once
    }

    // With no jobs the page says how to make some; a filter that matches nothing says so.
    void emptyStatesSayWhatToDo()
    {
        Console c;
        c.show();
        auto *empty = c.find<QLabel>("jobsEmptyState");
        QVERIFY(empty);
        QTRY_VERIFY(empty->isVisible());
        QVERIFY(empty->text().contains(u"ferry user add"));
        QVERIFY(empty->text().contains(u"/api/v1/uploads"));
        c.enqueue(2, QStringLiteral("noop"));
        QTRY_VERIFY_WITH_TIMEOUT(!empty->isVisible(), 15'000);
        c.find<QLineEdit>("searchField")->setText(QStringLiteral("no-such-file"));
        QTRY_VERIFY_WITH_TIMEOUT(
            empty->isVisible() && empty->text().contains(u"matches the filter"), 15'000);
    }

    void cancelSelectedJobs()
    {
        Console c;
        const QList<qint64> ids = c.enqueue(5, QStringLiteral("noop"));
        c.show();
        QCOMPARE(c.page->model()->rowCount(), 5);
        QCOMPARE(c.find<QLabel>("countLabel")->text(), QStringLiteral("5 jobs"));
        c.select({ids[1], ids[3]});
        const QString summary = c.click("cancelButton");
        QCOMPARE(c.questions, QStringList{QStringLiteral("Cancel 2 selected jobs?")});
        QVERIFY2(summary.contains(u"2 jobs changed"), qPrintable(summary));
        QCOMPARE(c.status(ids[1]), JobStatus::Cancelled);
        QCOMPARE(c.status(ids[3]), JobStatus::Cancelled);
        for (int i : {0, 2, 4})
            QCOMPARE(c.status(ids[i]), JobStatus::Pending);
        // The table shows it without a reload.
        QTRY_COMPARE(c.page->model()
                         ->data(c.page->model()->index(c.rowOf(ids[1]), JobTableModel::Status))
                         .toString(),
                     QStringLiteral("cancelled"));
    }

    void declinedConfirmationChangesNothing()
    {
        Console c;
        const QList<qint64> ids = c.enqueue(3, QStringLiteral("noop"));
        c.show();
        c.accept = false;
        c.select(ids);
        c.click("cancelButton");
        QCOMPARE(c.questions.size(), 1);
        for (qint64 id : ids)
            QCOMPARE(c.status(id), JobStatus::Pending);
    }

    void cancelRunningJobStopsIt()
    {
        Console c;
        const QList<qint64> ids =
            c.enqueue(1, QStringLiteral("sleep"), {{QStringLiteral("ms"), 60'000}});
        QVERIFY(c.dispatcher->start().ok());
        QTRY_COMPARE_WITH_TIMEOUT(c.status(ids[0]), JobStatus::Running, 10'000);
        c.show();
        c.select(ids);
        c.view()->setCurrentIndex(c.page->model()->index(0, 0));
        const QString shot = qEnvironmentVariable("FERRY_JOBS_SCREENSHOT");
        if (!shot.isEmpty()) {
            QTRY_VERIFY(c.page->model()->jobRow(0).progressTotal > 0);
            QTest::qWait(1200);
            QVERIFY(c.page->grab().save(shot));
        }
        const QString summary = c.click("cancelButton");
        QVERIFY2(summary.contains(u"1 job changed"), qPrintable(summary));
        QTRY_COMPARE_WITH_TIMEOUT(c.status(ids[0]), JobStatus::Cancelled, 10'000);
    }

    void retryFailedJobs()
    {
        Console c;
        const QList<qint64> ids = c.enqueue(4, QStringLiteral("noop"));
        const QString error = execSql(
            c.t.path(), {QStringLiteral("UPDATE jobs SET status = 'failed', attempts = 5, "
                                        "finished_at = 1, error = 'boom' WHERE id IN (%1, %2)")
                             .arg(ids[0])
                             .arg(ids[1])});
        QVERIFY2(error.isEmpty(), qPrintable(error));
        c.show();
        c.select({ids[0], ids[1], ids[2]}); // the pending one is left alone
        const QString summary = c.click("retryButton");
        QVERIFY2(summary.contains(u"2 jobs changed"), qPrintable(summary));
        QCOMPARE(c.questions, QStringList{QStringLiteral("Retry 3 selected jobs?")});
        for (qint64 id : ids)
            QCOMPARE(c.status(id), JobStatus::Pending);
        const Job retried = **c.t.store->job(ids[0], std::nullopt);
        QCOMPARE(retried.attempts, 0);
        QVERIFY(retried.error.isEmpty());
    }

    void setRaiseAndLowerPriority()
    {
        Console c;
        const QList<qint64> ids = c.enqueue(3, QStringLiteral("noop"));
        c.show();
        c.select({ids[0], ids[2]});
        c.find<QSpinBox>("prioritySpin")->setValue(42);
        c.click("setPriorityButton");
        QCOMPARE(c.priority(ids[0]), 42);
        QCOMPARE(c.priority(ids[1]), 0);
        QCOMPARE(c.priority(ids[2]), 42);
        c.click("raiseButton");
        QCOMPARE(c.priority(ids[0]), 52);
        QCOMPARE(c.priority(ids[2]), 52);
        c.select({ids[1]});
        c.click("lowerButton");
        QCOMPARE(c.priority(ids[1]), -10);
        QCOMPARE(c.priority(ids[0]), 52);
        QCOMPARE(c.questions.last(), QStringLiteral("Lower the priority by 10 of 1 selected job?"));
        c.find<QSpinBox>("prioritySpin")->setValue(100);
        c.select({ids[0]});
        c.click("setPriorityButton");
        c.click("raiseButton"); // already at the top: unchanged
        QCOMPARE(c.priority(ids[0]), 100);
    }

    void everythingMatchingTheFilterStatesTheCount()
    {
        Console c;
        const QList<qint64> ids = c.enqueue(10, QStringLiteral("noop"));
        c.show();
        // Bob's jobs (odd positions) only.
        auto *user = c.find<QComboBox>("userFilter");
        QTRY_VERIFY(user->findText(QStringLiteral("bob")) > 0);
        user->setCurrentIndex(user->findText(QStringLiteral("bob")));
        QVERIFY(c.settled());
        QCOMPARE(c.page->model()->rowCount(), 5);
        QTRY_COMPARE(c.find<QLabel>("countLabel")->text(), QStringLiteral("5 jobs"));
        c.setScope(JobsPage::Scope::Filter);
        const QString summary = c.click("cancelButton");
        QCOMPARE(c.questions.size(), 1);
        QVERIFY2(c.questions.first().startsWith(u"Cancel all 5 jobs matching the filter?"),
                 qPrintable(c.questions.first()));
        QVERIFY2(summary.contains(u"5 jobs changed"), qPrintable(summary));
        for (int i = 0; i < ids.size(); ++i)
            QCOMPARE(c.status(ids[i]), i % 2 ? JobStatus::Cancelled : JobStatus::Pending);

        // Status filter "cancelled", then retry them all.
        auto *status = c.find<QComboBox>("statusFilter");
        status->setCurrentIndex(status->findText(QStringLiteral("cancelled")));
        QVERIFY(c.settled());
        c.click("retryButton");
        QVERIFY2(c.questions.last().startsWith(u"Retry all 5 jobs matching the filter?"),
                 qPrintable(c.questions.last()));
        for (qint64 id : ids)
            QCOMPARE(c.status(id), JobStatus::Pending);

        // Search narrows "everything" too.
        status->setCurrentIndex(0);
        user->setCurrentIndex(0);
        c.find<QLineEdit>("searchField")->setText(QString::number(ids[4]));
        QTRY_COMPARE(c.page->model()->filter().search, QString::number(ids[4]));
        QVERIFY(c.settled());
        c.find<QSpinBox>("prioritySpin")->setValue(7);
        c.click("setPriorityButton");
        QVERIFY2(c.questions.last().contains(u"all 1 job matching"),
                 qPrintable(c.questions.last()));
        QCOMPARE(c.priority(ids[4]), 7);
        QCOMPARE(c.priority(ids[3]), 0);
    }

    void deleteFinishedTakesAttemptsAndRowErrors()
    {
        Console c;
        const QList<qint64> done = c.enqueue(3, QStringLiteral("noop"));
        QVERIFY(c.dispatcher->start().ok());
        for (qint64 id : done)
            QTRY_COMPARE_WITH_TIMEOUT(c.status(id), JobStatus::Completed, 10'000);
        c.dispatcher->stop();
        const QList<qint64> waiting = c.enqueue(2, QStringLiteral("noop"));
        QString error = execSql(c.t.path(), {QStringLiteral("INSERT INTO job_row_errors (job_id, "
                                                            "seq, line, field, reason) VALUES "
                                                            "(%1, 0, 7, 'age', 'not a number')")
                                                 .arg(done[0])});
        QVERIFY2(error.isEmpty(), qPrintable(error));
        c.show();
        c.setScope(JobsPage::Scope::Filter);
        const QString summary = c.click("deleteButton");
        QVERIFY2(c.questions.last().contains(u"all 5 jobs"), qPrintable(c.questions.last()));
        QVERIFY2(summary.contains(u"3 jobs changed"), qPrintable(summary));
        for (qint64 id : done)
            QVERIFY(!c.t.store->job(id, std::nullopt)->has_value());
        for (qint64 id : waiting)
            QCOMPARE(c.status(id), JobStatus::Pending);
        const auto left = readRows(c.t.path(),
                                   QStringLiteral("SELECT (SELECT count(*) FROM job_attempts), "
                                                  "(SELECT count(*) FROM job_row_errors)"),
                                   &error);
        QVERIFY2(error.isEmpty(), qPrintable(error));
        QCOMPARE(left.first().at(0).toInt(), 0);
        QCOMPARE(left.first().at(1).toInt(), 0);
        QTRY_COMPARE(c.page->model()->totalCount(), 2);
    }

    void detailPaneShowsAttemptsAndRowErrors()
    {
        Console c;
        const QList<qint64> ids = c.enqueue(1, QStringLiteral("noop"));
        QVERIFY(c.dispatcher->start().ok());
        QTRY_COMPARE_WITH_TIMEOUT(c.status(ids[0]), JobStatus::Completed, 10'000);
        c.dispatcher->stop();
        const QString error = execSql(
            c.t.path(), {QStringLiteral("INSERT INTO job_row_errors (job_id, seq, line, field, "
                                        "reason) VALUES (%1, 0, 12, 'email', 'missing @')")
                             .arg(ids[0])});
        QVERIFY2(error.isEmpty(), qPrintable(error));
        c.show();
        QSignalSpy shown(c.page.get(), &JobsPage::detailShown);
        c.view()->setCurrentIndex(c.page->model()->index(c.rowOf(ids[0]), 0));
        QVERIFY(shown.wait());
        const QString text = c.find<QTextBrowser>("jobDetail")->toPlainText();
        QVERIFY2(text.contains(QStringLiteral("Job %1").arg(ids[0])), qPrintable(text));
        QVERIFY2(text.contains(u"Attempts"), qPrintable(text));
        QVERIFY2(text.contains(u"completed"), qPrintable(text));
        QVERIFY2(text.contains(u"ui"), qPrintable(text)); // the node that ran it
        QVERIFY2(text.contains(u"missing @"), qPrintable(text));
        QVERIFY2(text.contains(u"email"), qPrintable(text));
    }

    void filtersAndSortFromTheWidgets()
    {
        Console c;
        const QList<qint64> ids = c.enqueue(
            6, QStringLiteral("noop"), {{QStringLiteral("dataset"), QStringLiteral("people")}});
        c.enqueue(2, QStringLiteral("noop"));
        c.show();
        QCOMPARE(c.page->model()->rowCount(), 8);
        c.find<QLineEdit>("datasetFilter")->setText(QStringLiteral("people"));
        QTRY_COMPARE(c.page->model()->filter().dataset.value_or(QString()),
                     QStringLiteral("people"));
        QVERIFY(c.settled());
        QCOMPARE(c.page->model()->rowCount(), 6);
        QCOMPARE(c.page->model()->jobId(0), ids.last());
        c.view()->sortByColumn(JobTableModel::Id, Qt::AscendingOrder);
        QVERIFY(c.settled());
        QCOMPARE(c.page->model()->jobId(0), ids.first());
    }
};

QTEST_MAIN(tst_JobsPage)
#include "tst_jobspage.moc"
