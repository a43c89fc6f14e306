-- 005-leaf-cache.sql -- the agent leaf cache as a rowid table, and the
-- indexes the leaf purge needs (issue #3).
-- Applied once, in one transaction; recorded in PRAGMA user_version.
--
-- Why: 002 made ca_leaf_cache WITHOUT ROWID, so each row (certificate
-- chain and private key, ~1.3 KB) was a key of an index b-tree.  Rows
-- that large spill to overflow pages, and SQLite loads the whole key,
-- overflow included, at every comparison of a search: a cold lookup of
-- one service read ~20 pages, an upsert ~28 (counted with
-- SQLITE_DBSTATUS_CACHE_MISS under the leaf benchmark; every commit of
-- another worker empties a connection's page cache, so cold is the
-- normal case).  As a rowid table the row sits whole in a table leaf
-- and the search walks the small UNIQUE index on service.
CREATE TABLE ca_leaf_cache_new (
	service		TEXT NOT NULL UNIQUE,	-- :service of the leaf endpoint
	serial		INTEGER NOT NULL,	-- the cached leaf (a ca_leaf row)
	cert_pem	TEXT NOT NULL,		-- CertPEM: leaf + intermediates
	private_key_pem	TEXT NOT NULL,		-- PrivateKeyPEM (secret)
	signing_key_id	TEXT NOT NULL,		-- SigningKeyID of the root at issue time
	renew_at	INTEGER NOT NULL,	-- Unix seconds: 60-90 % into its life
	modify_index	INTEGER NOT NULL	-- Create/ModifyIndex of the reply
);
INSERT INTO ca_leaf_cache_new (service, serial, cert_pem, private_key_pem,
    signing_key_id, renew_at, modify_index)
    SELECT service, serial, cert_pem, private_key_pem, signing_key_id,
           renew_at, modify_index FROM ca_leaf_cache;
DROP TABLE ca_leaf_cache;
ALTER TABLE ca_leaf_cache_new RENAME TO ca_leaf_cache;

-- No foreign key to ca_leaf any more: the purge never deletes a cached
-- leaf (ca_leaf_expire skips them through the UNIQUE index on service),
-- and the key made SQLite scan the whole cache for every purged leaf,
-- or cost an index on serial written by every issuance.

-- The purge (ca_leaf_expire, every SERIAL_BLOCK issuances) finds leaves
-- by expiry instead of scanning every leaf ever kept.
CREATE INDEX ca_leaf_by_not_after ON ca_leaf (not_after);
