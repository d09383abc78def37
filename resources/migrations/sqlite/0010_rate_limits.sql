-- The same table as postgres/0010_rate_limits.sql, so both dialects share their version numbers.
-- Unused on SQLite: one SQLite store means one engine process, whose in-memory rate limiter
-- (engine/ratelimit/ratelimiter.h) already sees every request.
CREATE TABLE rate_limits (
  key TEXT PRIMARY KEY,
  tat NUMERIC NOT NULL,
  reset_at INTEGER NOT NULL
);
