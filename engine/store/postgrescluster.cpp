// PostgresStore: the dialect's own part of the cluster block (the rest is sqlcluster.cpp): the
// global concurrency limit's count, under an advisory lock, and ending a dead node's sessions.
#include "postgresstore.h"

#include "store/postgresarrays.h"
#include "store/sqlhelpers.h"

#include <QSqlQuery>

namespace Ferry {

namespace {

// pg_advisory_xact_lock key of the global concurrency limit (the migrator uses 7262011).
constexpr qint64 ClusterClaimLockKey = 7262012;

// Binds: the dead nodes' session names (a text[] literal). Their sessions are ended: one cut off
// in the middle of a COPY would keep its job's row locked (nothing times out a session waiting
// for its client), and the rescue would skip that job until the node came back. Only sessions
// of this role, which it may always end.
const QString s_endDeadSessions =
    QStringLiteral("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                   "WHERE datname = current_database() AND usename = current_user "
                   "AND pid <> pg_backend_pid() AND application_name = ANY(?::text[])");

} // namespace

Result<int> PostgresStore::endDeadNodeSessions(QSqlDatabase &db, const QStringList &nodes)
{
    TextArray sessions;
    for (const QString &node : nodes)
        sessions.add(DatabaseConfig::sessionNameFor(node));
    QSqlQuery ended(db);
    ended.prepare(s_endDeadSessions);
    ended.addBindValue(sessions.text());
    if (!ended.exec() || !ended.next())
        return sqlError(ended, QStringLiteral("ending the sessions of dead nodes"));
    const int count = ended.value(0).toInt();
    ended.finish();
    return count;
}

Result<void> PostgresStore::lockCappedClaims(QSqlDatabase &db)
{
    // Taken first in the claim's transaction, before any row lock (so it cannot join a circle
    // of waits), and again harmlessly when both caps are set.
    QSqlQuery q(db);
    if (!q.exec(QStringLiteral("SELECT pg_advisory_xact_lock(%1)").arg(ClusterClaimLockKey)))
        return sqlError(q, QStringLiteral("locking the claim's caps"));
    return {};
}

Result<int> PostgresStore::clusterClaimAllowance(QSqlDatabase &db, int clusterMaxRunning)
{
    // Inside the claim's transaction: the lock is held until it commits, so two nodes cannot
    // both count the same free slots.
    if (auto locked = lockCappedClaims(db); !locked)
        return locked.error();
    QSqlQuery q(db);
    if (!q.exec(QStringLiteral("SELECT count(*) FROM jobs WHERE status = 'running'")) || !q.next())
        return sqlError(q, QStringLiteral("counting running jobs"));
    return int(qMax<qint64>(0, qint64(clusterMaxRunning) - q.value(0).toLongLong()));
}

} // namespace Ferry
