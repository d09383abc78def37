-- PostgreSQL translation of sqlite/0007_idempotency.sql.
-- Idempotency keys of POST /api/v1/uploads (Stripe's semantics): a retry with the same key and
-- the same request gets the first answer again (same session and job); the same key with another
-- request is refused. Kept 24 hours (pruned as new keys come in).
CREATE TABLE idempotency_keys (
  user_id BIGINT NOT NULL REFERENCES users(id),
  key TEXT NOT NULL,
  request_hash TEXT NOT NULL, -- hex SHA-256 of method, path, query, media type and content
  blob_id TEXT NOT NULL,      -- the content's blob: a concurrent duplicate must not delete it
  session_id TEXT,            -- NULL while the first request is still in progress
  job_id BIGINT,
  response TEXT,              -- the JSON body of the first answer; NULL while in progress
  created_at BIGINT NOT NULL,
  PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys(created_at);
