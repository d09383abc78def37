-- Resumable (tus 1.0.0) uploads in progress. The bytes received so far live in
-- <data-dir>/tus/<id>.part; offset is how many of them are durable (fsync'd). Once offset reaches
-- length the content is committed into the blob store and session_id/job_id name what it became.
-- quota is the upload's reservation (JSON) while it is held. Rows expire 24 h after updated_at.
CREATE TABLE tus_uploads (
  id TEXT PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id),
  length INTEGER NOT NULL,
  offset INTEGER NOT NULL DEFAULT 0,
  metadata TEXT NOT NULL DEFAULT '{}',
  quota TEXT,
  session_id TEXT,
  job_id INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX tus_uploads_updated ON tus_uploads(updated_at);
