-- Issue 17: the fair clock in slots. Every claim advanced one row per priority, so a dispatcher's
-- two cycles (and every node's) queued on that row's lock at the end of each claim: 16% of a
-- lane's time in bench/queue --db was spent waiting for the other lane to commit. Each claim now
-- advances the row of its own slot (its server process id modulo 64), and the clock at a
-- priority is the highest of its slots: the same value as before, read from at most 64 rows.
ALTER TABLE fair_clock ADD COLUMN slot INTEGER NOT NULL DEFAULT 0;
ALTER TABLE fair_clock DROP CONSTRAINT fair_clock_pkey;
ALTER TABLE fair_clock ADD PRIMARY KEY (priority, slot);
ALTER TABLE fair_clock ALTER COLUMN slot DROP DEFAULT;
