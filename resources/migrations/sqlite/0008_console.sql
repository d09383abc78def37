-- The operator console's Jobs page (ui/jobs/, store/sqliteconsole.cpp) lists every user's jobs in
-- keyset pages by id (the primary key) or by user (jobs_user, 0001); this index serves its sort by
-- priority (ties by id), so a page costs its own rows, not the table's size, at 1,000,000 jobs.
--
-- On purpose there is no index for the console's status and dataset filters: an index on status
-- is rewritten at every state change of every job, and one on the payload's dataset at every
-- enqueue; together with this one they cost the queue 15-20% of its processing rate and a third
-- of its enqueue rate (bench/queue). Those filters walk the id order on the console's reader
-- thread instead, off the GUI thread (docs/architecture.md, "Console: the Jobs page").
CREATE INDEX jobs_priority ON jobs(priority, id);
