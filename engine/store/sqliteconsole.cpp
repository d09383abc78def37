// SqliteStore: the operator console's Jobs page (store/consolerecords.h): keyset pages of every
// user's jobs, counts and bulk actions by filter. Each filter and sort walks an index of
// 0008_console.sql; search text is the exception (a scan, which a page stops early).
#include "sqlitestore.h"

#include "store/jobdeletesql.h"
#include "store/sqlhelpers.h"
#include "store/sqlitejobids.h"
#include "store/sqlvalues.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QSqlQuery>

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

Where whereOf(const ConsoleJobFilter &filter, const QString &alias)
{
    Where where;
    where.sql = QStringLiteral("1");
    const auto column = [&alias](const char *name) -> QString {
        return alias + QLatin1String(name);
    };
    if (filter.status) {
        // The jobs_status index is NOCASE (0008_console.sql): only this comparison uses it.
        where.sql += QStringLiteral(" AND %1 COLLATE NOCASE = ?").arg(column("status"));
        where.values.append(jobStatusName(*filter.status));
    }
    if (filter.userId) {
        where.sql += QStringLiteral(" AND %1 = ?").arg(column("user_id"));
        where.values.append(*filter.userId);
    }
    if (filter.dataset) {
        // The expression of the jobs_dataset index, exactly.
        where.sql += QStringLiteral(" AND CASE WHEN json_valid(%1) THEN json_extract(%1, "
                                    "'$.dataset') END = ?")
                         .arg(column("payload"));
        where.values.append(*filter.dataset);
    }
    if (filter.ids) {
        QJsonArray ids;
        for (qint64 id : *filter.ids)
            ids.append(double(id));
        where.sql +=
            QStringLiteral(" AND %1 IN (SELECT value FROM json_each(?))").arg(column("id"));
        where.values.append(QString::fromUtf8(QJsonDocument(ids).toJson(QJsonDocument::Compact)));
    }
    if (filter.sessionId) {
        where.sql += QStringLiteral(" AND %1 = ?").arg(column("session_id"));
        where.values.append(*filter.sessionId);
    }
    const QString search = filter.search.trimmed();
    if (!search.isEmpty()) {
        const QString pattern = likePattern(search);
        bool numeric = false;
        const qint64 id = search.toLongLong(&numeric);
        where.sql += QStringLiteral(" AND (%1 = ? OR %2 LIKE ? ESCAPE '\\' OR %2 IN (SELECT id "
                                    "FROM upload_sessions WHERE file_name LIKE ? ESCAPE '\\'))")
                         .arg(column("id"), column("session_id"));
        where.values.append(numeric ? id : qint64(-1));
        where.values.append(pattern);
        where.values.append(pattern);
    }
    return where;
}

const QString s_rowSelect = QStringLiteral(
    "SELECT j.id, j.user_id, u.name, j.session_id, s.file_name, "
    "CASE WHEN json_valid(j.payload) THEN json_extract(j.payload, '$.dataset') END, j.type, "
    "j.status, j.priority, j.attempts, j.max_attempts, j.cancel_requested, j.progress, j.error, "
    "j.created_at, j.started_at, j.finished_at FROM jobs j "
    "LEFT JOIN users u ON u.id = j.user_id LEFT JOIN upload_sessions s ON s.id = j.session_id");

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
    row.cancelRequested = q.value(11).toBool();
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

} // namespace

