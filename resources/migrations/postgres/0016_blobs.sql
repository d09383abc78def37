-- Uploaded files and unfinished tus uploads in the database (issue 17), so that nodes on one
-- PostgreSQL share no directory (engine/storage/postgresblobstore.h; docs/architecture.md,
-- "Uploads in PostgreSQL"). SQLite keeps files under --blob-dir and has no such tables.
--
-- blob_data is one stream of bytes being written or stored: its chunks are plain rows of about
-- 1 MiB (not large objects: pg_dump, replication and DELETE need nothing special, and there are
-- no lo_unlink/vacuumlo orphans). A chunk is keyed by the byte offset it starts at, so a tus
-- upload's PATCHes may end anywhere and the reader still finds any offset with one index probe.
-- touched_at (server ms) is renewed by every chunk written: data that no blob and no tus upload
-- owns and that nobody touched for the lease period is an abandoned write, collected by the
-- leader.
CREATE TABLE blob_data (
  id BIGSERIAL PRIMARY KEY,
  touched_at BIGINT NOT NULL
);
CREATE TABLE blob_chunks (
  data_id BIGINT NOT NULL REFERENCES blob_data(id) ON DELETE CASCADE,
  start BIGINT NOT NULL,
  data BYTEA NOT NULL,
  PRIMARY KEY (data_id, start)
);
-- Out of line, uncompressed: uploads are often gzip already, and pglz on 1 MiB values costs CPU
-- on every write for little gain.
ALTER TABLE blob_chunks ALTER COLUMN data SET STORAGE EXTERNAL;

-- A committed blob: content id (lowercase hex SHA-256) to its data. lease is the stamp of the
-- last commit that took it (server clock, microseconds), strictly increasing per blob
-- (BlobStore::remove: a removal by an older lease leaves it).
CREATE TABLE blobs (
  id TEXT PRIMARY KEY,
  data_id BIGINT NOT NULL UNIQUE REFERENCES blob_data(id),
  size BIGINT NOT NULL,
  lease BIGINT NOT NULL
);
CREATE INDEX blobs_lease ON blobs(lease);

-- A tus upload's bytes so far (data_id, its chunks; "offset" counts the committed ones) and the
-- PATCH that may append to them: append_token, until append_until (server ms). A PATCH takes it
-- atomically; every chunk it commits checks the token, so a PATCH whose lease passed (its node
-- died or hung) can no longer write, and the next one resumes at the committed offset.
ALTER TABLE tus_uploads ADD COLUMN data_id BIGINT REFERENCES blob_data(id) ON DELETE SET NULL;
ALTER TABLE tus_uploads ADD COLUMN append_token BIGINT;
ALTER TABLE tus_uploads ADD COLUMN append_until BIGINT;
CREATE INDEX tus_uploads_data ON tus_uploads(data_id);
