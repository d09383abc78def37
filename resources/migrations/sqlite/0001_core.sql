-- Users, upload sessions, jobs and their attempt history. Times are ms since the Unix epoch (UTC).
CREATE TABLE users (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  tier TEXT NOT NULL DEFAULT 'standard',
  token_hash BLOB NOT NULL UNIQUE,
  disabled INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL
);

CREATE TABLE upload_sessions (
  id TEXT PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id),
  file_name TEXT,
  content_type TEXT,
  size_bytes INTEGER NOT NULL DEFAULT 0,
  sha256 TEXT,
  created_at INTEGER NOT NULL
);
CREATE INDEX upload_sessions_user ON upload_sessions(user_id, created_at);

CREATE TABLE jobs (
  id INTEGER PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id),
  session_id TEXT REFERENCES upload_sessions(id),
  type TEXT NOT NULL,
  payload TEXT NOT NULL DEFAULT '{}',
  status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled', 'dead')),
  priority INTEGER NOT NULL DEFAULT 0,
  fair_rank INTEGER NOT NULL DEFAULT 0,
  attempts INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL,
  run_at INTEGER NOT NULL,
  timeout_ms INTEGER NOT NULL,
  unique_key TEXT,
  lease_owner TEXT,
  lease_expires_at INTEGER,
  lease_token INTEGER NOT NULL DEFAULT 0,
  cancel_requested INTEGER NOT NULL DEFAULT 0,
  progress TEXT,
  error TEXT,
  result TEXT,
  created_at INTEGER NOT NULL,
  started_at INTEGER,
  finished_at INTEGER
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

CREATE TABLE job_attempts (
  job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
  lease_token INTEGER NOT NULL,
  attempt INTEGER NOT NULL,
  user_id INTEGER NOT NULL,
  node TEXT,
  started_at INTEGER NOT NULL,
  finished_at INTEGER NOT NULL,
  outcome TEXT NOT NULL,
  error TEXT,
  PRIMARY KEY (job_id, lease_token)
) WITHOUT ROWID;
