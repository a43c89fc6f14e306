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
-- The intentions of the destinations changed since :idx, in the order
-- of intention_all.
SELECT i.dest_name, i.source_name, i.source_peer, i.action, i.permissions,
       i.description, i.source_type, i.precedence, i.legacy_id,
       i.legacy_meta, i.created_at, i.updated_at, e.meta, e.create_index,
       e.modify_index
  FROM intention i JOIN intention_entry e USING (dest_name)
 WHERE e.modify_index > :idx
 ORDER BY i.precedence DESC, i.source_peer, i.source_name, i.dest_name;

-- name: acl_token_since
-- The tokens changed since :idx, in the order of acl_token_all.
SELECT accessor_id, secret_id, description, policies, roles,
       service_identities, node_identities, local, auth_method,
       expiration_time, expiration_ns, create_time, hash, create_index,
       modify_index
  FROM acl_token WHERE modify_index > :idx ORDER BY accessor_id;
