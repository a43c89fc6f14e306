-- 001-init.sql -- the store's foundation and Connect intentions.
-- Applied once, in one transaction; recorded in PRAGMA user_version.

-- Cluster-wide facts set once at first start.
CREATE TABLE meta (
	key	TEXT PRIMARY KEY,	-- 'cluster_id', 'datacenter'
	value	TEXT NOT NULL
) WITHOUT ROWID;

-- Modify indexes: Consul's Raft index, one row per watched table plus
-- 'raft', the global index, which grows by one per write transaction.
-- A table's row holds the global index of the last write to it; blocking
-- queries on that table wake when it moves past ?index=.
CREATE TABLE table_index (
	name	TEXT PRIMARY KEY,	-- 'raft', 'intentions', ...
	idx	INTEGER NOT NULL	-- last modify index
) WITHOUT ROWID;
INSERT INTO table_index (name, idx) VALUES ('raft', 1), ('intentions', 1);

-- One row per intention destination: Consul's service-intentions config
-- entry.  Every intention to a destination shares its indexes.
CREATE TABLE intention_entry (
	dest_name	TEXT PRIMARY KEY,	-- DestinationName ('*' allowed)
	meta		TEXT,			-- entry Meta, JSON object or NULL
	create_index	INTEGER NOT NULL,	-- CreateIndex of all its intentions
	modify_index	INTEGER NOT NULL	-- ModifyIndex of all its intentions
) WITHOUT ROWID;

-- One row per intention (a source of a config entry).  Namespaces are
-- always 'default' and partitions empty in CE, so neither is stored.
CREATE TABLE intention (
	dest_name	TEXT NOT NULL REFERENCES intention_entry (dest_name)
			    ON DELETE CASCADE,	-- DestinationName
	source_name	TEXT NOT NULL,		-- SourceName ('*' allowed)
	source_peer	TEXT NOT NULL DEFAULT '',	-- SourcePeer
	action		TEXT,			-- 'allow'/'deny'; NULL when L7
	permissions	TEXT,			-- JSON array (L7) or NULL
	description	TEXT NOT NULL DEFAULT '',	-- Description
	source_type	TEXT NOT NULL DEFAULT 'consul',	-- SourceType
	precedence	INTEGER NOT NULL,	-- computed, 9/8/6/5 in CE
	legacy_id	TEXT UNIQUE,		-- ID, only for legacy-API intentions
	legacy_meta	TEXT,			-- Meta of a legacy intention (JSON)
	created_at	TEXT,			-- CreatedAt (RFC 3339 nano), legacy only
	updated_at	TEXT,			-- UpdatedAt (RFC 3339 nano), legacy only
	PRIMARY KEY (dest_name, source_name, source_peer)
);
CREATE INDEX intention_by_source ON intention (source_name);
