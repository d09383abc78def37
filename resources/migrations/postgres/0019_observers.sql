-- Consoles that observe a cluster (`ferry --observe`, issue 16) register as nodes so the Nodes page
-- lists them, with role 'observer': they run no job, serve no HTTP and never lead. Workers are
-- 'worker' (every node registered before this migration was one).
ALTER TABLE nodes ADD COLUMN role TEXT NOT NULL DEFAULT 'worker';
-- The resource history per node: before, every node of a cluster wrote its samples under the same
-- (resolution, ts) key and the last one won. `node` is the series a monitor writes: its node id on
-- PostgreSQL, '' on SQLite (one engine; its history survives restarts). The cluster's charts sum
-- the series per second or minute (Store::clusterMetricSamples).
ALTER TABLE metric_samples ADD COLUMN node TEXT NOT NULL DEFAULT '';
ALTER TABLE metric_samples DROP CONSTRAINT metric_samples_pkey;
ALTER TABLE metric_samples ADD PRIMARY KEY (resolution, node, ts);
-- The cluster's charts read every series of one resolution by time.
CREATE INDEX metric_samples_by_time ON metric_samples (resolution, ts);
