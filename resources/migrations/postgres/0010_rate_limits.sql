-- The cluster-wide per-IP rate limit (engine/ratelimit/postgresratelimit.cpp): one GCRA
-- "theoretical arrival time" per client key, shared by every node on this database and decided
-- by one INSERT ... ON CONFLICT DO UPDATE ... WHERE <allowed> per request.
-- UNLOGGED: no WAL, so an upsert per request stays cheap; after a server crash the table comes
-- back empty, which only gives every client a full quota again.
-- key: "<limit>/<window seconds> <client key>", so nodes (or a policy change) with another policy
-- never read each other's state. tat: in ticks of 1/limit ms since the epoch, exact for any limit
-- (NUMERIC: ms x limit passes 2^63 above ~5 million requests per window). reset_at: epoch ms when
-- the key's quota is fully back; housekeeping deletes the rows past it (no index: it is rewritten
-- by every request, and an index on it would make every update a non-HOT one).
CREATE UNLOGGED TABLE rate_limits (
  key TEXT PRIMARY KEY,
  tat NUMERIC NOT NULL,
  reset_at BIGINT NOT NULL
);
