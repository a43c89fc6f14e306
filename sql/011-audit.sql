-- 011-audit.sql -- the audit log (audit.c): one record per committed
-- change (and per failed login), each carrying the SHA-256 of the one
-- before it, so that an edited, inserted or removed row breaks the chain.

-- The records, in chain order.
CREATE TABLE audit_log (
	seq	INTEGER PRIMARY KEY,	-- position in the chain: 1, 2, ...
	idx	INTEGER NOT NULL,	-- modify index of the transaction
	time	TEXT NOT NULL,		-- RFC 3339 UTC, microseconds, fixed width
	node	TEXT NOT NULL,		-- node_name of the writer
	actor	TEXT NOT NULL,		-- AccessorID of the token ('' none)
	source	TEXT NOT NULL,		-- client address ('' internal)
	method	TEXT NOT NULL,		-- HTTP method ('' internal)
	route	TEXT NOT NULL,		-- route pattern ('' internal)
	kind	TEXT NOT NULL,		-- object kind: 'acl-tokens', 'login', ..
	object	TEXT NOT NULL,		-- object ID or name ('' unknown)
	outcome	TEXT NOT NULL,		-- 'ok', or 'failed: <status>'
	prev	TEXT NOT NULL,		-- hash of the record before (hex)
	hash	TEXT NOT NULL		-- SHA-256 of this record (hex)
);
CREATE INDEX audit_log_time ON audit_log (time);

-- The chain's two ends: the last record, and the anchor -- the last
-- record pruned by retention, whose hash the first kept one carries.
CREATE TABLE audit_head (
	id		INTEGER PRIMARY KEY CHECK (id = 1),
	seq		INTEGER NOT NULL,	-- seq of the last record (0: none)
	hash		TEXT NOT NULL,		-- its hash
	anchor_seq	INTEGER NOT NULL,	-- last pruned seq (0: none)
	anchor_hash	TEXT NOT NULL		-- its hash (zeros: none)
);
INSERT INTO audit_head (id, seq, hash, anchor_seq, anchor_hash) VALUES (1, 0,
    '0000000000000000000000000000000000000000000000000000000000000000', 0,
    '0000000000000000000000000000000000000000000000000000000000000000');
INSERT INTO table_index (name, idx) VALUES ('audit', 1)
    ON CONFLICT (name) DO NOTHING;
