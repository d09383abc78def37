#include "jobstestsupport.h"
#include "testsupport.h"
#include "ui/jobs/jobtablemodel.h"

#include <QElapsedTimer>
#include <QSignalSpy>
#include <QTest>
#include <QThreadPool>

using namespace Ferry;
using namespace Ferry::Test;

// The Jobs page's model over a store of 1,000,000 jobs: keyset pages, counts, filters, search,
// the indexed sort orders, live refresh. Every read runs on a reader pool, as in the console.
class tst_JobTableModel : public QObject
{
    Q_OBJECT

    static constexpr qint64 Jobs = 1'000'000;
    static constexpr int Batch = 10'000;
    // Jobs with an upload session: every 1000th (ids 1000, 2000, ...).
    static constexpr qint64 SessionEvery = 1000;

    std::unique_ptr<TempStore> t;
    QThreadPool readers;
    QList<qint64> users; // alice, bob, carol; job i belongs to users[i % 3]

    // Waits until the model has read what it was asked (a page and the count).
    static bool settle(JobTableModel &model)
    {
        return waitFor([&] { return !model.isFetching() && model.totalCount() >= 0; });
    }

private Q_SLOTS:
    void initTestCase()
    {
        readers.setMaxThreadCount(1);
        t = std::make_unique<TempStore>();
        for (const char *name : {"alice", "bob", "carol"})
            users.append(t->addUser(QLatin1String(name)));
        QElapsedTimer timer;
        timer.start();
        for (qint64 first = 1; first <= Jobs; first += Batch) {
            QList<NewJob> batch;
            batch.reserve(Batch);
            for (qint64 i = first; i < first + Batch; ++i) {
                NewJob job;
                job.userId = users.at(int(i % 3));
                job.type = QStringLiteral("noop");
                job.payload = {{QStringLiteral("dataset"), QStringLiteral("ds%1").arg(i % 10)}};
                job.maxAttempts = 5;
                job.timeoutMs = 0;
                if (i % SessionEvery == 0) {
                    UploadSession session;
                    session.id = QStringLiteral("sess-%1-x").arg(i);
                    session.userId = job.userId;
                    session.fileName = QStringLiteral("file-%1.csv").arg(i);
                    session.createdAt = 1;
                    job.session = session;
                }
                batch.append(job);
            }
            auto enqueued = t->store->enqueue(batch, 1'700'000'000'000 + first);
            QVERIFY2(enqueued.ok(), qPrintable(enqueued.error().toString()));
        }
        const qint64 enqueueMs = timer.elapsed();
        // Statuses and priorities the store has no bulk write for: one statement each.
        const QString error = execSql(
            t->path(),
            {QStringLiteral("UPDATE jobs SET status = CASE id % 4 WHEN 1 THEN 'completed' "
                            "WHEN 2 THEN 'failed' WHEN 3 THEN 'cancelled' ELSE 'pending' END, "
                            "priority = (id % 7) - 3")});
        QVERIFY2(error.isEmpty(), qPrintable(error));
        qInfo("1,000,000 jobs: enqueued in %lld ms, statuses set in %lld ms", enqueueMs,
              timer.elapsed() - enqueueMs);
    }

    void cleanupTestCase()
    {
        readers.waitForDone();
        t.reset();
    }

    void firstPageThenMorePages()
    {
        JobTableModel model(*t->store, &readers);
        QSignalSpy pages(&model, &JobTableModel::pageLoaded);
        model.setQuery({}, ConsoleJobSort::NewestFirst);
        QVERIFY(settle(model));
        QCOMPARE(model.rowCount(), 500);
        QCOMPARE(model.totalCount(), Jobs);
        QCOMPARE(model.jobId(0), Jobs);
        QCOMPARE(model.data(model.index(0, JobTableModel::Id)).toLongLong(), Jobs);
        QCOMPARE(model.data(model.index(0, JobTableModel::User)).toString(),
                 QStringLiteral("bob")); // 1,000,000 % 3 == 1
        QCOMPARE(model.data(model.index(0, JobTableModel::DatasetFile)).toString(),
                 QStringLiteral("ds0 · file-1000000.csv"));
        QCOMPARE(model.data(model.index(0, JobTableModel::Status)).toString(),
                 QStringLiteral("pending"));
        QVERIFY(model.canFetchMore({}));
        model.fetchMore({});
        QVERIFY(settle(model));
        QCOMPARE(model.rowCount(), 1000);
        QCOMPARE(model.jobId(500), Jobs - 500);
        QCOMPARE(model.jobId(999), Jobs - 999);
        QCOMPARE(pages.size(), 2);
    }

