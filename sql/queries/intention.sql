-- intention.sql -- queries of the intentions family (intention.c).
-- Every read returns the same columns, in evaluation order (precedence
-- descending, then names ascending), joined with the config entry that
-- owns each intention.

-- name: intention_all
SELECT i.dest_name, i.source_name, i.source_peer, i.action, i.permissions,
       i.description, i.source_type, i.precedence, i.legacy_id,
       i.legacy_meta, i.created_at, i.updated_at, e.meta, e.create_index,
       e.modify_index
  FROM intention i JOIN intention_entry e USING (dest_name)
 ORDER BY i.precedence DESC, i.source_peer, i.source_name, i.dest_name;

-- name: intention_get_exact
SELECT i.dest_name, i.source_name, i.source_peer, i.action, i.permissions,
       i.description, i.source_type, i.precedence, i.legacy_id,
       i.legacy_meta, i.created_at, i.updated_at, e.meta, e.create_index,
       e.modify_index
  FROM intention i JOIN intention_entry e USING (dest_name)
 WHERE i.dest_name = :dest AND i.source_name = :source
   AND i.source_peer = :peer;

-- name: intention_get_id
-- The legacy ID is a UUID: any letter case, as Consul's UUID index.
SELECT i.dest_name, i.source_name, i.source_peer, i.action, i.permissions,
       i.description, i.source_type, i.precedence, i.legacy_id,
       i.legacy_meta, i.created_at, i.updated_at, e.meta, e.create_index,
       e.modify_index
  FROM intention i JOIN intention_entry e USING (dest_name)
 WHERE i.legacy_id = :id COLLATE NOCASE;

-- name: intention_entry_get
-- Its sources, how many are legacy ones, how many of those have a Meta
-- (the legacy counts through the partial index intention_legacy).
SELECT meta, create_index, modify_index,
       (SELECT count(*) FROM intention WHERE dest_name = :dest),
       (SELECT count(*) FROM intention
         WHERE dest_name = :dest AND legacy_id IS NOT NULL),
       (SELECT count(*) FROM intention
         WHERE dest_name = :dest AND legacy_id IS NOT NULL
           AND legacy_meta IS NOT NULL AND legacy_meta <> '{}')
  FROM intention_entry WHERE dest_name = :dest;

-- name: intention_entry_upsert
INSERT INTO intention_entry (dest_name, meta, create_index, modify_index)
    VALUES (:dest, :meta, :idx, :idx)
    ON CONFLICT (dest_name) DO UPDATE
    SET meta = excluded.meta, modify_index = excluded.modify_index;

-- name: intention_entry_delete_if_empty
DELETE FROM intention_entry WHERE dest_name = :dest
   AND NOT EXISTS (SELECT 1 FROM intention WHERE dest_name = :dest);

-- name: intention_upsert
INSERT INTO intention (dest_name, source_name, source_peer, action,
    permissions, description, source_type, precedence, legacy_id,
    legacy_meta, created_at, updated_at)
    VALUES (:dest, :source, :peer, :action, :permissions, :description,
    :source_type, :precedence, :legacy_id, :legacy_meta, :created_at,
    :updated_at)
    ON CONFLICT (dest_name, source_name, source_peer) DO UPDATE
    SET action = excluded.action, permissions = excluded.permissions,
        description = excluded.description,
        source_type = excluded.source_type,
        precedence = excluded.precedence, legacy_id = excluded.legacy_id,
        legacy_meta = excluded.legacy_meta,
        created_at = excluded.created_at, updated_at = excluded.updated_at;

-- name: intention_delete_exact
DELETE FROM intention WHERE dest_name = :dest AND source_name = :source
   AND source_peer = :peer;

-- name: intention_clear_legacy
-- The legacy rows only (intention_legacy): SQLite rewrites every row an
-- UPDATE matches, changed or not, and matching the whole destination
-- put all its sources' pages in the WAL at every by-name write.
UPDATE intention SET legacy_id = NULL, legacy_meta = NULL,
    created_at = NULL, updated_at = NULL
 WHERE dest_name = :dest AND legacy_id IS NOT NULL;

-- name: intention_put_read
-- What a by-name write reads before it writes, in one statement (one
-- round trip under PostgreSQL's write lock, not two): where the source
-- would sit in its entry (Sources[i] in Consul's texts: precedence
-- descending, then name; two ranges of intention_order, as one OR
-- would scan the destination), then whether the entry exists and
-- intention_entry_get's columns (meta, then the three counts; the
-- counts are 0 without an entry: rows exist only with theirs).
SELECT (SELECT count(*) FROM intention
         WHERE dest_name = :dest AND precedence > :prec)
     + (SELECT count(*) FROM intention
         WHERE dest_name = :dest AND precedence = :prec
           AND source_name < :source),
       CASE WHEN e.dest_name IS NULL THEN 0 ELSE 1 END, e.meta,
       (SELECT count(*) FROM intention WHERE dest_name = :dest),
       (SELECT count(*) FROM intention
         WHERE dest_name = :dest AND legacy_id IS NOT NULL),
       (SELECT count(*) FROM intention
         WHERE dest_name = :dest AND legacy_id IS NOT NULL
           AND legacy_meta IS NOT NULL AND legacy_meta <> '{}')
  FROM (SELECT 1 AS one) o
  LEFT JOIN intention_entry e ON e.dest_name = :dest;
