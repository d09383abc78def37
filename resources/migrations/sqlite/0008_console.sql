-- The operator console's Jobs page (ui/jobs/, store/sqliteconsole.cpp) lists every user's jobs in
-- keyset pages. Each filter and sort it offers walks one of these indexes (or jobs_user, 0001), so
-- a page costs its own rows, not the table's size, at 1,000,000 jobs.
-- Status filter, newest or oldest first; counts per status.
CREATE INDEX jobs_status ON jobs(status, id);
-- Sort by priority (ties by id).
CREATE INDEX jobs_priority ON jobs(priority, id);
-- Dataset filter: the payload's "dataset", the same expression the job API filters on.
CREATE INDEX jobs_dataset ON jobs(CASE WHEN json_valid(payload) THEN json_extract(payload, '$.dataset') END, id);
