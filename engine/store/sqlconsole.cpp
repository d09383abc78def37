// SqlStore: the operator console's Jobs page (store/consolerecords.h): keyset pages of every
// user's jobs, counts and bulk actions by filter. Each filter and sort walks an index of
// 0008_console.sql; search text is the exception (a scan, which a page stops early). On
// PostgreSQL these run on the cluster's database, so the console's actions apply to every
// node's jobs.
#include "sqlstore.h"

#include "store/jobdeletesql.h"
#include "store/sqlhelpers.h"
#include "store/sqlvalues.h"

#include <QSqlQuery>

#include <functional>

namespace Ferry {

namespace {

// A WHERE clause over jobs (columns prefixed by `alias`), with its values in order.
struct Where
{
    QString sql;
    QVariantList values;
};

QString likePattern(const QString &text)
{
    QString escaped = text;
    escaped.replace(u'\\', QStringLiteral("\\\\"));
    escaped.replace(u'%', QStringLiteral("\\%"));
    escaped.replace(u'_', QStringLiteral("\\_"));
    return u'%' + escaped + u'%';
}

Where whereOf(const SqlDialect &sql, const ConsoleJobFilter &filter, const QString &alias)
{
    Where where;
    where.sql = QStringLiteral("TRUE");
    const auto column = [&alias](const char *name) -> QString {
        return alias + QLatin1String(name);
    };
    if (filter.status) {
        // SQLite's jobs_status index is NOCASE (0008_console.sql): only this comparison uses it.
        // Statuses are always written lowercase, so PostgreSQL compares them as they are.
        where.sql += QStringLiteral(" AND %1%2 = ?")
                         .arg(column("status"),
                              sql.isPostgres() ? QString() : QStringLiteral(" COLLATE NOCASE"));
        where.values.append(jobStatusName(*filter.status));
    }
    if (filter.userId) {
        where.sql += QStringLiteral(" AND %1 = ?").arg(column("user_id"));
        where.values.append(*filter.userId);
    }
    if (filter.dataset) {
        // On SQLite, the expression of the jobs_dataset index, exactly.
        where.sql += QStringLiteral(" AND ") +
                     sql.jsonField(column("payload"), QStringLiteral("dataset")) +
                     QStringLiteral(" = ?");
        where.values.append(*filter.dataset);
    }
    if (filter.ids) {
        where.sql += QStringLiteral(" AND ") + sql.inIdList(column("id"));
        where.values.append(sql.idList(*filter.ids));
    }
    if (filter.sessionId) {
        where.sql += QStringLiteral(" AND %1 = ?").arg(column("session_id"));
        where.values.append(*filter.sessionId);
    }
    const QString search = filter.search.trimmed();
    if (!search.isEmpty()) {
        // Case-insensitive: SQLite's LIKE folds ASCII, PostgreSQL's ILIKE.
        const QString pattern = likePattern(search);
        bool numeric = false;
        const qint64 id = search.toLongLong(&numeric);
        where.sql += QStringLiteral(" AND (%1 = ? OR %2 %3 ? ESCAPE '\\' OR %2 IN (SELECT id "
                                    "FROM upload_sessions WHERE file_name %3 ? ESCAPE '\\'))")
                         .arg(column("id"), column("session_id"), sql.like());
        where.values.append(numeric ? id : qint64(-1));
        where.values.append(pattern);
        where.values.append(pattern);
    }
    return where;
}

QString rowSelect(const SqlDialect &sql)
{
    return QStringLiteral("SELECT j.id, j.user_id, u.name, j.session_id, s.file_name, ") +
           sql.jsonField(QStringLiteral("j.payload"), QStringLiteral("dataset")) +
           QStringLiteral(
               ", j.type, j.status, j.priority, j.attempts, j.max_attempts, j.cancel_requested, "
               "j.progress, j.error, j.created_at, j.started_at, j.finished_at FROM jobs j "
               "LEFT JOIN users u ON u.id = j.user_id "
               "LEFT JOIN upload_sessions s ON s.id = j.session_id");
}

ConsoleJobRow rowFrom(const QSqlQuery &q)
{
    ConsoleJobRow row;
    row.id = q.value(0).toLongLong();
    row.userId = q.value(1).toLongLong();
    row.userName = q.value(2).toString();
    row.sessionId = q.value(3).toString();
    row.fileName = q.value(4).toString();
    row.dataset = q.value(5).toString();
    row.type = q.value(6).toString();
    row.status = jobStatusFromName(q.value(7).toString()).value_or(JobStatus::Pending);
    row.priority = q.value(8).toInt();
    row.attempts = q.value(9).toInt();
    row.maxAttempts = q.value(10).toInt();
    row.cancelRequested = q.value(11).toLongLong() != 0;
    const QJsonObject progress = jsonObject(q.value(12));
    row.progressDone = qint64(progress.value(QStringLiteral("done")).toDouble());
    row.progressTotal = qint64(progress.value(QStringLiteral("total")).toDouble());
    row.progressUnit = progress.value(QStringLiteral("unit")).toString();
    row.error = q.value(13).toString();
    row.createdAt = q.value(14).toLongLong();
    row.startedAt = q.value(15).toLongLong();
    row.finishedAt = q.value(16).toLongLong();
    return row;
}

void bindAll(QSqlQuery &q, const QVariantList &values)
{
    for (const QVariant &value : values)
        q.addBindValue(value);
}

// The jobs a bulk action applies to, inside applyConsoleAction's transaction: runs statements
// that end with the filter's WHERE clause.
class FilteredJobs
{
public:
    FilteredJobs(const SqlDialect &sql, QSqlDatabase db, Where where)
        : m_sql(sql), m_db(std::move(db)), m_where(std::move(where)), m_q(m_db)
    {
        m_q.setForwardOnly(true);
    }

