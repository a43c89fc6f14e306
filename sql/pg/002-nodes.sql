-- pg/002-nodes.sql -- the nodes of the cluster: the table of
-- sql/010-nodes.sql, whose comments say what each column means, in
-- PostgreSQL's dialect (INTEGER is BIGINT; the keys compare byte-wise).
CREATE TABLE nodes (
	node_id		TEXT COLLATE "C" PRIMARY KEY,
	name		TEXT COLLATE "C" NOT NULL UNIQUE,
	address		TEXT NOT NULL,
	datacenter	TEXT NOT NULL,
	version		TEXT NOT NULL,
	started_at	BIGINT NOT NULL,
	last_heartbeat	BIGINT NOT NULL,
	left_at		BIGINT
);
