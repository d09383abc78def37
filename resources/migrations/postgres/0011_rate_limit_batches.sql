-- The cluster-wide rate limit takes a batch of requests' worth of a client's quota per statement
-- (engine/ratelimit/sharedratelimit.h): the statement leaves how many it took in `granted`, which
-- RETURNING reads (it sees only the new row).
ALTER TABLE rate_limits ADD COLUMN granted BIGINT NOT NULL DEFAULT 0;
