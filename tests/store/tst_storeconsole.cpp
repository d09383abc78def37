// The operator console's contract (the Jobs page, SqlStore's sqlconsole.cpp) on both backends:
// filters (status, user, payload dataset, id selection, search), keyset pages in each sort
// order, counts, and every bulk action. tst_storeconsole runs it on SQLite, tst_storeconsole_pg
// on the throwaway server of the "ferry_pg" fixture (tests/support/testbackend.h).

#include "store/databaseconfig.h"
#include "testsupport.h"

#include <QSqlDatabase>
#include <QSqlDriver>
#include <QSqlError>
#include <QTest>

using namespace Ferry;
using namespace Ferry::Test;

namespace {

constexpr qint64 Now = 1'700'000'000'000;

NewJob jobOf(qint64 userId, const QString &dataset, int priority = 0)
{
    NewJob job;
    job.userId = userId;
    job.type = QStringLiteral("noop");
    job.payload = QJsonObject{{QStringLiteral("dataset"), dataset}};
    job.priority = priority;
    job.maxAttempts = 3;
    job.timeoutMs = 60'000;
    return job;
}

QList<qint64> idsOf(const QList<ConsoleJobRow> &rows)
{
    QList<qint64> ids;
    for (const ConsoleJobRow &row : rows)
        ids.append(row.id);
    return ids;
}

} // namespace

