-- pg/003-audit.sql -- the audit log (audit.c): one record per committed
-- change (and per failed login), each carrying the SHA-256 of the one
-- before it, so that an edited, inserted or removed row breaks the chain.

-- The records, in chain order.
CREATE TABLE audit_log (
	seq	BIGINT PRIMARY KEY,	-- position in the chain: 1, 2, ...
	idx	BIGINT NOT NULL,	-- modify index of the transaction
	time	TEXT COLLATE "C" NOT NULL,	-- RFC 3339 UTC, microseconds, fixed width
	node	TEXT COLLATE "C" NOT NULL,	-- node_name of the writer
	actor	TEXT COLLATE "C" NOT NULL,	-- AccessorID of the token ('' none)
	source	TEXT COLLATE "C" NOT NULL,	-- client address ('' internal)
	method	TEXT COLLATE "C" NOT NULL,	-- HTTP method ('' internal)
	route	TEXT COLLATE "C" NOT NULL,	-- route pattern ('' internal)
	kind	TEXT COLLATE "C" NOT NULL,	-- object kind: 'acl-tokens', 'login', ..
	object	TEXT COLLATE "C" NOT NULL,	-- object ID or name ('' unknown)
	outcome	TEXT COLLATE "C" NOT NULL,	-- 'ok', or 'failed: <status>'
	prev	TEXT COLLATE "C" NOT NULL,	-- hash of the record before (hex)
	hash	TEXT COLLATE "C" NOT NULL	-- SHA-256 of this record (hex)
);
CREATE INDEX audit_log_time ON audit_log (time);

-- The chain's two ends: the last record, and the anchor -- the last
-- record pruned by retention, whose hash the first kept one carries.
CREATE TABLE audit_head (
	id		INTEGER PRIMARY KEY CHECK (id = 1),
	seq		BIGINT NOT NULL,	-- seq of the last record (0: none)
	hash		TEXT NOT NULL,	-- its hash
	anchor_seq	BIGINT NOT NULL,	-- last pruned seq (0: none)
	anchor_hash	TEXT NOT NULL	-- its hash (zeros: none)
);
INSERT INTO audit_head (id, seq, hash, anchor_seq, anchor_hash) VALUES (1, 0,
    '0000000000000000000000000000000000000000000000000000000000000000', 0,
    '0000000000000000000000000000000000000000000000000000000000000000');
INSERT INTO table_index (name, idx) VALUES ('audit', 1)
    ON CONFLICT (name) DO NOTHING;
