-- Datasets: each user's imported records, as JSON documents (the seed's service used a document
-- store). A migration job writes batches together with its checkpoint, so a resumed job picks up
-- exactly where the last committed batch ended.
CREATE TABLE datasets (
  id INTEGER PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id),
  name TEXT NOT NULL,
  columns TEXT, -- JSON array of field names, in order, for CSV export
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  UNIQUE (user_id, name)
);

-- id is (dataset id << 40) + sequence: a dataset's records are one range of the rowid b-tree, in
-- insertion order, so no second index is needed to list or count them.
-- job_id is the job that last wrote the record; prev_doc/prev_job hold what that job replaced, so
-- a job that fails can be undone (its inserts deleted, its overwrites restored).
CREATE TABLE records (
  id INTEGER PRIMARY KEY,
  dataset_id INTEGER NOT NULL,
  key TEXT,
  doc TEXT NOT NULL,
  job_id INTEGER,
  prev_doc TEXT,
  prev_job INTEGER
);
CREATE UNIQUE INDEX records_key ON records(dataset_id, key) WHERE key IS NOT NULL;

CREATE TABLE migration_checkpoints (
  job_id INTEGER PRIMARY KEY REFERENCES jobs(id) ON DELETE CASCADE,
  dataset_id INTEGER NOT NULL,
  byte_offset INTEGER NOT NULL,
  line INTEGER NOT NULL,
  rows_read INTEGER NOT NULL,
  rows_imported INTEGER NOT NULL,
  rows_rejected INTEGER NOT NULL,
  state TEXT NOT NULL -- JSON: the header row and anything else a resumed reader needs
);

-- The first rejected rows of a job in full; the total is in the checkpoint and the result.
CREATE TABLE job_row_errors (
  job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
  seq INTEGER NOT NULL,
  line INTEGER NOT NULL,
  field TEXT,
  reason TEXT NOT NULL,
  PRIMARY KEY (job_id, seq)
) WITHOUT ROWID;

-- Blobs are removed once no upload session refers to them.
CREATE INDEX upload_sessions_blob ON upload_sessions(sha256);
-- Sessions whose jobs were all pruned are pruned too (then their blobs).
CREATE INDEX jobs_session ON jobs(session_id) WHERE session_id IS NOT NULL;
