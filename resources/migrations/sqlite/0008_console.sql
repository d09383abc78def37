-- The operator console's Jobs page (ui/jobs/, store/sqliteconsole.cpp) lists every user's jobs in
-- keyset pages. Each filter and sort it offers walks one of these indexes (or jobs_user, 0001), so
-- a page costs its own rows, not the table's size, at 1,000,000 jobs.
-- Status filter, newest or oldest first; counts per status. COLLATE NOCASE on purpose: only the
-- console's "status COLLATE NOCASE = ?" can use it, so the engine's "status = 'pending'" claim keeps
-- walking jobs_ready in claim order (with a plain (status, id) index SQLite picked this one and
-- sorted every pending job at each claim: 56k -> 8k jobs/s in bench/queue).
CREATE INDEX jobs_status ON jobs(status COLLATE NOCASE, id);
-- Sort by priority (ties by id).
CREATE INDEX jobs_priority ON jobs(priority, id);
-- Dataset filter: the payload's "dataset", the same expression the job API filters on.
CREATE INDEX jobs_dataset ON jobs(CASE WHEN json_valid(payload) THEN json_extract(payload, '$.dataset') END, id);
