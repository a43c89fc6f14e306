-- pg/004-oidc-pending.sql -- pending OIDC flows, shared by the nodes of
-- a cluster (issue #17): the state between POST /v1/acl/oidc/auth-url
-- on one node and POST /v1/acl/oidc/callback on any node.  SQLite (one
-- node) keeps them in shared memory instead (src/acl_login.c, issue
-- #12; sql/008-login-state-memory.sql says why).
--
-- UNLOGGED: a pending flow lives for the state TTL (600 s by default)
-- and a lost one costs a browser login a new start, so it is not worth
-- a WAL record and an fsync per auth-url call; PostgreSQL empties the
-- table after a crash (not after a clean restart), as a restart of a
-- SQLite node forgets its shared memory.  Nor is it replicated to a
-- standby: a failover forgets the flows in flight the same way.
--
-- The row count is bounded like the shared-memory table: the caps come
-- from acl_login.c as parameters (LS_PENDING in all,
-- LS_PENDING_PER_SOURCE per source), expired rows go at every insert,
-- and every column has the length bounds that acl_login.c checks
-- before it inserts, so the table holds at most ~16 MiB.
CREATE UNLOGGED TABLE acl_oidc_pending (
	-- hex SHA-256 of the state: the state itself is never stored, so
	-- a row read from the database cannot finish the flow
	state_key	TEXT COLLATE "C" PRIMARY KEY,
	source		BIGINT NOT NULL,	-- 64-bit hash of the source
	expires_at	BIGINT NOT NULL,	-- ns since the epoch
	auth_method	TEXT NOT NULL,
	nonce		TEXT NOT NULL,		-- the ID token's nonce
	redirect_uri	TEXT NOT NULL,
	client_nonce	TEXT NOT NULL,
	meta		TEXT NOT NULL		-- JSON or ''
);
CREATE INDEX acl_oidc_pending_source ON acl_oidc_pending (source);
CREATE INDEX acl_oidc_pending_expires ON acl_oidc_pending (expires_at);

-- Insert one pending flow within the caps, whatever other nodes insert
-- at the same time: the transaction-level advisory lock (key "oidc")
-- serializes the inserts of every node, and each statement below runs
-- under a snapshot taken after the lock was granted (READ COMMITTED, a
-- VOLATILE function), so the counts see every insert committed before.
-- One statement from the caller (autocommit): the lock is released at
-- its end, and no modify index moves.  Returns one row: outcome 0
-- inserted, 1 the source holds p_per_source flows (first_expiry: the
-- earliest of them to expire), 2 the table holds p_cap flows.
CREATE FUNCTION acl_oidc_pending_put(p_key TEXT, p_source BIGINT,
    p_now BIGINT, p_expires BIGINT, p_method TEXT, p_nonce TEXT,
    p_redirect_uri TEXT, p_client_nonce TEXT, p_meta TEXT,
    p_cap INTEGER, p_per_source INTEGER)
    RETURNS TABLE (outcome INTEGER, first_expiry BIGINT)
    LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	n	BIGINT;
	first	BIGINT;
BEGIN
	PERFORM pg_advisory_xact_lock(1869177955);
	DELETE FROM acl_oidc_pending WHERE expires_at <= p_now;
	SELECT count(*), min(expires_at) INTO n, first
	    FROM acl_oidc_pending WHERE source = p_source;
	IF n >= p_per_source THEN
		RETURN QUERY SELECT 1, first;
		RETURN;
	END IF;
	IF (SELECT count(*) FROM acl_oidc_pending) >= p_cap THEN
		RETURN QUERY SELECT 2, 0::BIGINT;
		RETURN;
	END IF;
	INSERT INTO acl_oidc_pending (state_key, source, expires_at,
	    auth_method, nonce, redirect_uri, client_nonce, meta)
	    VALUES (p_key, p_source, p_expires, p_method, p_nonce,
	    p_redirect_uri, p_client_nonce, p_meta);
	RETURN QUERY SELECT 0, 0::BIGINT;
END
$$;
