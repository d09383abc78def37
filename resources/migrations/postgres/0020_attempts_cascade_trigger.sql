-- job_attempts was tied to jobs by a foreign key, so every attempt row the dispatch cycle writes
-- (one per finished job) ran the key's check: a trigger that queries the job and locks its row
-- (FOR KEY SHARE), per row, in the queue's hottest statement. The rows need no check: the only
-- writer of attempts is that statement, which writes them for job rows it has just updated and
-- holds locked. What the key did for deletes (ON DELETE CASCADE: pruning, the console's and the
-- API's job deletes) a statement-level trigger does now, once per DELETE.
ALTER TABLE job_attempts DROP CONSTRAINT job_attempts_job_id_fkey;
CREATE FUNCTION ferry_delete_job_attempts() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN DELETE FROM job_attempts WHERE job_id IN (SELECT id FROM gone); RETURN NULL; END $$;
CREATE TRIGGER jobs_delete_attempts AFTER DELETE ON jobs REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION ferry_delete_job_attempts();
