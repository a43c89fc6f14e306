-- node.sql -- the nodes table (src/node.c; sql/010-nodes.sql).

-- Another node holding this name: its ID and last heartbeat, so that
-- node_register() refuses a name that a live node uses.
-- name: node_name_holder
SELECT node_id, last_heartbeat, left_at FROM nodes
    WHERE name = :name AND node_id <> :node_id;

-- name: node_delete_name
DELETE FROM nodes WHERE name = :name AND node_id <> :node_id;

-- Start of a run: the row of this node ID, new or renewed.
-- name: node_upsert
INSERT INTO nodes (node_id, name, address, datacenter, version,
    started_at, last_heartbeat, left_at)
    VALUES (:node_id, :name, :address, :datacenter, :version, :now, :now,
    NULL)
    ON CONFLICT (node_id) DO UPDATE SET name = excluded.name,
    address = excluded.address, datacenter = excluded.datacenter,
    version = excluded.version, started_at = excluded.started_at,
    last_heartbeat = excluded.last_heartbeat, left_at = NULL;

-- The address follows a reload of advertise_addr.
-- name: node_heartbeat
UPDATE nodes SET last_heartbeat = :now, address = :address, left_at = NULL
    WHERE node_id = :node_id;

-- name: node_leave
UPDATE nodes SET left_at = :now, last_heartbeat = :now
    WHERE node_id = :node_id;

-- Rows of nodes gone for longer than Consul's reconnect_timeout (72h).
-- name: node_reap
DELETE FROM nodes WHERE last_heartbeat < :before;

-- Every node, oldest run first (the leader rule: node.c), then by name.
-- name: node_list
SELECT node_id, name, address, datacenter, version, started_at,
    last_heartbeat, left_at FROM nodes ORDER BY started_at, name;

-- The load balancers' health check: does the store answer at all?
-- name: node_ping
SELECT 1;
