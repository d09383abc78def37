-- PostgreSQL translation of sqlite/0005_tus.sql.
-- Resumable (tus 1.0.0) uploads in progress. The bytes received so far live in
-- <data-dir>/tus/<id>.part; offset is how many of them are durable (fsync'd). Once offset reaches
-- length the content is committed into the blob store and session_id/job_id name what it became.
-- quota is the upload's reservation (JSON) while it is held. Rows expire 24 h after updated_at.
-- OFFSET is a reserved word in PostgreSQL: the column must be written "offset" (double quotes) in
-- every statement; SQLite accepts the quoted form too.
CREATE TABLE tus_uploads (
  id TEXT PRIMARY KEY,
  user_id BIGINT NOT NULL REFERENCES users(id),
  length BIGINT NOT NULL,
  "offset" BIGINT NOT NULL DEFAULT 0,
  metadata TEXT NOT NULL DEFAULT '{}',
  quota TEXT,
  session_id TEXT,
  job_id BIGINT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX tus_uploads_updated ON tus_uploads(updated_at);
