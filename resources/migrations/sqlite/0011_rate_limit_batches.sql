-- The cluster-wide rate limit takes a batch of requests' worth of a client's quota per statement
-- (engine/ratelimit/sharedratelimit.h): the statement leaves how many it took in `granted`, which
-- RETURNING reads (it sees only the new row).
-- Unused on SQLite, as rate_limits itself (0010); kept so both dialects share their versions.
ALTER TABLE rate_limits ADD COLUMN granted INTEGER NOT NULL DEFAULT 0;
