-- Consoles that observe a cluster (`ferry --observe`, issue 16) register as nodes with role
-- 'observer': they run no job, serve no HTTP and never lead (postgres/0019 says more). On SQLite
-- only the one engine registers, a 'worker'.
ALTER TABLE nodes ADD COLUMN role TEXT NOT NULL DEFAULT 'worker';
-- The resource history per series (`node`: '' on SQLite, the node id on PostgreSQL), as in
-- postgres/0019. SQLite cannot change a primary key: the table is copied into a new one.
CREATE TABLE metric_samples_by_node (
  resolution INTEGER NOT NULL, -- seconds per row: 1 or 60
  node TEXT NOT NULL DEFAULT '',
  ts INTEGER NOT NULL,         -- Unix epoch ms; a minute row's is the start of the minute
  rss_bytes INTEGER NOT NULL,
  cpu_percent REAL NOT NULL,
  mem_total_bytes INTEGER NOT NULL,
  mem_available_bytes INTEGER NOT NULL,
  free_disk_bytes INTEGER NOT NULL,
  active_jobs INTEGER NOT NULL,
  concurrency_limit INTEGER NOT NULL,
  configured_max INTEGER NOT NULL,
  queue_depth INTEGER NOT NULL,
  jobs_completed_per_min REAL NOT NULL,
  http_requests_per_s REAL NOT NULL,
  http_429_per_s REAL NOT NULL,
  PRIMARY KEY (resolution, node, ts)
) WITHOUT ROWID;
INSERT INTO metric_samples_by_node (resolution, node, ts, rss_bytes, cpu_percent, mem_total_bytes,
  mem_available_bytes, free_disk_bytes, active_jobs, concurrency_limit, configured_max,
  queue_depth, jobs_completed_per_min, http_requests_per_s, http_429_per_s)
SELECT resolution, '', ts, rss_bytes, cpu_percent, mem_total_bytes, mem_available_bytes,
  free_disk_bytes, active_jobs, concurrency_limit, configured_max, queue_depth,
  jobs_completed_per_min, http_requests_per_s, http_429_per_s FROM metric_samples;
DROP TABLE metric_samples;
ALTER TABLE metric_samples_by_node RENAME TO metric_samples;
CREATE INDEX metric_samples_by_time ON metric_samples (resolution, ts);
