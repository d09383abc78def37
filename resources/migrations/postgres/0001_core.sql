-- PostgreSQL translation of sqlite/0001_core.sql; keep the two in step (docs/postgres-progress.md).
-- Users, upload sessions, jobs and their attempt history. Times are ms since the Unix epoch (UTC),
-- so every time and id is BIGINT (INTEGER is 32-bit here). Flags stay INTEGER 0/1 so the SQL the
-- stores share ("disabled = 0") means the same on both. JSON columns are TEXT, not JSONB: the
-- store binds and returns them as serialized text, SQLite accepts any text there (the console
-- guards json_extract with json_valid), and JSONB would reject or reformat what SQLite keeps.
CREATE TABLE users (
  id BIGSERIAL PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  tier TEXT NOT NULL DEFAULT 'standard',
  token_hash BYTEA NOT NULL UNIQUE,
  disabled INTEGER NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL
);

CREATE TABLE upload_sessions (
  id TEXT PRIMARY KEY,
  user_id BIGINT NOT NULL REFERENCES users(id),
  file_name TEXT,
  content_type TEXT,
  size_bytes BIGINT NOT NULL DEFAULT 0,
  sha256 TEXT,
  created_at BIGINT NOT NULL
);
CREATE INDEX upload_sessions_user ON upload_sessions(user_id, created_at);

CREATE TABLE jobs (
  id BIGSERIAL PRIMARY KEY,
  user_id BIGINT NOT NULL REFERENCES users(id),
  session_id TEXT REFERENCES upload_sessions(id),
  type TEXT NOT NULL,
  payload TEXT NOT NULL DEFAULT '{}',
  status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled', 'dead')),
  priority INTEGER NOT NULL DEFAULT 0,
  fair_rank BIGINT NOT NULL DEFAULT 0,
  attempts INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL,
  run_at BIGINT NOT NULL,
  timeout_ms BIGINT NOT NULL,
  unique_key TEXT,
  lease_owner TEXT,
  lease_expires_at BIGINT,
  lease_token BIGINT NOT NULL DEFAULT 0,
  cancel_requested INTEGER NOT NULL DEFAULT 0,
  progress TEXT,
  error TEXT,
  result TEXT,
  created_at BIGINT NOT NULL,
  started_at BIGINT,
  finished_at BIGINT
);
-- The claim order: priority, then fair rank between users, then age.
CREATE INDEX jobs_ready ON jobs(priority DESC, fair_rank, id) WHERE status = 'pending';
-- A user's last fair rank at a priority, read at enqueue.
CREATE INDEX jobs_user_rank ON jobs(user_id, priority, fair_rank) WHERE status = 'pending';
CREATE INDEX jobs_leases ON jobs(lease_expires_at) WHERE status = 'running';
CREATE UNIQUE INDEX jobs_unique_key ON jobs(user_id, unique_key)
  WHERE unique_key IS NOT NULL AND status IN ('pending', 'running');
CREATE INDEX jobs_finished ON jobs(finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX jobs_user ON jobs(user_id, id);

-- SQLite's WITHOUT ROWID has no equivalent and needs none: the primary key is the table's index.
CREATE TABLE job_attempts (
  job_id BIGINT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
  lease_token BIGINT NOT NULL,
  attempt INTEGER NOT NULL,
  user_id BIGINT NOT NULL,
  node TEXT,
  started_at BIGINT NOT NULL,
  finished_at BIGINT NOT NULL,
  outcome TEXT NOT NULL,
  error TEXT,
  PRIMARY KEY (job_id, lease_token)
);
