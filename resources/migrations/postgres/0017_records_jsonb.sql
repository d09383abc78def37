-- Dataset documents as jsonb (issue 17): people who run a cluster can query and index what they
-- imported with plain SQL (docs/deployment.md, "Querying imported datasets"). prev_doc holds what
-- an import replaced and is put back by an undo, so it has the same type. Both columns in one
-- ALTER: PostgreSQL rewrites the table once, under an ACCESS EXCLUSIVE lock, and parses every
-- document; a document jsonb refuses (a \u0000 escape, a number past numeric's range) fails the
-- migration, which then leaves the database as it was.
ALTER TABLE records
  ALTER COLUMN doc TYPE jsonb USING doc::jsonb,
  ALTER COLUMN prev_doc TYPE jsonb USING prev_doc::jsonb;
