-- Nodes and the leader lease (engine/cluster/, docs/architecture.md "Cluster"). Several Ferry
-- nodes may share one PostgreSQL database; SQLite has exactly one engine, which still registers
-- here so the console's Nodes page shows it.
-- One row per running node, upserted by its heartbeat (every ~2 s) and deleted when it stops.
-- A node whose heartbeat is older than half a lease is dead: the leader rescues its jobs and
-- deletes its row.
CREATE TABLE nodes (
  id TEXT PRIMARY KEY,             -- engine/core/nodeid: host:pid:random, the jobs' lease_owner
  address TEXT NOT NULL,           -- where its HTTP endpoint listens ("" when not listening)
  version TEXT NOT NULL,
  started_at INTEGER NOT NULL,     -- epoch ms
  heartbeat_at INTEGER NOT NULL,   -- epoch ms of its last heartbeat
  running_jobs INTEGER NOT NULL,
  rss_bytes INTEGER NOT NULL       -- -1 when unknown
);
-- Named leases with an expiry; 'leader' elects the node that runs once-per-cluster maintenance.
-- Taken or renewed with INSERT ... ON CONFLICT DO UPDATE ... WHERE expires_at < now OR holder = me.
CREATE TABLE cluster_leases (
  name TEXT PRIMARY KEY,
  holder TEXT NOT NULL,
  expires_at INTEGER NOT NULL      -- epoch ms
);
