-- PostgreSQL translation of sqlite/0006_metrics.sql.
-- The resource monitor's downsampled history (engine/monitor/), so the console's charts survive a
-- restart: resolution 1 holds one-second samples for the last 15 minutes, resolution 60 one-minute
-- rows for the last 24 hours. The monitor prunes each resolution to its window as it writes.
-- A value the probe could not read is -1.
CREATE TABLE metric_samples (
  resolution INTEGER NOT NULL, -- seconds per row: 1 or 60
  ts BIGINT NOT NULL,          -- Unix epoch ms; a minute row's is the start of the minute
  rss_bytes BIGINT NOT NULL,
  cpu_percent DOUBLE PRECISION NOT NULL,
  mem_total_bytes BIGINT NOT NULL,
  mem_available_bytes BIGINT NOT NULL,
  free_disk_bytes BIGINT NOT NULL,
  active_jobs INTEGER NOT NULL,
  concurrency_limit INTEGER NOT NULL,
  configured_max INTEGER NOT NULL,
  queue_depth BIGINT NOT NULL,
  jobs_completed_per_min DOUBLE PRECISION NOT NULL,
  http_requests_per_s DOUBLE PRECISION NOT NULL,
  http_429_per_s DOUBLE PRECISION NOT NULL,
  PRIMARY KEY (resolution, ts)
);
