-- pg/001-init.sql -- the PostgreSQL schema (store_pg.c): the tables of
-- sql/001-009 as they stand after 009, in PostgreSQL's dialect.  The
-- columns mean what the SQLite migrations say they mean; only the
-- differences are commented here.  Applied once, in one transaction,
-- under an advisory lock, by the first node to start; recorded in
-- schema_version.
--
-- Dialect: INTEGER (64-bit in SQLite) is BIGINT; WITHOUT ROWID goes;
-- text keys that are ordered or compared by range use COLLATE "C", so
-- that listings sort byte-wise as SQLite's BINARY collation sorts them
-- whatever the database's locale; COLLATE NOCASE lookups become
-- lower(col) = lower(:v) served by expression indexes.

CREATE TABLE meta (
	key	TEXT COLLATE "C" PRIMARY KEY,
	value	TEXT NOT NULL
);

-- The modify indexes.  A write transaction begins by incrementing the
-- 'raft' row (UPDATE ... RETURNING): the row lock it takes is held to
-- COMMIT, so writers on every connection and node take indexes in the
-- order they commit.
CREATE TABLE table_index (
	name	TEXT COLLATE "C" PRIMARY KEY,
	idx	BIGINT NOT NULL
);
INSERT INTO table_index (name, idx) VALUES ('raft', 1), ('intentions', 1),
    ('acl-tokens', 1), ('acl-policies', 1), ('acl-roles', 1),
    ('acl-binding-rules', 1), ('acl-auth-methods', 1);

CREATE TABLE intention_entry (
	dest_name	TEXT COLLATE "C" PRIMARY KEY,
	meta		TEXT,
	create_index	BIGINT NOT NULL,
	modify_index	BIGINT NOT NULL
);

CREATE TABLE intention (
	dest_name	TEXT COLLATE "C" NOT NULL
			    REFERENCES intention_entry (dest_name)
			    ON DELETE CASCADE,
	source_name	TEXT COLLATE "C" NOT NULL,
	source_peer	TEXT COLLATE "C" NOT NULL DEFAULT '',
	action		TEXT,
	permissions	TEXT,
	description	TEXT NOT NULL DEFAULT '',
	source_type	TEXT NOT NULL DEFAULT 'consul',
	precedence	BIGINT NOT NULL,
	legacy_id	TEXT UNIQUE,
	legacy_meta	TEXT,
	created_at	TEXT,
	updated_at	TEXT,
	PRIMARY KEY (dest_name, source_name, source_peer)
);
CREATE INDEX intention_by_source ON intention (source_name);
CREATE INDEX intention_legacy ON intention (dest_name)
    WHERE legacy_id IS NOT NULL;
CREATE INDEX intention_order ON intention (dest_name, precedence,
    source_name);
CREATE INDEX intention_legacy_id_nocase ON intention (lower(legacy_id))
    WHERE legacy_id IS NOT NULL;

CREATE TABLE ca_config (
	id		BIGINT PRIMARY KEY CHECK (id = 1),
	provider	TEXT NOT NULL,
	config		TEXT NOT NULL,
	force_without_cross_signing BIGINT NOT NULL DEFAULT 0,
	create_index	BIGINT NOT NULL,
	modify_index	BIGINT NOT NULL
);

CREATE TABLE ca_root (
	id		TEXT COLLATE "C" PRIMARY KEY,
	name		TEXT NOT NULL,
	serial		BIGINT NOT NULL,
	signing_key_id	TEXT NOT NULL,
	external_trust_domain TEXT NOT NULL,
	not_before	BIGINT NOT NULL,
	not_after	BIGINT NOT NULL,
	root_cert	TEXT NOT NULL,
	intermediate_certs TEXT,
	active		BIGINT NOT NULL,
	private_key_type TEXT NOT NULL,
	private_key_bits BIGINT NOT NULL,
	private_key	TEXT NOT NULL,
	state_key	TEXT NOT NULL,
	rotated_out_at	BIGINT,
	create_index	BIGINT NOT NULL,
	modify_index	BIGINT NOT NULL
);
CREATE UNIQUE INDEX ca_root_one_active ON ca_root (active) WHERE active = 1;

