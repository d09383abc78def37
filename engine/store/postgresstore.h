#pragma once

#include "store/sqlstore.h"

#include <QJsonArray>

#include <atomic>
#include <memory>

namespace Ferry {

// The store on a PostgreSQL server (--db postgresql://...), through Qt's QPSQL driver: one
// connection per thread that touches SQL, bounded by DatabaseConfig::maxConnections per process
// (ConnectionPool). Several nodes may share one database: the claim takes rows with
// FOR UPDATE SKIP LOCKED, so nodes never hand out the same job twice.
//
// Every Store and DatasetStore method is implemented (postgres*.cpp). Failed statements map by
// SQLSTATE (postgreserrors.h); imports write through libpq's COPY on QPSQL's own connection
// (postgresnative.h).
class PostgresStore final : public SqlStore
{
public:
    // Connects and migrates to targetSchemaVersion (default: newest) with the "postgres"
    // migrations (resources/migrations/postgres).
    static Result<std::unique_ptr<PostgresStore>> open(const DatabaseConfig &config,
                                                       int targetSchemaVersion = -1);
    ~PostgresStore() override;

    Result<QList<EnqueuedJob>> enqueue(const QList<NewJob> &jobs, qint64 now) override;
    Result<QList<ClaimedJob>> settleAndClaim(const QList<SettledAttempt> &settled,
                                             const ClaimRequest &request) override;
    // Two: while one cycle's statement runs in its backend, the next one settles and claims in
    // another (bench/queue --db: one backend was the bottleneck, at 90 % of a core).
    int parallelCycles() const override { return 2; }
    // Diagnostics (tests; anyone asking why a cycle is slow): runs one dispatch cycle as
    // settleAndClaim does without a cap, under EXPLAIN (ANALYZE, FORMAT JSON), and answers
    // PostgreSQL's plan. The cycle's writes are kept; the jobs it claimed are not answered.
    Result<QJsonArray> explainSettleAndClaim(const QList<SettledAttempt> &settled,
                                             const ClaimRequest &request);
    Result<QList<qint64>>
    renewLeases(const QString &node, const QList<HeldLease> &leases, qint64 expiresAt) override;
    DispatchConflicts dispatchConflicts() const override;
    // One job, read on the API's hot path (postgresjobsapi.cpp); the rest of the jobs' reads and
    // changes are SqlStore's (sqljobqueries.cpp).
    Result<std::optional<Job>> job(qint64 jobId, std::optional<qint64> userId) override;
    Result<QList<Job>> jobsByIds(const QList<qint64> &ids) override;
    // DatasetStore: this dialect's batch commit (postgresimport.cpp) and record reads
    // (postgresrecords.cpp); the rest is SqlStore's (sqldatasets.cpp).
    Result<void> commitBatch(const ImportBatch &batch) override;
    // 10,000: a batch costs three round trips and a commit whatever its size (about 2 ms here,
    // a tenth of a 5,000-row batch's time), and writers of other datasets do not wait for it.
    // 10,000 imports as fast as 20,000 and keeps a 1 GiB import's peak RSS under SQLite's
    // (docs/benchmarks.md, issue 17).
    int importBatchRows() const override { return 10'000; }
    Result<void> forEachRecord(qint64 datasetId,
                               const std::function<bool(std::string_view doc)> &sink) override;
    // The bytes of the documents as reads return them (compact; see jsonbtext.h).
    Result<qint64> datasetBytes(qint64 datasetId) override;

    // Upload and job API .
    Result<std::optional<SessionJob>> sessionJob(const QString &sessionId) override;
    Result<RecordPage> recordPage(qint64 datasetId, qint64 afterId, int limit) override;

protected:
    // ---- Jobs: the dialect's hooks (postgresenqueue.cpp, postgresjobs.cpp) ----
    Result<qint64> nextFairRank(qint64 userId, int priority) override;
    Result<void> cancelRequestedOf(QSqlDatabase &db, const QList<qint64> &jobIds) override;
    // ---- end of jobs' hooks ----

private:
    // Global concurrency limit (postgrescluster.cpp): how many more jobs may start cluster-wide,
    // counted under a transaction-level advisory lock (held until the claim commits).
    Result<int> clusterClaimAllowance(QSqlDatabase &db, int clusterMaxRunning);
    // The lock under which capped claims count running jobs (postgrescluster.cpp): held until
    // the claim's transaction commits, so two nodes never count the same free slots.
    Result<void> lockCappedClaims(QSqlDatabase &db);
    // rescueDeadNodes(): the dead nodes' sessions end (postgrescluster.cpp).
    Result<int> endDeadNodeSessions(QSqlDatabase &db, const QStringList &nodes) override;
    explicit PostgresStore(const DatabaseConfig &config);
    // The dataset's documents as PostgreSQL prints their jsonb, in id order, until `printed`
    // returns false (postgresrecords.cpp).
    Result<void> forEachPrinted(qint64 datasetId,
                                const std::function<bool(std::string_view)> &printed);
    // enqueue() of one job without an upload session: a single statement.
    Result<QList<EnqueuedJob>> enqueueOne(const NewJob &job, qint64 now);
    // enqueue() of jobs without upload sessions or unique keys: one INSERT per 10,000.
    Result<QList<EnqueuedJob>> enqueuePlain(const QList<NewJob> &jobs, qint64 now);
    // The first of `count` fair ranks reserved for the user at the priority (user_fair_ranks,
    // postgresenqueue.cpp); the first rank of every (user, priority) of a batch, reserved in
    // key order.
    Result<qint64> reserveFairRanks(qint64 userId, int priority, qint64 count);
    Result<QHash<QPair<qint64, int>, qint64>> reserveBatchRanks(const QList<NewJob> &jobs);
    // settleAndClaim()'s claim under a per-user cap (postgresjobs.cpp, cappedClaimIds).
    Result<QList<ClaimedJob>> claimUnderCap(const ClaimRequest &request, int cap);
    // settleAndClaim()'s attempts whose rows were locked by another transaction: settled at
    // once, waiting for the locks (postgresjobs.cpp).
    Result<void> settleDeferred(const QList<SettledAttempt> &settled, const QString &node);
    // Executes a dispatch statement, running it again (up to 5 times) after a deadlock or a
    // serialization failure, counted in m_deadlocks and m_reruns.
    bool execCounted(QSqlQuery &q);
    // Inside enqueue()'s transaction: NewJob::completesTusUpload (postgrestus.cpp).
    Result<void> markTusComplete(
        QSqlDatabase &db, const QString &id, const QString &sessionId, qint64 jobId, qint64 now);

    std::atomic<qint64> m_deadlocks{0};
    std::atomic<qint64> m_reruns{0};
    std::atomic<qint64> m_deferredSettles{0};
};

} // namespace Ferry
