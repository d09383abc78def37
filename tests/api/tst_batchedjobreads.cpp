// BatchedJobReads, how GET /api/v1/jobs/{id} reads on PostgreSQL: every read is answered with its
// own job (any user's: the route checks whose) or none; reads that arrive while a statement is
// out go together in the next one, at most MaxBatch ids each; stopping answers what still waits.
// On both backends; the gathering and stopping tests hold a lock on jobs in a session of their
// own, so they need PostgreSQL.
#include "api/batchedjobreads.h"
#include "pgtestsupport.h"
#include "testbackend.h"
#include "testsupport.h"

#include <QSqlError>
#include <QSqlQuery>
#include <QTest>
#include <QThread>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

using namespace Ferry;
using namespace Ferry::Test;

namespace {

// What the reader thread answered, per read.
struct Answer
{
    qint64 asked = 0;
    Result<std::optional<Job>> job = std::optional<Job>();
};

class Answers
{
public:
    BatchedJobReads::Done collect(qint64 asked)
    {
        return [this, asked](Result<std::optional<Job>> job) {
            std::lock_guard lock(m_mutex);
            m_answers.push_back({asked, std::move(job)});
            m_count.store(int(m_answers.size()));
        };
    }
    int count() const { return m_count.load(); }
    std::vector<Answer> take()
    {
        std::lock_guard lock(m_mutex);
        return std::move(m_answers);
    }

private:
    std::mutex m_mutex;
    std::vector<Answer> m_answers;
    std::atomic<int> m_count{0};
};

// A session that holds an exclusive lock on jobs until release(): the reader's statement waits.
class JobsLock
{
public:
    explicit JobsLock(const QString &url) : m_db(openPostgres(url, QStringLiteral("jobs-lock"))) {}
    ~JobsLock()
    {
        release();
        m_db = QSqlDatabase();
        QSqlDatabase::removeDatabase(QStringLiteral("jobs-lock"));
    }
    bool take()
    {
        QSqlQuery q(m_db);
        return m_db.isOpen() && m_db.transaction() &&
               q.exec(QStringLiteral("LOCK TABLE jobs IN ACCESS EXCLUSIVE MODE"));
    }
    void release()
    {
        if (m_db.isOpen())
            m_db.commit();
    }
    // How many statements wait for a lock on this database (the reader's, once it sent it).
    int waiting()
    {
        QSqlQuery q(m_db);
        // Inside a transaction pg_stat_activity is read once: clear that snapshot first.
        if (!q.exec(QStringLiteral("SELECT pg_stat_clear_snapshot()")) ||
            !q.exec(QStringLiteral("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                                   "current_database() AND wait_event_type = 'Lock'")) ||
            !q.next())
            return -1;
        return q.value(0).toInt();
    }

private:
    QSqlDatabase m_db;
};

} // namespace

class tst_BatchedJobReads : public QObject
{
    Q_OBJECT

private:
    // Jobs for alice and bob, alternating; their ids.
    static QList<qint64> enqueueJobs(TempStore &t, int n)
    {
        const qint64 alice = t.addUser(QStringLiteral("alice"));
        const qint64 bob = t.addUser(QStringLiteral("bob"));
        QList<NewJob> jobs;
        for (int i = 0; i < n; ++i) {
            NewJob job;
            job.userId = i % 2 ? bob : alice;
            job.type = QStringLiteral("noop");
            jobs.append(job);
        }
        auto enqueued = t.store->enqueue(jobs, t.clock.nowMs());
        QList<qint64> ids;
        if (enqueued) {
            for (const EnqueuedJob &job : std::as_const(*enqueued))
                ids.append(job.id);
        }
        return ids;
    }

    // Every answer is the job asked for (with its owner), or none for an id that does not exist.
    static void checkAnswers(const std::vector<Answer> &answers,
                             const QList<qint64> &ids,
                             const QHash<qint64, qint64> &owners)
    {
        for (const Answer &answer : answers) {
            QVERIFY2(answer.job.ok(), qPrintable(answer.job.error().toString()));
            if (!ids.contains(answer.asked)) {
                QVERIFY(!answer.job->has_value());
                continue;
            }
            QVERIFY(answer.job->has_value());
            QCOMPARE((*answer.job)->id, answer.asked);
            QCOMPARE((*answer.job)->userId, owners.value(answer.asked));
        }
    }

