-- The jobs that ended failed or dead, in the order they ended (Store::failedJobsAfter, read by a
-- console's notices). Only failing jobs have an entry, so a claim or a completed job costs nothing
-- more.
CREATE INDEX jobs_failed_by_end ON jobs(finished_at, id) WHERE status IN ('failed', 'dead');
