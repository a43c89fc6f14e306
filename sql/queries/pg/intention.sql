-- pg/intention.sql -- PostgreSQL texts of intention.sql queries.

-- name: intention_get_id
SELECT i.dest_name, i.source_name, i.source_peer, i.action, i.permissions,
       i.description, i.source_type, i.precedence, i.legacy_id,
       i.legacy_meta, i.created_at, i.updated_at, e.meta, e.create_index,
       e.modify_index
  FROM intention i JOIN intention_entry e USING (dest_name)
 WHERE lower(i.legacy_id) = lower(:id) AND i.legacy_id IS NOT NULL;