class TestStoreConsole : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init()
    {
        // A fresh store per case: a SQLite file, or a fresh PostgreSQL database.
        m_temp = std::make_unique<TempStore>();
        m_store = m_temp->store.get();

        // ann: 3 jobs of "people" (priorities 0, 5, -5); bob: 1 of "sales" with an upload.
        m_ann = addUser(QStringLiteral("ann"));
        m_bob = addUser(QStringLiteral("bob"));
        NewJob upload = jobOf(m_bob, QStringLiteral("sales"), 1);
        upload.session = UploadSession{QStringLiteral("sess-Q3"),
                                       m_bob,
                                       QStringLiteral("Q3_Report.csv"),
                                       QStringLiteral("text/csv"),
                                       10,
                                       QStringLiteral("blob"),
                                       Now};
        auto enqueued = m_store->enqueue({jobOf(m_ann, QStringLiteral("people"), 0),
                                          jobOf(m_ann, QStringLiteral("people"), 5),
                                          jobOf(m_ann, QStringLiteral("people"), -5), upload},
                                         Now);
        QVERIFY2(enqueued.ok(), qPrintable(enqueued.error().message));
        m_ids.clear();
        for (const EnqueuedJob &job : *enqueued)
            m_ids.append(job.id);
    }

    void cleanup()
    {
        m_store = nullptr;
        m_temp.reset();
    }

    void rowsCarryTheJoinedColumns()
    {
        auto rows = m_store->consoleJobsById({m_ids[3], m_ids[0], 987654});
        QVERIFY2(rows.ok(), qPrintable(rows.error().message));
        QCOMPARE(rows->size(), 2);
        const ConsoleJobRow &upload = rows->at(0).id == m_ids[3] ? rows->at(0) : rows->at(1);
        QCOMPARE(upload.userName, QStringLiteral("bob"));
        QCOMPARE(upload.userId, m_bob);
        QCOMPARE(upload.fileName, QStringLiteral("Q3_Report.csv"));
        QCOMPARE(upload.sessionId, QStringLiteral("sess-Q3"));
        QCOMPARE(upload.dataset, QStringLiteral("sales"));
        QCOMPARE(upload.status, JobStatus::Pending);
        QCOMPARE(upload.priority, 1);
        QCOMPARE(upload.maxAttempts, 3);
        QCOMPARE(upload.createdAt, Now);
        QVERIFY(m_store->consoleJobsById({})->isEmpty());
    }

    void filtersAndCounts()
    {
        ConsoleJobFilter filter;
        QCOMPARE(*m_store->countConsoleJobs(filter), 4);
        filter.userId = m_ann;
        QCOMPARE(*m_store->countConsoleJobs(filter), 3);
        filter = {};
        filter.dataset = QStringLiteral("sales");
        QCOMPARE(*m_store->countConsoleJobs(filter), 1);
        filter = {};
        filter.ids = QList<qint64>{m_ids[0], m_ids[2]};
        QCOMPARE(*m_store->countConsoleJobs(filter), 2);
        filter = {};
        filter.status = JobStatus::Running;
        QCOMPARE(*m_store->countConsoleJobs(filter), 0);
        // Search: the upload's file name, case-insensitive, LIKE wildcards taken literally.
        filter = {};
        filter.search = QStringLiteral("q3_rep");
        auto found = m_store->consoleJobs(ConsoleJobQuery{filter});
        QVERIFY2(found.ok(), qPrintable(found.error().message));
        QCOMPARE(idsOf(*found), QList<qint64>{m_ids[3]});
        filter.search = QStringLiteral("Q3%Report");
        QCOMPARE(*m_store->countConsoleJobs(filter), 0);
        // ... and the job id, when the text is a number.
        filter.search = QString::number(m_ids[1]);
        QCOMPARE(idsOf(*m_store->consoleJobs(ConsoleJobQuery{filter})), QList<qint64>{m_ids[1]});
    }

    void keysetPagesInEachOrder()
    {
        ConsoleJobQuery query;
        query.limit = 3;
        auto page = m_store->consoleJobs(query); // newest first
        QVERIFY2(page.ok(), qPrintable(page.error().message));
        QCOMPARE(idsOf(*page), (QList<qint64>{m_ids[3], m_ids[2], m_ids[1]}));
        query.afterId = page->last().id;
        QCOMPARE(idsOf(*m_store->consoleJobs(query)), QList<qint64>{m_ids[0]});

        query = {};
        query.sort = ConsoleJobSort::OldestFirst;
        query.afterId = m_ids[1];
        QCOMPARE(idsOf(*m_store->consoleJobs(query)), (QList<qint64>{m_ids[2], m_ids[3]}));

        // Priorities: ann 0, 5, -5; bob 1.
        query = {};
        query.sort = ConsoleJobSort::PriorityHigh;
        query.limit = 2;
        page = m_store->consoleJobs(query);
        QCOMPARE(idsOf(*page), (QList<qint64>{m_ids[1], m_ids[3]}));
        query.afterId = page->last().id;
        query.afterPriority = page->last().priority;
        QCOMPARE(idsOf(*m_store->consoleJobs(query)), (QList<qint64>{m_ids[0], m_ids[2]}));

        query = {};
        query.sort = ConsoleJobSort::PriorityLow;
        query.afterId = m_ids[0];
        query.afterPriority = 0;
        QCOMPARE(idsOf(*m_store->consoleJobs(query)), (QList<qint64>{m_ids[3], m_ids[1]}));
    }

    void cancelPendingAndRequestRunning()
    {
        // The highest-priority job (ann's priority 5) is claimed: running.
        auto claimed =
            m_store->settleAndClaim({}, ClaimRequest{QStringLiteral("node-a"), 1, Now, 30'000, 0});
        QVERIFY2(claimed.ok(), qPrintable(claimed.error().message));
        QCOMPARE(claimed->size(), 1);
        QCOMPARE(claimed->at(0).id, m_ids[1]);

        // PostgreSQL: another node listens on ferry_cancel, and the running job's id reaches it.
        // (SQLite's only node is this process, whose dispatcher reads cancelRequested.)
        QStringList heard;
        if (onPostgres()) {
            const auto config = DatabaseConfig::fromUrl(m_temp->location());
            QVERIFY(config.ok());
            QSqlDatabase listener =
                QSqlDatabase::addDatabase(QStringLiteral("QPSQL"), QStringLiteral("listener"));
            listener.setHostName(config->host);
            listener.setPort(config->port);
            listener.setUserName(config->user);
            listener.setDatabaseName(config->database);
            QVERIFY2(listener.open(), qPrintable(listener.lastError().text()));
            QVERIFY(listener.driver()->subscribeToNotification(QStringLiteral("ferry_cancel")));
            connect(listener.driver(), &QSqlDriver::notification, this,
                    [&heard](const QString &, QSqlDriver::NotificationSource,
                             const QVariant &payload) { heard.append(payload.toString()); });
        }

        ConsoleJobFilter ann;
        ann.userId = m_ann;
        auto result = m_store->applyConsoleAction(ann, ConsoleBulkAction::Cancel, 0, Now + 1);
        QVERIFY2(result.ok(), qPrintable(result.error().message));
        QCOMPARE(result->changed, 3);
        QCOMPARE(result->runningCancelled, QList<qint64>{m_ids[1]});
        if (onPostgres()) {
            QTRY_COMPARE(heard, QStringList{QString::number(m_ids[1])});
            QSqlDatabase::database(QStringLiteral("listener")).close();
            QSqlDatabase::removeDatabase(QStringLiteral("listener"));
        }
        QCOMPARE(*m_store->cancelRequested(QStringLiteral("node-a")), QList<qint64>{m_ids[1]});
        const auto job = m_store->job(m_ids[0], std::nullopt);
        QCOMPARE((*job)->status, JobStatus::Cancelled);
        QCOMPARE((*job)->finishedAt, Now + 1);
        QCOMPARE((*job)->error, QStringLiteral("Cancelled before it started."));
        QVERIFY((*m_store->job(m_ids[1], std::nullopt))->cancelRequested);
        // bob's job was not in the filter.
        QCOMPARE((*m_store->job(m_ids[3], std::nullopt))->status, JobStatus::Pending);
    }

    void retryKeepsGoingPastAQueuedUniqueKey()
    {
        // Two of ann's jobs cancelled, one of them with a unique key that a new job now holds.
        NewJob keyed = jobOf(m_ann, QStringLiteral("people"));
        keyed.uniqueKey = QStringLiteral("nightly");
        auto first = m_store->enqueue({keyed}, Now);
        QVERIFY(first.ok());
        const qint64 keyedId = first->at(0).id;
        QCOMPARE(*m_store->cancelJob(keyedId, std::nullopt, Now), JobStatus::Cancelled);
        QCOMPARE(*m_store->cancelJob(m_ids[0], std::nullopt, Now), JobStatus::Cancelled);
        auto holder = m_store->enqueue({keyed}, Now + 1);
        QVERIFY(holder.ok() && !holder->at(0).deduplicated);

        ConsoleJobFilter filter;
        filter.ids = QList<qint64>{keyedId, m_ids[0], m_ids[1]}; // m_ids[1] is pending: untouched
        auto result = m_store->applyConsoleAction(filter, ConsoleBulkAction::Retry, 0, Now + 2);
        QVERIFY2(result.ok(), qPrintable(result.error().message));
        QCOMPARE(result->changed, 1);
        QCOMPARE((*m_store->job(m_ids[0], std::nullopt))->status, JobStatus::Pending);
        QCOMPARE((*m_store->job(m_ids[0], std::nullopt))->attempts, 0);
        QCOMPARE((*m_store->job(keyedId, std::nullopt))->status, JobStatus::Cancelled);
    }

    void prioritiesAreSetAndAdjustedWithinBounds()
    {
        ConsoleJobFilter ann;
        ann.userId = m_ann;
        auto set = m_store->applyConsoleAction(ann, ConsoleBulkAction::SetPriority, 5, Now);
        QVERIFY2(set.ok(), qPrintable(set.error().message));
        QCOMPARE(set->changed, 2); // the one already at 5 does not count
        auto adjusted =
            m_store->applyConsoleAction({}, ConsoleBulkAction::AdjustPriority, 1000, Now);
        QVERIFY2(adjusted.ok(), qPrintable(adjusted.error().message));
        QCOMPARE(adjusted->changed, 4);
        QCOMPARE((*m_store->job(m_ids[0], std::nullopt))->priority, MaxPriority);
        QCOMPARE((*m_store->job(m_ids[3], std::nullopt))->priority, MaxPriority);
        // At the bound already: nothing changes.
        QCOMPARE(
            m_store->applyConsoleAction({}, ConsoleBulkAction::AdjustPriority, 1, Now)->changed, 0);
        QCOMPARE(
            m_store->applyConsoleAction({}, ConsoleBulkAction::SetPriority, -1000, Now)->changed,
            4);
        QCOMPARE((*m_store->job(m_ids[2], std::nullopt))->priority, MinPriority);
    }

    void deleteFinishedTakesOnlyFinishedJobs()
    {
        QCOMPARE(*m_store->cancelJob(m_ids[0], std::nullopt, Now), JobStatus::Cancelled);
        QCOMPARE(*m_store->cancelJob(m_ids[3], std::nullopt, Now), JobStatus::Cancelled);
        auto result = m_store->applyConsoleAction({}, ConsoleBulkAction::DeleteFinished, 0, Now);
        QVERIFY2(result.ok(), qPrintable(result.error().message));
        QCOMPARE(result->changed, 2);
        QVERIFY(!m_store->job(m_ids[0], std::nullopt)->has_value());
        QVERIFY(m_store->job(m_ids[1], std::nullopt)->has_value());
        QCOMPARE(*m_store->countConsoleJobs({}), 2);
    }

private:
    qint64 addUser(const QString &name)
    {
        auto user = m_store->createUser(name, QStringLiteral("standard"), name.toUtf8(), Now);
        if (!user)
            qFatal("creating user %s: %s", qPrintable(name), qPrintable(user.error().message));
        return user->id;
    }

    std::unique_ptr<TempStore> m_temp;
    Store *m_store = nullptr;
    qint64 m_ann = 0;
    qint64 m_bob = 0;
    QList<qint64> m_ids;
};

QTEST_GUILESS_MAIN(TestStoreConsole)
#include "tst_storeconsole.moc"
