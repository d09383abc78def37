-- PostgreSQL translation of sqlite/0008_console.sql.
-- The operator console's Jobs page lists every user's jobs in keyset pages by id (the primary
-- key) or by user (jobs_user, 0001); this index serves its sort by priority (ties by id). See the
-- SQLite file for why there is deliberately no index on status or the payload's dataset.
CREATE INDEX jobs_priority ON jobs(priority, id);