    const SqlDialect &sql() const { return m_sql; }
    QSqlDatabase &db() { return m_db; }
    const QString &where() const { return m_where.sql; }

    // `sql` with the values `before` bound ahead of the filter's; its rows and row count are
    // the answer's.
    Result<QSqlQuery *> run(const QString &sql, const QVariantList &before, const QString &doing)
    {
        if (!m_q.prepare(sql))
            return sqlError(m_q, doing);
        bindAll(m_q, before);
        bindAll(m_q, m_where.values);
        if (!m_q.exec())
            return sqlError(m_q, doing);
        return &m_q;
    }

private:
    const SqlDialect &m_sql;
    QSqlDatabase m_db;
    Where m_where;
    QSqlQuery m_q;
};

// Runs one statement inside the surrounding transaction, tolerating its failure (a unique key
// already queued): only it is undone. In PostgreSQL a failed statement otherwise aborts the
// whole transaction, so it runs under a savepoint; SQLite just skips it.
bool execTolerant(FilteredJobs &jobs, QSqlQuery &statement)
{
    if (!jobs.sql().isPostgres())
        return statement.exec();
    QSqlQuery savepoint(jobs.db());
    if (!savepoint.exec(QStringLiteral("SAVEPOINT console_row")))
        return false;
    if (statement.exec()) {
        savepoint.exec(QStringLiteral("RELEASE SAVEPOINT console_row"));
        return true;
    }
    savepoint.exec(QStringLiteral("ROLLBACK TO SAVEPOINT console_row"));
    return false;
}

// Cancel: pending jobs end cancelled; running ones are asked to stop (their ids are answered,
// for what follows a cancel).
Result<ConsoleBulkResult> cancelJobs(FilteredJobs &jobs, qint64 now)
{
    ConsoleBulkResult result;
    auto pending = jobs.run(QStringLiteral("UPDATE jobs SET status = 'cancelled', finished_at = ?, "
                                           "error = 'Cancelled before it started.' "
                                           "WHERE status = 'pending' AND ") +
                                jobs.where(),
                            {now}, QStringLiteral("cancelling jobs"));
    if (!pending)
        return pending.error();
    result.changed = (*pending)->numRowsAffected();
    auto running = jobs.run(QStringLiteral("UPDATE jobs SET cancel_requested = 1 "
                                           "WHERE status = 'running' AND ") +
                                jobs.where() + QStringLiteral(" RETURNING id"),
                            {}, QStringLiteral("cancelling running jobs"));
    if (!running)
        return running.error();
    while ((*running)->next())
        result.runningCancelled.append((*running)->value(0).toLongLong());
    (*running)->finish();
    result.changed += int(result.runningCancelled.size());
    return result;
}

// Retry: failed, dead and cancelled jobs go back to pending, each with the next fair rank of
// its user at its priority, as retryJob. `nextFairRank`: the store's (SqlStore::nextFairRank).
Result<ConsoleBulkResult>
retryJobs(FilteredJobs &jobs,
          qint64 now,
          const std::function<Result<qint64>(qint64 userId, int priority)> &nextFairRank)
{
    // On PostgreSQL the rows are locked: another node's console (or dispatcher) cannot change
    // them meanwhile.
    auto found = jobs.run(QStringLiteral("SELECT id, user_id, priority FROM jobs WHERE status IN "
                                         "('failed', 'dead', 'cancelled') AND ") +
                              jobs.where() + QStringLiteral(" ORDER BY id") + jobs.sql().rowLock(),
                          {}, QStringLiteral("finding jobs to retry"));
    if (!found)
        return found.error();
    struct Target
    {
        qint64 id, userId;
        int priority;
    };
    QList<Target> targets;
    while ((*found)->next()) {
        targets.append({(*found)->value(0).toLongLong(), (*found)->value(1).toLongLong(),
                        (*found)->value(2).toInt()});
    }
    (*found)->finish();
    ConsoleBulkResult result;
    QHash<QPair<qint64, int>, qint64> ranks;
    QSqlQuery update(jobs.db());
    update.prepare(QStringLiteral(
        "UPDATE jobs SET status = 'pending', attempts = 0, run_at = ?, fair_rank = ?, "
        "error = NULL, result = NULL, progress = NULL, finished_at = NULL, "
        "cancel_requested = 0 WHERE id = ?"));
    for (const Target &target : std::as_const(targets)) {
        const auto key = qMakePair(target.userId, target.priority);
        auto it = ranks.find(key);
        if (it == ranks.end()) {
            auto next = nextFairRank(target.userId, target.priority);
            if (!next)
                return next.error();
            it = ranks.insert(key, *next - 1);
        }
        update.bindValue(0, now);
        update.bindValue(1, *it + 1);
        update.bindValue(2, target.id);
        // Refused when another job with its unique key is queued: that job stays as it is.
        if (execTolerant(jobs, update)) {
            ++*it;
            ++result.changed;
        }
    }
    return result;
}

// Set priority: every job not already at it.
Result<ConsoleBulkResult> setPriorities(FilteredJobs &jobs, int value)
{
    const int priority = qBound(MinPriority, value, MaxPriority);
    auto set = jobs.run(QStringLiteral("UPDATE jobs SET priority = ? WHERE priority <> ? AND ") +
                            jobs.where(),
                        {priority, priority}, QStringLiteral("setting priorities"));
    if (!set)
        return set.error();
    return ConsoleBulkResult{(*set)->numRowsAffected(), {}};
}

// Adjust priority: each job's by `value`, within the bounds; a job already at the bound does
// not count.
Result<ConsoleBulkResult> adjustPriorities(FilteredJobs &jobs, int value)
{
    const SqlDialect &sql = jobs.sql();
    const QString adjusted = QStringLiteral("%1(%2, %3(%4, priority + CAST(? AS INTEGER)))")
                                 .arg(sql.greatest())
                                 .arg(MinPriority)
                                 .arg(sql.least())
                                 .arg(MaxPriority);
    auto changed = jobs.run(QStringLiteral("UPDATE jobs SET priority = ") + adjusted +
                                QStringLiteral(" WHERE ") + adjusted +
                                QStringLiteral(" <> priority AND ") + jobs.where(),
                            {value, value}, QStringLiteral("changing priorities"));
    if (!changed)
        return changed.error();
    return ConsoleBulkResult{(*changed)->numRowsAffected(), {}};
}

// Delete finished: job_attempts, job_row_errors and migration_checkpoints go with their job (ON
// DELETE CASCADE in the schema; SQLite's foreign_keys is on for every connection).
Result<ConsoleBulkResult> deleteFinished(FilteredJobs &jobs)
{
    auto deleted = jobs.run(QStringLiteral("DELETE FROM jobs WHERE ") + JobDeleteSql::deletable +
                                QStringLiteral(" AND ") + jobs.where(),
                            {}, QStringLiteral("deleting finished jobs"));
    if (!deleted)
        return deleted.error();
    return ConsoleBulkResult{(*deleted)->numRowsAffected(), {}};
}

} // namespace

Result<QList<ConsoleJobRow>> SqlStore::consoleJobs(const ConsoleJobQuery &query)
{
    auto db = this->db();
    if (!db)
        return db.error();
    Where where = whereOf(m_sql, query.filter, QStringLiteral("j."));
    QString order;
    const bool start = query.afterId <= 0;
    switch (query.sort) {
    case ConsoleJobSort::NewestFirst:
        if (!start) {
            where.sql += QStringLiteral(" AND j.id < ?");
            where.values.append(query.afterId);
        }
        order = QStringLiteral("j.id DESC");
        break;
    case ConsoleJobSort::OldestFirst:
        if (!start) {
            where.sql += QStringLiteral(" AND j.id > ?");
            where.values.append(query.afterId);
        }
        order = QStringLiteral("j.id");
        break;
    case ConsoleJobSort::PriorityHigh:
        if (!start) {
            where.sql += QStringLiteral(" AND (j.priority, j.id) < (?, ?)");
            where.values << query.afterPriority << query.afterId;
        }
        order = QStringLiteral("j.priority DESC, j.id DESC");
        break;
    case ConsoleJobSort::PriorityLow:
        if (!start) {
            where.sql += QStringLiteral(" AND (j.priority, j.id) > (?, ?)");
            where.values << query.afterPriority << query.afterId;
        }
        order = QStringLiteral("j.priority, j.id");
        break;
    }
    QSqlQuery q(*db);
    q.setForwardOnly(true);
    if (!q.prepare(rowSelect(m_sql) + QStringLiteral(" WHERE ") + where.sql +
                   QStringLiteral(" ORDER BY ") + order + QStringLiteral(" LIMIT ?")))
        return sqlError(q, QStringLiteral("listing jobs for the console"));
    bindAll(q, where.values);
    q.addBindValue(qMax(1, query.limit));
    if (!q.exec())
        return sqlError(q, QStringLiteral("listing jobs for the console"));
    QList<ConsoleJobRow> rows;
    rows.reserve(qMax(1, query.limit));
    while (q.next())
        rows.append(rowFrom(q));
    return rows;
}

Result<QList<ConsoleJobRow>> SqlStore::consoleJobsById(const QList<qint64> &ids)
{
    if (ids.isEmpty())
        return QList<ConsoleJobRow>{};
    auto db = this->db();
    if (!db)
        return db.error();
    ConsoleJobFilter filter;
    filter.ids = ids;
    const Where where = whereOf(m_sql, filter, QStringLiteral("j."));
    QSqlQuery q(*db);
    q.setForwardOnly(true);
    if (!q.prepare(rowSelect(m_sql) + QStringLiteral(" WHERE ") + where.sql))
        return sqlError(q, QStringLiteral("re-reading jobs for the console"));
    bindAll(q, where.values);
    if (!q.exec())
        return sqlError(q, QStringLiteral("re-reading jobs for the console"));
    QList<ConsoleJobRow> rows;
    while (q.next())
        rows.append(rowFrom(q));
    return rows;
}

Result<qint64> SqlStore::countConsoleJobs(const ConsoleJobFilter &filter)
{
    auto db = this->db();
    if (!db)
        return db.error();
    const Where where = whereOf(m_sql, filter, QString());
    QSqlQuery q(*db);
    q.setForwardOnly(true);
    if (!q.prepare(QStringLiteral("SELECT count(*) FROM jobs WHERE ") + where.sql))
        return sqlError(q, QStringLiteral("counting jobs for the console"));
    bindAll(q, where.values);
    if (!q.exec() || !q.next())
        return sqlError(q, QStringLiteral("counting jobs for the console"));
    return q.value(0).toLongLong();
}

Result<ConsoleBulkResult> SqlStore::applyConsoleAction(const ConsoleJobFilter &filter,
                                                       ConsoleBulkAction action,
                                                       int value,
                                                       qint64 now)
{
    WriteTransaction write(*this);
    if (auto begun = write.begin(); !begun)
        return begun.error();
    FilteredJobs jobs(m_sql, write.db(), whereOf(m_sql, filter, QString()));
    Result<ConsoleBulkResult> result = ConsoleBulkResult{};
    switch (action) {
    case ConsoleBulkAction::Cancel:
        result = cancelJobs(jobs, now);
        // The nodes running them are told (cluster: at commit), as cancelJob does for one job.
        if (result && !result->runningCancelled.isEmpty()) {
            if (auto told = cancelRequestedOf(write.db(), result->runningCancelled); !told)
                return told.error();
        }
        break;
    case ConsoleBulkAction::Retry:
        result = retryJobs(jobs, now, [this](qint64 userId, int priority) {
            return nextFairRank(userId, priority);
        });
        break;
    case ConsoleBulkAction::SetPriority:
        result = setPriorities(jobs, value);
        break;
    case ConsoleBulkAction::AdjustPriority:
        result = adjustPriorities(jobs, value);
        break;
    case ConsoleBulkAction::DeleteFinished:
        if (auto kept = beforeDeletingJobs(write.db()); !kept)
            return kept.error();
        result = deleteFinished(jobs);
        break;
    }
    if (!result)
        return result.error();
    if (auto committed = write.commit(); !committed)
        return committed.error();
    return result;
}

} // namespace Ferry