Result<QList<ConsoleJobRow>> SqliteStore::consoleJobs(const ConsoleJobQuery &query)
{
    auto db = this->db();
    if (!db)
        return db.error();
    Where where = whereOf(query.filter, QStringLiteral("j."));
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
    if (!q.prepare(s_rowSelect + QStringLiteral(" WHERE ") + where.sql +
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

Result<QList<ConsoleJobRow>> SqliteStore::consoleJobsById(const QList<qint64> &ids)
{
    if (ids.isEmpty())
        return QList<ConsoleJobRow>{};
    auto db = this->db();
    if (!db)
        return db.error();
    ConsoleJobFilter filter;
    filter.ids = ids;
    const Where where = whereOf(filter, QStringLiteral("j."));
    QSqlQuery q(*db);
    q.setForwardOnly(true);
    if (!q.prepare(s_rowSelect + QStringLiteral(" WHERE ") + where.sql))
        return sqlError(q, QStringLiteral("re-reading jobs for the console"));
    bindAll(q, where.values);
    if (!q.exec())
        return sqlError(q, QStringLiteral("re-reading jobs for the console"));
    QList<ConsoleJobRow> rows;
    while (q.next())
        rows.append(rowFrom(q));
    return rows;
}

Result<qint64> SqliteStore::countConsoleJobs(const ConsoleJobFilter &filter)
{
    auto db = this->db();
    if (!db)
        return db.error();
    const Where where = whereOf(filter, QString());
    QSqlQuery q(*db);
    q.setForwardOnly(true);
    if (!q.prepare(QStringLiteral("SELECT count(*) FROM jobs WHERE ") + where.sql))
        return sqlError(q, QStringLiteral("counting jobs for the console"));
    bindAll(q, where.values);
    if (!q.exec() || !q.next())
        return sqlError(q, QStringLiteral("counting jobs for the console"));
    return q.value(0).toLongLong();
}

Result<ConsoleBulkResult> SqliteStore::applyConsoleAction(const ConsoleJobFilter &filter,
                                                          ConsoleBulkAction action,
                                                          int value,
                                                          qint64 now)
{
    // In-process writers queue here, not in SQLite's busy handler (see m_writeMutex).
    const std::lock_guard writer(m_writeMutex);
    auto db = this->db();
    if (!db)
        return db.error();
    SqlTransaction transaction(*db);
    if (auto begun = transaction.begin(); !begun)
        return begun.error();
    const Where where = whereOf(filter, QString());
    ConsoleBulkResult result;
    QSqlQuery q(*db);
    q.setForwardOnly(true);
    const auto run = [&](const QString &sql, const QVariantList &before,
                         const QString &doing) -> Result<void> {
        if (!q.prepare(sql))
            return sqlError(q, doing);
        bindAll(q, before);
        bindAll(q, where.values);
        if (!q.exec())
            return sqlError(q, doing);
        return {};
    };
    switch (action) {
    case ConsoleBulkAction::Cancel: {
        if (auto done = run(QStringLiteral("UPDATE jobs SET status = 'cancelled', finished_at = ?, "
                                           "error = 'Cancelled before it started.' "
                                           "WHERE status = 'pending' AND ") +
                                where.sql,
                            {now}, QStringLiteral("cancelling jobs"));
            !done)
            return done.error();
        result.changed = q.numRowsAffected();
        if (auto done = run(QStringLiteral("UPDATE jobs SET cancel_requested = 1 "
                                           "WHERE status = 'running' AND ") +
                                where.sql + QStringLiteral(" RETURNING id"),
                            {}, QStringLiteral("cancelling running jobs"));
            !done)
            return done.error();
        while (q.next())
            result.runningCancelled.append(q.value(0).toLongLong());
        q.finish();
        result.changed += int(result.runningCancelled.size());
        break;
    }
    case ConsoleBulkAction::Retry: {
        // Each retried job gets the next fair rank of its user at its priority, as retryJob.
        if (auto done = run(QStringLiteral("SELECT id, user_id, priority FROM jobs WHERE status IN "
                                           "('failed', 'dead', 'cancelled') AND ") +
                                where.sql + QStringLiteral(" ORDER BY id"),
                            {}, QStringLiteral("finding jobs to retry"));
            !done)
            return done.error();
        struct Target
        {
            qint64 id, userId;
            int priority;
        };
        QList<Target> targets;
        while (q.next())
            targets.append({q.value(0).toLongLong(), q.value(1).toLongLong(), q.value(2).toInt()});
        q.finish();
        QHash<QPair<qint64, int>, qint64> ranks;
        QSqlQuery update(*db);
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
            if (update.exec()) {
                ++*it;
                ++result.changed;
            }
        }
        break;
    }
    case ConsoleBulkAction::SetPriority: {
        const int priority = qBound(MinPriority, value, MaxPriority);
        if (auto done = run(
                QStringLiteral("UPDATE jobs SET priority = ? WHERE priority <> ? AND ") + where.sql,
                {priority, priority}, QStringLiteral("setting priorities"));
            !done)
            return done.error();
        result.changed = q.numRowsAffected();
        break;
    }
    case ConsoleBulkAction::AdjustPriority: {
        const QString adjusted =
            QStringLiteral("max(%1, min(%2, priority + ?))").arg(MinPriority).arg(MaxPriority);
        if (auto done = run(QStringLiteral("UPDATE jobs SET priority = ") + adjusted +
                                QStringLiteral(" WHERE ") + adjusted +
                                QStringLiteral(" <> priority AND ") + where.sql,
                            {value, value}, QStringLiteral("changing priorities"));
            !done)
            return done.error();
        result.changed = q.numRowsAffected();
        break;
    }
    case ConsoleBulkAction::DeleteFinished: {
        // job_attempts, job_row_errors and migration_checkpoints go with their job (ON DELETE
        // CASCADE; foreign_keys is on for every connection).
        if (!q.exec(SqliteJobIds::keepLastId))
            return sqlError(q, QStringLiteral("keeping the last job id"));
        if (auto done = run(QStringLiteral("DELETE FROM jobs WHERE ") + JobDeleteSql::deletable +
                                QStringLiteral(" AND ") + where.sql,
                            {}, QStringLiteral("deleting finished jobs"));
            !done)
            return done.error();
        result.changed = q.numRowsAffected();
        break;
    }
    }
    if (auto committed = transaction.commit(); !committed)
        return committed.error();
    return result;
}

} // namespace Ferry
