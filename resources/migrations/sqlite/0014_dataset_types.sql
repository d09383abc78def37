-- Each column's type where a mapping gave one (issue 15): a JSON object, column name → the types
-- its imports' mappings gave it, first-seen first ({"id": ["integer"], "age": ["integer",
-- "string"]}). NULL (datasets from before this migration, imports without a mapping): no types;
-- the columns stay as they were. Written by DatasetStore::setColumns (store/sharedrows.cpp).
ALTER TABLE datasets ADD COLUMN column_types TEXT;
