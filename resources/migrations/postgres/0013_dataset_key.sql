-- A dataset has at most one key field (issue 15): set by its first keyed import, after which every
-- import into it upserts by that field (engine/migrate/migratehandler.cpp, DatasetStore::useKey).
ALTER TABLE datasets ADD COLUMN key_field TEXT;

-- Keys are compared after conversion: a string key is stored as its text, anything else as its
-- JSON text, so "7" and 7 are one key. Keys written before this migration were JSON text ("7"
-- with its quotes). Where two records of a dataset now share a key, they are one record: the
-- later-created one stays.
DELETE FROM records r USING (
    SELECT id, row_number() OVER (
        PARTITION BY dataset_id,
            CASE WHEN key LIKE '"%' THEN key::jsonb #>> '{}' ELSE key END
        ORDER BY id DESC) AS n
    FROM records WHERE key IS NOT NULL) d
WHERE r.id = d.id AND d.n > 1;
UPDATE records SET key = key::jsonb #>> '{}' WHERE key LIKE '"%';
