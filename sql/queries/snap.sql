-- snap.sql -- what the snapshot loaders read to patch a snapshot with
-- the changes since its index (src/snap.c, intention_db.c, acl.c);
-- sql/012-snap-tombstones.sql keeps the tombstones.

-- name: snap_tombstones
SELECT key FROM snap_tombstone WHERE idx > :idx AND tbl = :tbl;

-- name: snap_horizon
SELECT idx FROM snap_tombstone_horizon;

-- name: intention_entries_since
SELECT dest_name FROM intention_entry WHERE modify_index > :idx;

-- name: intention_since
-- The intentions of the destinations changed since :idx (the columns of
-- intention_all).  No ORDER BY: the caller sorts the few rows; with one,
-- SQLite's planner (no statistics) walked every intention in order
-- instead of the modify_index range.
SELECT i.dest_name, i.source_name, i.source_peer, i.action, i.permissions,
       i.description, i.source_type, i.precedence, i.legacy_id,
       i.legacy_meta, i.created_at, i.updated_at, e.meta, e.create_index,
       e.modify_index
  FROM intention_entry e JOIN intention i USING (dest_name)
 WHERE e.modify_index > :idx;

-- name: acl_token_since
-- The tokens changed since :idx (the columns of acl_token_all); the
-- caller sorts them, as for intention_since.
SELECT accessor_id, secret_id, description, policies, roles,
       service_identities, node_identities, local, auth_method,
       expiration_time, expiration_ns, create_time, hash, create_index,
       modify_index
  FROM acl_token WHERE modify_index > :idx;
