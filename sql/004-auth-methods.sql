-- 004-auth-methods.sql -- auth methods, binding rules, login (issue #5).
-- Applied once, in one transaction; recorded in PRAGMA user_version.
-- Names of auth methods compare case-insensitively, as Consul's
-- state store lower-cases them in its indexes; tokens and binding
-- rules refer to a method by its name.

-- Auth methods (acl.md §7).
CREATE TABLE acl_auth_method (
	name		TEXT NOT NULL,		-- Name as given
	name_key	TEXT PRIMARY KEY,	-- lower(Name): the identity
	type		TEXT NOT NULL,		-- Type: kubernetes, jwt, oidc
	display_name	TEXT NOT NULL DEFAULT '',	-- DisplayName
	description	TEXT NOT NULL DEFAULT '',	-- Description
	max_token_ttl	INTEGER NOT NULL DEFAULT 0,	-- MaxTokenTTL, ns (0: none)
	token_locality	TEXT NOT NULL DEFAULT '',	-- TokenLocality: '', local, global
	config		TEXT,			-- Config, JSON object as given, or NULL
	create_index	INTEGER NOT NULL,	-- CreateIndex
	modify_index	INTEGER NOT NULL	-- ModifyIndex
) WITHOUT ROWID;

-- Binding rules (acl.md §6).  Deleted with their auth method.
CREATE TABLE acl_binding_rule (
	id		TEXT PRIMARY KEY,	-- ID (UUID)
	description	TEXT NOT NULL DEFAULT '',	-- Description
	auth_method	TEXT NOT NULL,		-- AuthMethod (the method's Name)
	selector	TEXT NOT NULL DEFAULT '',	-- Selector (bexpr; '' matches all)
	bind_type	TEXT NOT NULL,		-- BindType: service, node, role, policy
	bind_name	TEXT NOT NULL,		-- BindName (HIL ${var} template)
	bind_vars	TEXT,			-- BindVars, JSON {"Name": ...}, or NULL
	create_index	INTEGER NOT NULL,	-- CreateIndex
	modify_index	INTEGER NOT NULL	-- ModifyIndex
);
CREATE INDEX acl_binding_rule_by_method ON acl_binding_rule
    (lower(auth_method));

-- Pending OIDC authorization-code flows, keyed by the state parameter.
-- Not Raft data in Consul (its servers keep them in memory); here they
-- live in the store so that the callback may reach any worker.  Rows
-- are single-use (deleted when looked up) and expire.
CREATE TABLE acl_oidc_state (
	state		TEXT PRIMARY KEY,	-- the state parameter (40 hex)
	auth_method	TEXT NOT NULL,		-- AuthMethod of the auth-url request
	nonce		TEXT NOT NULL,		-- nonce the ID token must carry
	redirect_uri	TEXT NOT NULL,		-- RedirectURI, replayed to the token endpoint
	client_nonce	TEXT NOT NULL DEFAULT '',	-- ClientNonce of the auth-url request
	meta		TEXT,			-- Meta of the auth-url request (JSON) or NULL
	expires_ns	INTEGER NOT NULL	-- ns since the epoch
) WITHOUT ROWID;

-- Failed-login counters for the login rate limit (beyond Consul), one
-- fixed window per key, shared by every worker.
CREATE TABLE acl_login_failure (
	key		TEXT PRIMARY KEY,	-- 'addr:<remote address>' or 'method:<lower(name)>'
	window_start	INTEGER NOT NULL,	-- ns since the epoch
	count		INTEGER NOT NULL	-- failures since window_start
) WITHOUT ROWID;

CREATE INDEX acl_token_by_auth_method ON acl_token (lower(auth_method))
    WHERE auth_method != '';

INSERT INTO table_index (name, idx) VALUES ('acl-binding-rules', 1),
    ('acl-auth-methods', 1)
    ON CONFLICT (name) DO NOTHING;
