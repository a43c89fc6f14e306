-- 007-intention-indexes.sql -- indexes for writes to a destination with
-- many sources (issue #2's write benchmark).  Applied once, in one
-- transaction; recorded in PRAGMA user_version.
--
-- Why: every by-name write (PUT intentions/exact) reads where its
-- source sits in the entry and whether any source is a legacy one, and
-- strips legacy fields from the entry.  Those queries walked every row
-- of the destination (the legacy test even every row with a NULL
-- legacy_id, in any destination) inside the write lock: ~2 ms per write
-- at 1,600 sources, and writes fell to ~300/s.
--
-- A row is a legacy intention exactly when legacy_id is set: the legacy
-- API writes legacy_id with legacy_meta, created_at and updated_at, and
-- a by-name write clears all four (intention.c).  Legacy rows are few,
-- so a partial index finds them without touching the others.
CREATE INDEX intention_legacy ON intention (dest_name, legacy_meta)
    WHERE legacy_id IS NOT NULL;
-- Where a source sits (precedence descending, then name) is counted in
-- this index alone, without the rows.
CREATE INDEX intention_order ON intention (dest_name, precedence,
    source_name);