CREATE TABLE ca_serial (
	id		BIGINT PRIMARY KEY CHECK (id = 1),
	last		BIGINT NOT NULL
);

CREATE TABLE ca_leaf (
	serial		BIGINT PRIMARY KEY,
	service		TEXT COLLATE "C" NOT NULL,
	uri		TEXT NOT NULL,
	not_before	BIGINT NOT NULL,
	not_after	BIGINT NOT NULL,
	root_id		TEXT NOT NULL,
	revoked_at	BIGINT,
	create_index	BIGINT NOT NULL
);
CREATE INDEX ca_leaf_by_service ON ca_leaf (service);
CREATE INDEX ca_leaf_revoked ON ca_leaf (revoked_at)
    WHERE revoked_at IS NOT NULL;
CREATE INDEX ca_leaf_by_not_after ON ca_leaf (not_after);

CREATE TABLE acl_token (
	accessor_id	TEXT COLLATE "C" PRIMARY KEY,
	secret_id	TEXT NOT NULL UNIQUE,
	description	TEXT NOT NULL DEFAULT '',
	policies	TEXT,
	roles		TEXT,
	service_identities TEXT,
	node_identities	TEXT,
	local		BIGINT NOT NULL DEFAULT 0,
	auth_method	TEXT NOT NULL DEFAULT '',
	expiration_time	TEXT,
	expiration_ns	BIGINT,
	create_time	TEXT NOT NULL,
	hash		TEXT NOT NULL,
	create_index	BIGINT NOT NULL,
	modify_index	BIGINT NOT NULL
);
CREATE INDEX acl_token_by_expiry ON acl_token (expiration_ns)
    WHERE expiration_ns IS NOT NULL;
CREATE INDEX acl_token_by_auth_method ON acl_token (lower(auth_method))
    WHERE auth_method <> '';
CREATE INDEX acl_token_accessor_nocase ON acl_token (lower(accessor_id));

CREATE TABLE acl_policy (
	id		TEXT COLLATE "C" PRIMARY KEY,
	name		TEXT NOT NULL,
	name_key	TEXT NOT NULL UNIQUE,
	description	TEXT NOT NULL DEFAULT '',
	rules		TEXT NOT NULL DEFAULT '',
	datacenters	TEXT,
	hash		TEXT NOT NULL,
	create_index	BIGINT NOT NULL,
	modify_index	BIGINT NOT NULL
);
CREATE INDEX acl_policy_id_nocase ON acl_policy (lower(id));

CREATE TABLE acl_role (
	id		TEXT COLLATE "C" PRIMARY KEY,
	name		TEXT NOT NULL,
	name_key	TEXT NOT NULL UNIQUE,
	description	TEXT NOT NULL DEFAULT '',
	policies	TEXT,
	service_identities TEXT,
	node_identities	TEXT,
	hash		TEXT NOT NULL,
	create_index	BIGINT NOT NULL,
	modify_index	BIGINT NOT NULL
);
CREATE INDEX acl_role_id_nocase ON acl_role (lower(id));

CREATE TABLE acl_auth_method (
	name		TEXT NOT NULL,
	name_key	TEXT COLLATE "C" PRIMARY KEY,
	type		TEXT NOT NULL,
	display_name	TEXT NOT NULL DEFAULT '',
	description	TEXT NOT NULL DEFAULT '',
	max_token_ttl	BIGINT NOT NULL DEFAULT 0,
	token_locality	TEXT NOT NULL DEFAULT '',
	config		TEXT,
	create_index	BIGINT NOT NULL,
	modify_index	BIGINT NOT NULL
);

CREATE TABLE acl_binding_rule (
	id		TEXT COLLATE "C" PRIMARY KEY,
	description	TEXT NOT NULL DEFAULT '',
	auth_method	TEXT NOT NULL,
	selector	TEXT NOT NULL DEFAULT '',
	bind_type	TEXT NOT NULL,
	bind_name	TEXT NOT NULL,
	bind_vars	TEXT,
	create_index	BIGINT NOT NULL,
	modify_index	BIGINT NOT NULL
);
CREATE INDEX acl_binding_rule_by_method ON acl_binding_rule
    (lower(auth_method));
