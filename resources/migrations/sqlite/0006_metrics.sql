-- The resource monitor's downsampled history (engine/monitor/), so the console's charts survive a
-- restart: resolution 1 holds one-second samples for the last 15 minutes, resolution 60 one-minute
-- rows for the last 24 hours. The monitor prunes each resolution to its window as it writes.
-- A value the probe could not read is -1.
CREATE TABLE metric_samples (
  resolution INTEGER NOT NULL, -- seconds per row: 1 or 60
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
  PRIMARY KEY (resolution, ts)
) WITHOUT ROWID;