    static QHash<qint64, qint64> ownersOf(TempStore &t, const QList<qint64> &ids)
    {
        QHash<qint64, qint64> owners;
        for (const qint64 id : ids)
            owners.insert(id, (*t.store->job(id, std::nullopt))->userId);
        return owners;
    }

private Q_SLOTS:
    void everyReadGetsItsOwnJob()
    {
        TempStore t;
        const QList<qint64> ids = enqueueJobs(t, 20);
        QCOMPARE(ids.size(), 20);
        const QHash<qint64, qint64> owners = ownersOf(t, ids);
        Answers answers;
        constexpr int Threads = 8;
        constexpr int ReadsEach = 250;
        {
            BatchedJobReads reads(*t.store);
            std::vector<std::thread> threads;
            for (int i = 0; i < Threads; ++i) {
                threads.emplace_back([&, i] {
                    for (int n = 0; n < ReadsEach; ++n) {
                        // Every tenth read asks for a job that does not exist.
                        const qint64 id = n % 10 == 9 ? ids.back() + 1000 + i
                                                      : ids.at((i * ReadsEach + n) % ids.size());
                        reads.read(id, answers.collect(id));
                    }
                });
            }
            for (std::thread &thread : threads)
                thread.join();
            QTRY_COMPARE_WITH_TIMEOUT(answers.count(), Threads * ReadsEach, 30'000);
            QVERIFY(reads.statements() >= 1);
            QVERIFY(reads.statements() <= Threads * ReadsEach);
        }
        checkAnswers(answers.take(), ids, owners);
    }

    void readsThatArriveMeanwhileGoTogether()
    {
        if (!onPostgres())
            QSKIP("PostgreSQL only: the reader's statement is held by a lock on jobs");
        TempStore t;
        const QList<qint64> ids = enqueueJobs(t, 10);
        const QHash<qint64, qint64> owners = ownersOf(t, ids);
        Answers answers;
        BatchedJobReads reads(*t.store);
        JobsLock lock(t.location()); // gone before the reads, whatever fails
        QVERIFY(lock.take());
        reads.read(ids.first(), answers.collect(ids.first()));
        QTRY_COMPARE_WITH_TIMEOUT(lock.waiting(), 1, 10'000); // the first statement is out
        QCOMPARE(reads.statements(), 1);
        constexpr int Meanwhile = 1'200; // more than two batches
        for (int n = 0; n < Meanwhile; ++n) {
            const qint64 id = ids.at(n % ids.size());
            reads.read(id, answers.collect(id));
        }
        QCOMPARE(answers.count(), 0);
        lock.release();
        QTRY_COMPARE_WITH_TIMEOUT(answers.count(), 1 + Meanwhile, 30'000);
        // One statement for the first read, then the 1,200 in batches of at most 500.
        const int batches = (Meanwhile + BatchedJobReads::MaxBatch - 1) / BatchedJobReads::MaxBatch;
        QCOMPARE(reads.statements(), qint64(1 + batches));
        checkAnswers(answers.take(), ids, owners);
    }

    void stoppingAnswersWhatWaits()
    {
        if (!onPostgres())
            QSKIP("PostgreSQL only: the reader's statement is held by a lock on jobs");
        TempStore t;
        const QList<qint64> ids = enqueueJobs(t, 2);
        Answers answers;
        auto reads = std::make_unique<BatchedJobReads>(*t.store);
        JobsLock lock(t.location()); // gone before the reads, whatever fails
        QVERIFY(lock.take());
        reads->read(ids.first(), answers.collect(ids.first()));
        QTRY_COMPARE_WITH_TIMEOUT(lock.waiting(), 1, 10'000);
        reads->read(ids.last(), answers.collect(ids.last()));
        reads->read(ids.last(), answers.collect(ids.last()));
        // Stopped while its statement waits: the lock goes once the reads are stopping, and the
        // statement under way then ends.
        std::thread stopper([&reads] { reads.reset(); });
        QThread::msleep(500);
        lock.release();
        stopper.join();
        const std::vector<Answer> all = answers.take();
        QCOMPARE(int(all.size()), 3);
        int unavailable = 0;
        for (const Answer &answer : all) {
            if (answer.asked == ids.first()) {
                QVERIFY(answer.job.ok() && answer.job->has_value()); // its statement ran
            } else {
                QVERIFY(!answer.job.ok());
                QCOMPARE(answer.job.error().code, ErrorCode::Unavailable);
                ++unavailable;
            }
        }
        QCOMPARE(unavailable, 2);
    }
};

QTEST_GUILESS_MAIN(tst_BatchedJobReads)
#include "tst_batchedjobreads.moc"
