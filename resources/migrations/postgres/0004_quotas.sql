-- PostgreSQL translation of sqlite/0004_quotas.sql.
-- Monthly upload quotas: per-user limits (NULL: the tier's default) and the reservations of
-- uploads in flight. quota_usage (0002) holds what stored uploads used, per calendar month (UTC).
ALTER TABLE users ADD COLUMN uploads_limit BIGINT;
ALTER TABLE users ADD COLUMN bytes_limit BIGINT;

-- An upload being received holds a reservation: counted as used until it settles into
-- quota_usage (stored) or is deleted (refused, failed, dropped). At engine start every
-- reservation is a leftover of a crash and is deleted.
CREATE TABLE quota_reservations (
  id BIGSERIAL PRIMARY KEY,
  user_id BIGINT NOT NULL REFERENCES users(id),
  period TEXT NOT NULL,
  bytes BIGINT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE INDEX quota_reservations_user ON quota_reservations(user_id, period);
