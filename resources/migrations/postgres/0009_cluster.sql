-- PostgreSQL translation of sqlite/0009_cluster.sql: nodes and the leader lease (engine/cluster/).
-- Times and counts are BIGINT (epoch ms overflow INTEGER).
CREATE TABLE nodes (
  id TEXT PRIMARY KEY,
  address TEXT NOT NULL,
  version TEXT NOT NULL,
  started_at BIGINT NOT NULL,
  heartbeat_at BIGINT NOT NULL,
  running_jobs BIGINT NOT NULL,
  rss_bytes BIGINT NOT NULL
);
CREATE TABLE cluster_leases (
  name TEXT PRIMARY KEY,
  holder TEXT NOT NULL,
  expires_at BIGINT NOT NULL
);
