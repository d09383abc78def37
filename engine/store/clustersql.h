#pragma once

// SQL shared by SqliteStore and PostgresStore for the cluster block of the Store interface
// (sqlitecluster.cpp, postgrescluster.cpp): both dialects accept it as written.

#include "store/clusterrecords.h"

#include <QSqlQuery>
#include <QString>

namespace Ferry::ClusterSql {

inline const QString upsertNode = QStringLiteral(
    "INSERT INTO nodes (id, address, version, started_at, heartbeat_at, running_jobs, rss_bytes) "
    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET address = excluded.address, "
    "version = excluded.version, started_at = excluded.started_at, "
    "heartbeat_at = excluded.heartbeat_at, running_jobs = excluded.running_jobs, "
    "rss_bytes = excluded.rss_bytes");

inline const QString removeNode = QStringLiteral("DELETE FROM nodes WHERE id = ?");

// Binds: lease name, now.
inline const QString nodes = QStringLiteral(
    "SELECT n.id, n.address, n.version, n.started_at, n.heartbeat_at, n.running_jobs, "
    "n.rss_bytes, CASE WHEN l.holder IS NULL THEN 0 ELSE 1 END FROM nodes n "
    "LEFT JOIN cluster_leases l ON l.name = ? AND l.holder = n.id AND l.expires_at >= ?");

// Binds: name, holder, expiresAt, now. Returns a row only when holder holds the lease after it:
// a live lease of another holder makes the DO UPDATE's WHERE false, so nothing is returned.
inline const QString acquireLease = QStringLiteral(
    "INSERT INTO cluster_leases (name, holder, expires_at) VALUES (?, ?, ?) "
    "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at "
    "WHERE cluster_leases.expires_at < ? OR cluster_leases.holder = excluded.holder "
    "RETURNING holder");

inline const QString releaseLease =
    QStringLiteral("DELETE FROM cluster_leases WHERE name = ? AND holder = ?");

// Binds: heartbeatBefore, self.
inline const QString deadNodes =
    QStringLiteral("SELECT id FROM nodes WHERE heartbeat_at < ? AND id <> ?");
// Binds: expired (now - 1), heartbeatBefore, self. The dead nodes' leases end now, so the
// ordinary expired-lease rescue takes their jobs.
inline const QString expireDeadLeases = QStringLiteral(
    "UPDATE jobs SET lease_expires_at = ? WHERE status = 'running' AND lease_owner IN "
    "(SELECT id FROM nodes WHERE heartbeat_at < ? AND id <> ?)");
// Binds: the dead nodes' session names (a text[] literal). Their sessions are ended: one cut off
// in the middle of a COPY would keep its job's row locked (nothing times out a session waiting
// for its client), and the rescue would skip that job until the node came back. Only sessions
// of this role, which it may always end.
inline const QString endDeadSessions =
    QStringLiteral("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                   "WHERE datname = current_database() AND usename = current_user "
                   "AND pid <> pg_backend_pid() AND application_name = ANY(?::text[])");
// Binds: heartbeatBefore, self.
inline const QString deleteDeadNodes =
    QStringLiteral("DELETE FROM nodes WHERE heartbeat_at < ? AND id <> ?");

inline const QString countRunning =
    QStringLiteral("SELECT count(*) FROM jobs WHERE status = 'running'");

// A null QString binds as SQL NULL (QPSQL); the columns are NOT NULL, empty means unknown.
inline QString notNull(const QString &text)
{
    return text.isNull() ? QStringLiteral("") : text;
}

inline void bindNode(QSqlQuery &q, const NodeRecord &node)
{
    q.addBindValue(node.id);
    q.addBindValue(notNull(node.address));
    q.addBindValue(notNull(node.version));
    q.addBindValue(node.startedAt);
    q.addBindValue(node.heartbeatAt);
    q.addBindValue(qint64(node.runningJobs));
    q.addBindValue(node.rssBytes);
}

inline NodeRecord nodeFrom(const QSqlQuery &q)
{
    NodeRecord node;
    node.id = q.value(0).toString();
    node.address = q.value(1).toString();
    node.version = q.value(2).toString();
    node.startedAt = q.value(3).toLongLong();
    node.heartbeatAt = q.value(4).toLongLong();
    node.runningJobs = q.value(5).toInt();
    node.rssBytes = q.value(6).toLongLong();
    node.leader = q.value(7).toInt() != 0;
    return node;
}

} // namespace Ferry::ClusterSql