    void oldestFirstPagesToTheEndOfAFilter()
    {
        // Dataset ds7 of alice (i % 3 == 0 and i % 10 == 7): ids 27, 57, ... ; walk every page.
        JobTableModel model(*t->store, &readers);
        model.setPageSize(5000);
        ConsoleJobFilter filter;
        filter.userId = users.at(0);
        filter.dataset = QStringLiteral("ds7");
        model.setQuery(filter, ConsoleJobSort::OldestFirst);
        QVERIFY(settle(model));
        const qint64 expected = (Jobs - 27) / 30 + 1;
        QCOMPARE(model.totalCount(), expected);
        while (model.canFetchMore({})) {
            model.fetchMore({});
            QVERIFY(settle(model));
        }
        QCOMPARE(model.rowCount(), int(expected));
        QCOMPARE(model.jobId(0), 27);
        for (int row = 1; row < model.rowCount(); ++row)
            QCOMPARE(model.jobId(row), model.jobId(row - 1) + 30);
    }

    void filterByStatus()
    {
        JobTableModel model(*t->store, &readers);
        ConsoleJobFilter filter;
        filter.status = JobStatus::Failed;
        model.setQuery(filter, ConsoleJobSort::NewestFirst);
        QVERIFY(settle(model));
        QCOMPARE(model.totalCount(), Jobs / 4);
        QCOMPARE(model.rowCount(), 500);
        for (int row = 0; row < model.rowCount(); ++row) {
            QCOMPARE(model.jobRow(row).status, JobStatus::Failed);
            QCOMPARE(model.jobId(row) % 4, 2);
        }
        QCOMPARE(model.jobId(0), Jobs - 2);
    }

    void filterByUser()
    {
        JobTableModel model(*t->store, &readers);
        ConsoleJobFilter filter;
        filter.userId = users.at(2); // carol: i % 3 == 2
        model.setQuery(filter, ConsoleJobSort::NewestFirst);
        QVERIFY(settle(model));
        QCOMPARE(model.totalCount(), Jobs / 3);
        for (int row = 0; row < model.rowCount(); ++row) {
            QCOMPARE(model.jobRow(row).userName, QStringLiteral("carol"));
            QCOMPARE(model.jobId(row) % 3, 2);
        }
    }

    void filterByDatasetAndStatus()
    {
        JobTableModel model(*t->store, &readers);
        ConsoleJobFilter filter;
        filter.dataset = QStringLiteral("ds3");
        model.setQuery(filter, ConsoleJobSort::NewestFirst);
        QVERIFY(settle(model));
        QCOMPARE(model.totalCount(), Jobs / 10);
        QCOMPARE(model.jobRow(0).dataset, QStringLiteral("ds3"));
        QCOMPARE(model.jobId(0), Jobs - 7);
        // ds3 and completed: i % 10 == 3 and i % 4 == 1, i.e. i % 20 == 13.
        filter.status = JobStatus::Completed;
        model.setQuery(filter, ConsoleJobSort::NewestFirst);
        QVERIFY(settle(model));
        QCOMPARE(model.totalCount(), Jobs / 20);
        for (int row = 0; row < model.rowCount(); ++row)
            QCOMPARE(model.jobId(row) % 20, 13);
    }

    void searchByIdSessionAndFileName()
    {
        JobTableModel model(*t->store, &readers);
        ConsoleJobFilter filter;
        filter.search = QStringLiteral("123457");
        model.setQuery(filter, ConsoleJobSort::NewestFirst);
        QVERIFY(settle(model));
        QCOMPARE(model.totalCount(), 1);
        QCOMPARE(model.jobId(0), 123457);

        filter.search = QStringLiteral("sess-77000-x");
        model.setQuery(filter, ConsoleJobSort::NewestFirst);
        QVERIFY(settle(model));
        QCOMPARE(model.totalCount(), 1);
        QCOMPARE(model.jobId(0), 77000);
        QCOMPARE(model.jobRow(0).sessionId, QStringLiteral("sess-77000-x"));

        filter.search = QStringLiteral("FILE-5000.csv"); // case-insensitive, not file-50000.csv
        model.setQuery(filter, ConsoleJobSort::NewestFirst);
        QVERIFY(settle(model));
        QCOMPARE(model.totalCount(), 1);
        QCOMPARE(model.jobRow(0).fileName, QStringLiteral("file-5000.csv"));

        filter.search = QStringLiteral("100%_"); // wildcards are matched literally
        model.setQuery(filter, ConsoleJobSort::NewestFirst);
        QVERIFY(settle(model));
        QCOMPARE(model.totalCount(), 0);
        QCOMPARE(model.rowCount(), 0);
    }

    void sortByPriorityPagesWithoutGapsOrRepeats()
    {
        for (ConsoleJobSort sort : {ConsoleJobSort::PriorityHigh, ConsoleJobSort::PriorityLow}) {
            JobTableModel model(*t->store, &readers);
            ConsoleJobFilter filter;
            filter.status = JobStatus::Pending; // i % 4 == 0
            model.setQuery(filter, sort);
            QVERIFY(settle(model));
            for (int page = 0; page < 3; ++page) {
                model.fetchMore({});
                QVERIFY(settle(model));
            }
            QCOMPARE(model.rowCount(), 2000);
            const bool high = sort == ConsoleJobSort::PriorityHigh;
            QCOMPARE(model.jobRow(0).priority, high ? 3 : -3);
            for (int row = 1; row < model.rowCount(); ++row) {
                const ConsoleJobRow &a = model.jobRow(row - 1), &b = model.jobRow(row);
                QVERIFY(b.status == JobStatus::Pending);
                if (high)
                    QVERIFY(a.priority > b.priority || (a.priority == b.priority && a.id > b.id));
                else
                    QVERIFY(a.priority < b.priority || (a.priority == b.priority && a.id < b.id));
            }
        }
    }

