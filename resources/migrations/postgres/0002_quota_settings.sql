-- PostgreSQL translation of sqlite/0002_quota_settings.sql.
-- Monthly quota usage, persisted settings, and the fair-queuing clock.
CREATE TABLE quota_usage (
  user_id BIGINT NOT NULL REFERENCES users(id),
  period TEXT NOT NULL, -- calendar month, UTC: 'YYYY-MM'
  uploads BIGINT NOT NULL DEFAULT 0,
  bytes BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (user_id, period)
);

CREATE TABLE settings (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);

-- Start-time fair queuing: per priority, the highest fair rank handed out so far. A user's new
-- job ranks just after it (or after that user's own pending jobs), so users take turns.
CREATE TABLE fair_clock (
  priority INTEGER PRIMARY KEY,
  v BIGINT NOT NULL
);
