-- PostgreSQL translation of sqlite/0003_datasets.sql.
-- Datasets: each user's imported records, as JSON documents (the seed's service used a document
-- store). A migration job writes batches together with its checkpoint, so a resumed job picks up
-- exactly where the last committed batch ended.
CREATE TABLE datasets (
  id BIGSERIAL PRIMARY KEY,
  user_id BIGINT NOT NULL REFERENCES users(id),
  name TEXT NOT NULL,
  columns TEXT, -- JSON array of field names, in order, for CSV export
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  UNIQUE (user_id, name)
);

-- id is (dataset id << 40) + sequence, computed by the store (no sequence): a dataset's records
-- are one range of the primary key index, in insertion order. Unlike SQLite's rowid table the
-- heap is not ordered by it; listing a dataset is an index range scan.
-- job_id is the job that last wrote the record; prev_doc/prev_job hold what that job replaced, so
-- a job that fails can be undone (its inserts deleted, its overwrites restored).
CREATE TABLE records (
  id BIGINT PRIMARY KEY,
  dataset_id BIGINT NOT NULL,
  key TEXT,
  doc TEXT NOT NULL,
  job_id BIGINT,
  prev_doc TEXT,
  prev_job BIGINT
);
CREATE UNIQUE INDEX records_key ON records(dataset_id, key) WHERE key IS NOT NULL;

CREATE TABLE migration_checkpoints (
  job_id BIGINT PRIMARY KEY REFERENCES jobs(id) ON DELETE CASCADE,
  dataset_id BIGINT NOT NULL,
  byte_offset BIGINT NOT NULL,
  line BIGINT NOT NULL,
  rows_read BIGINT NOT NULL,
  rows_imported BIGINT NOT NULL,
  rows_rejected BIGINT NOT NULL,
  state TEXT NOT NULL -- JSON: the header row and anything else a resumed reader needs
);

-- The first rejected rows of a job in full; the total is in the checkpoint and the result.
CREATE TABLE job_row_errors (
  job_id BIGINT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
  seq INTEGER NOT NULL,
  line BIGINT NOT NULL,
  field TEXT,
  reason TEXT NOT NULL,
  PRIMARY KEY (job_id, seq)
);

-- Blobs are removed once no upload session refers to them.
CREATE INDEX upload_sessions_blob ON upload_sessions(sha256);
-- Sessions whose jobs were all pruned are pruned too (then their blobs).
CREATE INDEX jobs_session ON jobs(session_id) WHERE session_id IS NOT NULL;