    void sortFromTheHeaderOnlyOnIndexedColumns()
    {
        JobTableModel model(*t->store, &readers);
        model.setQuery({}, ConsoleJobSort::NewestFirst);
        QVERIFY(settle(model));
        model.sort(JobTableModel::User, Qt::AscendingOrder); // not indexed: ignored
        QCOMPARE(model.sortOrder(), ConsoleJobSort::NewestFirst);
        model.sort(JobTableModel::Created, Qt::AscendingOrder);
        QCOMPARE(model.sortOrder(), ConsoleJobSort::OldestFirst);
        QVERIFY(settle(model));
        QCOMPARE(model.jobId(0), 1);
        model.sort(JobTableModel::Priority, Qt::DescendingOrder);
        QCOMPARE(model.sortOrder(), ConsoleJobSort::PriorityHigh);
        QVERIFY(settle(model));
        QCOMPARE(model.jobRow(0).priority, 3);
    }

    // From here on the tests change the store.
    void refreshRereadsRowsAndPrependsNewJobs()
    {
        JobTableModel model(*t->store, &readers);
        ConsoleJobFilter filter;
        filter.status = JobStatus::Pending;
        model.setQuery(filter, ConsoleJobSort::NewestFirst);
        QVERIFY(settle(model));
        QCOMPARE(model.jobId(0), Jobs);
        QVERIFY(t->store->setPriority(Jobs, std::nullopt, 77).ok());
        NewJob job;
        job.userId = users.at(0);
        job.type = QStringLiteral("noop");
        job.maxAttempts = 1;
        job.timeoutMs = 0;
        auto added = t->store->enqueue({job, job}, 1);
        QVERIFY(added.ok());
        QSignalSpy refreshed(&model, &JobTableModel::refreshed);
        model.refreshRows(0, 20);
        QVERIFY(refreshed.wait());
        QCOMPARE(model.rowCount(), 502);
        QCOMPARE(model.jobId(0), added->at(1).id);
        QCOMPARE(model.jobId(1), added->at(0).id);
        QCOMPARE(model.jobId(2), Jobs);
        QCOMPARE(model.jobRow(2).priority, 77);
    }

    // "Everything matching the filter" at scale: one transaction each, counts as asked.
    void bulkActionsByFilter()
    {
        ConsoleJobFilter failedDs2; // i % 20 == 2
        failedDs2.status = JobStatus::Failed;
        failedDs2.dataset = QStringLiteral("ds2");
        QCOMPARE(*t->store->countConsoleJobs(failedDs2), Jobs / 20);
        auto retried = t->store->applyConsoleAction(failedDs2, ConsoleBulkAction::Retry, 0, 2);
        QVERIFY2(retried.ok(), qPrintable(retried.error().toString()));
        QCOMPARE(retried->changed, int(Jobs / 20));
        QCOMPARE(*t->store->countConsoleJobs(failedDs2), 0);
        QCOMPARE((*t->store->job(2, std::nullopt))->status, JobStatus::Pending);

        ConsoleJobFilter ds5; // i % 10 == 5
        ds5.dataset = QStringLiteral("ds5");
        auto deleted = t->store->applyConsoleAction(ds5, ConsoleBulkAction::DeleteFinished, 0, 3);
        QVERIFY2(deleted.ok(), qPrintable(deleted.error().toString()));
        QCOMPARE(deleted->changed, int(Jobs / 10)); // odd ids: completed or cancelled
        QCOMPARE(*t->store->countConsoleJobs(ds5), 0);

        ConsoleJobFilter pendingDs0; // i % 20 == 0
        pendingDs0.status = JobStatus::Pending;
        pendingDs0.dataset = QStringLiteral("ds0");
        const qint64 pending = *t->store->countConsoleJobs(pendingDs0);
        auto raised =
            t->store->applyConsoleAction(pendingDs0, ConsoleBulkAction::AdjustPriority, 10, 4);
        QVERIFY(raised.ok());
        QCOMPARE(raised->changed, int(pending));
        auto cancelled = t->store->applyConsoleAction(pendingDs0, ConsoleBulkAction::Cancel, 0, 5);
        QVERIFY(cancelled.ok());
        QCOMPARE(cancelled->changed, int(pending));
        QVERIFY(cancelled->runningCancelled.isEmpty());
        QCOMPARE(*t->store->countConsoleJobs(pendingDs0), 0);
    }
};

QTEST_MAIN(tst_JobTableModel)
#include "tst_jobtablemodel.moc"
