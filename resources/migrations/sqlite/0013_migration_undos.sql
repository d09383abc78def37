-- Undo follows every way a migration can end (docs/architecture.md, "Undo"). A migration job that
-- ends failed, cancelled or dead while it still has a checkpoint (it wrote rows that no undo has
-- removed: the handler undoes inside its attempt, but a rescue, a cancel of a pending job, a
-- crash, another node or the console can end it too) is queued here by the trigger, in the
-- transaction that ends it. Each engine's MigrationUndoSweeper then undoes it (fenced: only while
-- the job is still ended) and deletes the row. No foreign key: a job pruned before its undo still
-- has rows to remove.
CREATE TABLE migration_undos (
  job_id INTEGER PRIMARY KEY,
  dataset_id INTEGER NOT NULL
);

-- The body is on one line: the migration runner ends a statement at a line ending in ';'.
CREATE TRIGGER jobs_migration_undo AFTER UPDATE OF status ON jobs
WHEN NEW.status IN ('failed', 'cancelled', 'dead') AND OLD.status <> NEW.status
BEGIN INSERT OR IGNORE INTO migration_undos (job_id, dataset_id) SELECT job_id, dataset_id FROM migration_checkpoints WHERE job_id = NEW.id; END;
