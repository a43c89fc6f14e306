-- 003-acl.sql -- the ACL system (issue #4): tokens, policies, roles.
-- Applied once, in one transaction; recorded in PRAGMA user_version.
-- Links and identities are stored as JSON text: they are read whole
-- into the per-worker ACL snapshot (acl.c), never queried piecewise.
-- The builtin policies and the anonymous token are inserted by the
-- master at start (acl_misc.c: acl_store_init), not here, so that
-- their CreateTime is the first start's clock.

-- Tokens.  Expired tokens stay until reaped (acl.c) but are never
-- resolved, read or listed.
CREATE TABLE acl_token (
	accessor_id	TEXT PRIMARY KEY,	-- AccessorID (UUID, public)
	secret_id	TEXT NOT NULL UNIQUE,	-- SecretID (UUID; 'anonymous' for the anonymous token)
	description	TEXT NOT NULL DEFAULT '',	-- Description
	policies	TEXT,			-- JSON array of linked policy IDs, or NULL
	roles		TEXT,			-- JSON array of linked role IDs, or NULL
	service_identities TEXT,		-- JSON array [{"ServiceName", "Datacenters"?}], or NULL
	node_identities	TEXT,			-- JSON array [{"NodeName", "Datacenter"}], or NULL
	local		INTEGER NOT NULL DEFAULT 0,	-- Local (1: this DC only)
	auth_method	TEXT NOT NULL DEFAULT '',	-- AuthMethod ('' unless created by login)
	expiration_time	TEXT,			-- ExpirationTime (RFC 3339 nano), NULL: never
	expiration_ns	INTEGER,		-- the same as ns since the epoch, for the reaper
	create_time	TEXT NOT NULL,		-- CreateTime (RFC 3339 nano)
	hash		TEXT NOT NULL,		-- Hash (base64 of SHA-256 over the content)
	create_index	INTEGER NOT NULL,	-- CreateIndex
	modify_index	INTEGER NOT NULL	-- ModifyIndex
);
CREATE INDEX acl_token_by_expiry ON acl_token (expiration_ns)
    WHERE expiration_ns IS NOT NULL;

-- Policies, the builtin ones included.
CREATE TABLE acl_policy (
	id		TEXT PRIMARY KEY,	-- ID (UUID; builtins 00000000-...-00000000000N)
	name		TEXT NOT NULL,		-- Name as given
	name_key	TEXT NOT NULL UNIQUE,	-- lower(Name): names are unique case-insensitively
	description	TEXT NOT NULL DEFAULT '',	-- Description
	rules		TEXT NOT NULL DEFAULT '',	-- Rules (HCL or JSON text, validated on write)
	datacenters	TEXT,			-- JSON array of DC names, NULL: all
	hash		TEXT NOT NULL,		-- Hash (base64 of SHA-256 over the content)
	create_index	INTEGER NOT NULL,	-- CreateIndex
	modify_index	INTEGER NOT NULL	-- ModifyIndex
);

-- Roles.
CREATE TABLE acl_role (
	id		TEXT PRIMARY KEY,	-- ID (UUID)
	name		TEXT NOT NULL,		-- Name as given
	name_key	TEXT NOT NULL UNIQUE,	-- lower(Name), for case-insensitive uniqueness
	description	TEXT NOT NULL DEFAULT '',	-- Description
	policies	TEXT,			-- JSON array of linked policy IDs, or NULL
	service_identities TEXT,		-- JSON array, as on tokens, or NULL
	node_identities	TEXT,			-- JSON array, as on tokens, or NULL
	hash		TEXT NOT NULL,		-- Hash (base64 of SHA-256 over the content)
	create_index	INTEGER NOT NULL,	-- CreateIndex
	modify_index	INTEGER NOT NULL	-- ModifyIndex
);

-- The bootstrap marker lives in meta: key 'acl_bootstrap_index' holds
-- the reset index (the modify index of the write that bootstrapped).
INSERT INTO table_index (name, idx) VALUES ('acl-tokens', 1),
    ('acl-policies', 1), ('acl-roles', 1)
    ON CONFLICT (name) DO NOTHING;
