-- 010-nodes.sql -- the nodes of the cluster (issue #17: "each node
-- records itself in the store"; issue #13: /v1/status/leader, peers,
-- /v1/agent/members read them).  Applied once, in one transaction;
-- recorded in PRAGMA user_version.
--
-- One row per node: on SQLite that is one row (the store is the node's
-- own file), on PostgreSQL one per node sharing the database.  The
-- master writes its row at start (src/node.c: node_register()), moves
-- last_heartbeat every heartbeat_interval_ms, and sets left_at when it
-- stops cleanly.  These writes are not versioned: they carry no modify
-- index and wake no blocking query, as Consul's member list comes from
-- Serf gossip, not from the Raft log.  Times are milliseconds since the
-- Unix epoch by the writing node's clock; a reader ages a row by its own
-- clock, so the nodes' clocks must agree (NTP) well within
-- heartbeat_timeout_ms.
CREATE TABLE nodes (
	node_id		TEXT PRIMARY KEY,	-- UUID, kept in <data_dir>/node-id
	name		TEXT NOT NULL UNIQUE,	-- node_name (Consul's NodeName)
	address		TEXT NOT NULL,		-- advertise_addr, "ip:port"
	datacenter	TEXT NOT NULL,		-- datacenter of its config
	version		TEXT NOT NULL,		-- Portcullis release it runs
	started_at	INTEGER NOT NULL,	-- when this run began (ms)
	last_heartbeat	INTEGER NOT NULL,	-- the last heartbeat (ms)
	left_at		INTEGER			-- clean stop (ms); NULL: running
);
